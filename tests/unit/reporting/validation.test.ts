import { describe, expect, it } from 'vitest';
import { DEFAULT_LISTS, LIST_NAMES, type Lists } from '../../../server/settings/lists.js';
import { LIMITS, validateReport, type FormFields } from '../../../server/reporting/validation.js';
import { VALID_REPORT } from '../../helpers/reporter.js';

/** A fixed "now" so month checks do not depend on the day the tests run. */
const NOW = new Date('2026-06-15T12:00:00Z');

function buildLists(retired: Partial<Record<keyof Lists, string[]>> = {}): Lists {
  const lists = {} as Lists;
  for (const name of LIST_NAMES) {
    lists[name] = DEFAULT_LISTS[name].map((code) => ({
      code,
      labels: {},
      retired: retired[name]?.includes(code) ?? false,
    }));
  }
  return lists;
}

const LISTS = buildLists();

/** The helper's valid report as the multipart parser delivers it (every field a list). */
function form(changes: Record<string, string | string[] | undefined> = {}): FormFields {
  const out: FormFields = {};
  for (const [k, v] of Object.entries({ ...VALID_REPORT, ...changes })) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v : [v];
  }
  return out;
}

function errorsOf(f: FormFields, lists: Lists = LISTS, now: Date = NOW) {
  const r = validateReport(f, lists, now);
  if (r.ok) throw new Error('expected the report to be refused');
  return r.errors;
}

function valueOf(f: FormFields, lists: Lists = LISTS, now: Date = NOW) {
  const r = validateReport(f, lists, now);
  if (!r.ok) throw new Error(`expected the report to pass: ${JSON.stringify(r.errors)}`);
  return r.value;
}

describe('validateReport', () => {
  it('accepts the valid report and returns the cleaned input', () => {
    expect(valueOf(form())).toEqual({
      categories: ['threats', 'family'],
      narrative: 'A man who said he was from the association phoned my mother in Urumqi.',
      incidentFrom: '2026-03-01',
      incidentTo: null,
      ongoing: 'yes',
      region: 'london',
      targeted: 'me',
      community: 'uyghur',
      suspectedState: 'china',
      stateReason: 'He knew my asylum case number.',
      perpetrator: 'proxy',
      channels: ['phone', 'family'],
      links: ['https://example.org/post/1'],
      consent: 'talk_first',
      followUp: 'portal',
      contact: null,
      urgent: false,
    });
  });

  it('uses the current date when no "now" is given', () => {
    const r = validateReport(form({ from_month: '1', from_year: '2000' }), LISTS);
    expect(r.ok).toBe(true);
    const next = new Date();
    const future = validateReport(form({ from_month: '1', from_year: String(next.getUTCFullYear() + 1) }), LISTS);
    expect(future.ok).toBe(false);
  });

  it('trims values and drops duplicate and empty choices', () => {
    const v = valueOf(
      form({
        categories: [' threats ', 'threats', '', 'family'],
        narrative: '   Something happened.  \n',
        region: ' london ',
        channels: ['phone', 'phone', ' '],
      }),
    );
    expect(v.categories).toEqual(['threats', 'family']);
    expect(v.narrative).toBe('Something happened.');
    expect(v.region).toBe('london');
    expect(v.channels).toEqual(['phone']);
  });

  describe('categories', () => {
    it('requires at least one', () => {
      expect(errorsOf(form({ categories: undefined })).categories).toEqual({ key: 'choose_one' });
      expect(errorsOf(form({ categories: [] })).categories).toEqual({ key: 'choose_one' });
      expect(errorsOf(form({ categories: ['', ' '] })).categories).toEqual({ key: 'choose_one' });
    });

    it('refuses an unknown category', () => {
      expect(errorsOf(form({ categories: ['threats', 'aliens'] })).categories).toEqual({ key: 'invalid_choice' });
    });
  });

  describe('narrative', () => {
    it('is required', () => {
      expect(errorsOf(form({ narrative: undefined })).narrative).toEqual({ key: 'required' });
      expect(errorsOf(form({ narrative: '   \n\t ' })).narrative).toEqual({ key: 'required' });
    });

    it('may be exactly the limit but not longer', () => {
      expect(LIMITS.narrative).toBe(20_000);
      expect(valueOf(form({ narrative: 'a'.repeat(20_000) })).narrative.length).toBe(20_000);
      expect(errorsOf(form({ narrative: 'a'.repeat(20_001) })).narrative).toEqual({
        key: 'too_long',
        params: { max: 20_000 },
      });
    });

    it.each([
      ['a replacement character', 'bad \uFFFD bytes'],
      ['NUL', 'nul\u0000byte'],
      ['a bell', 'ring\u0007'],
      ['an escape', 'esc\u001b[31m'],
      ['DEL', 'del\u007f'],
      ['a vertical tab', 'a\u000bb'],
    ])('refuses text containing %s (invalid_text)', (_what, narrative) => {
      expect(errorsOf(form({ narrative })).narrative).toEqual({ key: 'invalid_text' });
    });

    it('keeps tabs, newlines and text in every script', () => {
      const narrative = 'Line one\r\n\tLine two\n他打电话给我母亲。\nئۇ ئانامغا تېلېفون قىلدى\nཁོང་གིས་ང་ཡི་ཨ་མར་ཁ་པར་བཏང་།';
      expect(valueOf(form({ narrative })).narrative).toBe(narrative);
    });
  });

  describe('incident months', () => {
    it('accepts a range and gives first-of-month dates', () => {
      const v = valueOf(form({ from_month: '11', from_year: '2025', to_month: '02', to_year: '2026' }));
      expect(v.incidentFrom).toBe('2025-11-01');
      expect(v.incidentTo).toBe('2026-02-01');
    });

    it('allows leaving the dates out', () => {
      const v = valueOf(form({ from_month: undefined, from_year: undefined }));
      expect(v.incidentFrom).toBeNull();
      expect(v.incidentTo).toBeNull();
    });

    it('accepts the current month', () => {
      expect(valueOf(form({ from_month: '6', from_year: '2026' })).incidentFrom).toBe('2026-06-01');
    });

    it('refuses a month without a year, and a year without a month', () => {
      expect(errorsOf(form({ from_month: '3', from_year: undefined })).from_month).toEqual({ key: 'invalid_date' });
      expect(errorsOf(form({ from_month: undefined, from_year: '2026' })).from_month).toEqual({ key: 'invalid_date' });
      expect(errorsOf(form({ to_month: '4', to_year: '' })).to_month).toEqual({ key: 'invalid_date' });
    });

    it.each([
      ['month 0', '0', '2026'],
      ['month 13', '13', '2026'],
      ['a word', 'March', '2026'],
      ['a two-digit year', '3', '26'],
      ['a year before 1950', '3', '1949'],
    ])('refuses %s', (_what, from_month, from_year) => {
      expect(errorsOf(form({ from_month, from_year })).from_month).toEqual({ key: 'invalid_date' });
    });

    it('refuses a future month', () => {
      expect(errorsOf(form({ from_month: '7', from_year: '2026' })).from_month).toEqual({ key: 'future_date' });
      expect(errorsOf(form({ from_month: '1', from_year: '2027' })).from_month).toEqual({ key: 'future_date' });
      expect(errorsOf(form({ to_month: '7', to_year: '2026' })).to_month).toEqual({ key: 'future_date' });
    });

    it('judges "future" in UTC', () => {
      // 23:30 on 31 May in New York is already June in UTC.
      const now = new Date('2026-06-01T03:30:00Z');
      expect(valueOf(form({ from_month: '6', from_year: '2026' }), LISTS, now).incidentFrom).toBe('2026-06-01');
      expect(errorsOf(form({ from_month: '6', from_year: '2026' }), LISTS, new Date('2026-05-31T23:59:59Z')).from_month).toEqual({
        key: 'future_date',
      });
    });

    it('refuses an end before the start', () => {
      expect(errorsOf(form({ from_month: '3', from_year: '2026', to_month: '2', to_year: '2026' })).to_month).toEqual({
        key: 'date_order',
      });
      expect(errorsOf(form({ from_month: '1', from_year: '2026', to_month: '12', to_year: '2025' })).to_month).toEqual({
        key: 'date_order',
      });
    });

    it('accepts the same month for start and end', () => {
      const v = valueOf(form({ from_month: '3', from_year: '2026', to_month: '03', to_year: '2026' }));
      expect(v.incidentTo).toBe('2026-03-01');
    });

    it('asks for a start when only an end is given', () => {
      expect(errorsOf(form({ from_month: undefined, from_year: undefined, to_month: '3', to_year: '2026' })).from_month).toEqual({ key: 'required' });
    });
  });

  describe('configurable lists', () => {
    it('refuses an unknown region', () => {
      expect(errorsOf(form({ region: 'atlantis' })).region).toEqual({ key: 'invalid_choice' });
    });

    it('requires a region', () => {
      expect(errorsOf(form({ region: undefined })).region).toEqual({ key: 'required' });
    });

    it('refuses a retired region, while other regions still pass', () => {
      const lists = buildLists({ region: ['london'] });
      expect(errorsOf(form({ region: 'london' }), lists).region).toEqual({ key: 'invalid_choice' });
      expect(valueOf(form({ region: 'wales' }), lists).region).toBe('wales');
    });

    it('accepts a region an administrator added', () => {
      const lists = buildLists();
      lists.region.push({ code: 'channel_islands', labels: { en: 'Channel Islands' }, retired: false });
      expect(valueOf(form({ region: 'channel_islands' }), lists).region).toBe('channel_islands');
      expect(errorsOf(form({ region: 'channel_islands' })).region).toEqual({ key: 'invalid_choice' });
    });

    it('refuses an unknown or retired community', () => {
      expect(errorsOf(form({ community: 'martians' })).community).toEqual({ key: 'invalid_choice' });
      expect(errorsOf(form({ community: 'uyghur' }), buildLists({ community: ['uyghur'] })).community).toEqual({
        key: 'invalid_choice',
      });
    });

    it('refuses an unknown suspected state', () => {
      expect(errorsOf(form({ suspected_state: 'narnia' })).suspected_state).toEqual({ key: 'invalid_choice' });
    });
  });

  describe('fixed choices', () => {
    it.each([
      ['targeted', 'everyone'],
      ['perpetrator', 'ghost'],
      ['ongoing', 'sometimes'],
      ['consent', 'whatever'],
      ['follow_up', 'carrier_pigeon'],
    ])('refuses an unknown %s', (field, value) => {
      expect(errorsOf(form({ [field]: value }))[field]).toEqual({ key: 'invalid_choice' });
    });

    it.each(['targeted', 'consent', 'follow_up'])('requires %s', (field) => {
      expect(errorsOf(form({ [field]: undefined }))[field]).toEqual({ key: 'required' });
    });

    it('refuses an unknown channel', () => {
      expect(errorsOf(form({ channels: ['phone', 'telepathy'] })).channels).toEqual({ key: 'invalid_choice' });
    });

    it('allows no channels', () => {
      expect(valueOf(form({ channels: undefined })).channels).toEqual([]);
    });

    it('limits the state reason', () => {
      expect(valueOf(form({ state_reason: undefined })).stateReason).toBe('');
      expect(errorsOf(form({ state_reason: 'x'.repeat(LIMITS.stateReason + 1) })).state_reason).toEqual({
        key: 'too_long',
        params: { max: LIMITS.stateReason },
      });
      expect(errorsOf(form({ state_reason: 'bad\u0000' })).state_reason).toEqual({ key: 'invalid_text' });
    });
  });

  describe('defaults', () => {
    it('fills suspected_state, perpetrator and ongoing when left blank', () => {
      const v = valueOf(form({ suspected_state: undefined, perpetrator: '', ongoing: undefined }));
      expect(v.suspectedState).toBe('not_sure');
      expect(v.perpetrator).toBe('unknown');
      expect(v.ongoing).toBe('not_sure');
    });

    it('refuses the suspected_state default when "not_sure" is retired', () => {
      const lists = buildLists({ state: ['not_sure'] });
      expect(errorsOf(form({ suspected_state: undefined }), lists).suspected_state).toEqual({ key: 'invalid_choice' });
    });
  });

  describe('contact', () => {
    const contact = { follow_up: 'contact', contact_method: 'email', contact_value: 'me@example.org' };

    it('keeps the contact details when asked to be contacted', () => {
      const v = valueOf(form({ ...contact, contact_language: 'ug' }));
      expect(v.followUp).toBe('contact');
      expect(v.contact).toEqual({ method: 'email', value: 'me@example.org', language: 'ug' });
    });

    it('defaults the contact language to English', () => {
      expect(valueOf(form(contact)).contact?.language).toBe('en');
    });

    it('drops contact details when follow-up is through the portal', () => {
      expect(valueOf(form({ ...contact, follow_up: 'portal' })).contact).toBeNull();
    });

    it('requires a value', () => {
      expect(errorsOf(form({ ...contact, contact_value: undefined })).contact_value).toEqual({ key: 'contact_required' });
      expect(errorsOf(form({ ...contact, contact_value: '   ' })).contact_value).toEqual({ key: 'contact_required' });
    });

    it('requires a known method', () => {
      expect(errorsOf(form({ ...contact, contact_method: undefined })).contact_method).toEqual({ key: 'required' });
      expect(errorsOf(form({ ...contact, contact_method: 'fax' })).contact_method).toEqual({ key: 'invalid_choice' });
    });

    it('refuses an unknown contact language', () => {
      expect(errorsOf(form({ ...contact, contact_language: 'fr' })).contact_language).toEqual({ key: 'invalid_choice' });
    });

    it.each(['not-an-email', 'me@example', '@example.org', 'me@', 'two words@example.org', 'a@b@c'])('refuses the email %s', (value) => {
      expect(errorsOf(form({ ...contact, contact_value: value })).contact_value).toEqual({ key: 'invalid_email' });
    });

    it.each(['+44 20 7946 0000', '020 7946 0000', '(020) 7946-0000', '+86.10.1234.5678'])('accepts the phone %s', (value) => {
      expect(valueOf(form({ ...contact, contact_method: 'phone', contact_value: value })).contact?.value).toBe(value);
    });

    it.each(['12345', 'call me', '+44 20 7946 000x', '1'.repeat(26), '++4420794600'])('refuses the phone %s', (value) => {
      expect(errorsOf(form({ ...contact, contact_method: 'phone', contact_value: value })).contact_value).toEqual({
        key: 'invalid_phone',
      });
    });

    it('accepts a Signal username', () => {
      expect(valueOf(form({ ...contact, contact_method: 'signal', contact_value: 'harbour.01' })).contact?.method).toBe('signal');
    });

    it('limits the length and refuses control characters', () => {
      const long = 'a'.repeat(LIMITS.contact) + '@example.org';
      expect(errorsOf(form({ ...contact, contact_method: 'signal', contact_value: long })).contact_value).toEqual({
        key: 'too_long',
        params: { max: LIMITS.contact },
      });
      expect(errorsOf(form({ ...contact, contact_value: 'me\u0000@example.org' })).contact_value).toEqual({
        key: 'invalid_text',
      });
    });
  });

  describe('links', () => {
    it('accepts one http(s) link per line, skipping blank lines', () => {
      const v = valueOf(form({ links: 'https://example.org/a\r\n\n  http://example.net/b  \n' }));
      expect(v.links).toEqual(['https://example.org/a', 'http://example.net/b']);
    });

    it('allows no links', () => {
      expect(valueOf(form({ links: undefined })).links).toEqual([]);
      expect(valueOf(form({ links: '  \n ' })).links).toEqual([]);
    });

    it.each([
      ['an ftp link', 'ftp://example.org/file'],
      ['not a URL', 'just some words'],
      ['a javascript: link', 'javascript:alert(1)'],
      ['a data: link', 'data:text/html,<script>alert(1)</script>'],
      ['a bad line among good ones', 'https://example.org/a\nexample.org/b'],
    ])('refuses %s', (_what, links) => {
      expect(errorsOf(form({ links })).links).toEqual({ key: 'invalid_link' });
    });

    it('allows 20 links but not 21', () => {
      const many = (n: number) => Array.from({ length: n }, (_, i) => `https://example.org/${i}`).join('\n');
      expect(valueOf(form({ links: many(20) })).links.length).toBe(20);
      expect(errorsOf(form({ links: many(21) })).links).toEqual({ key: 'too_many_links', params: { max: 20 } });
    });

    it('refuses a link that is too long or has control characters', () => {
      expect(errorsOf(form({ links: 'https://example.org/' + 'a'.repeat(LIMITS.link) })).links).toEqual({
        key: 'too_long',
        params: { max: LIMITS.link },
      });
      expect(errorsOf(form({ links: 'https://example.org/\u0000' })).links).toEqual({ key: 'invalid_text' });
    });
  });

  describe('urgency', () => {
    it('marks the report urgent when the reporter is in danger now', () => {
      expect(valueOf(form({ danger_now: 'yes' })).urgent).toBe(true);
    });

    it.each([undefined, 'no', 'not_sure', 'YES', ''])('does not mark it urgent for danger_now=%s', (danger_now) => {
      expect(valueOf(form({ danger_now })).urgent).toBe(false);
    });
  });

  it('reports one error per field, for every bad field at once', () => {
    const errors = errorsOf(form({ categories: undefined, narrative: '', region: 'atlantis', links: 'ftp://x', follow_up: undefined }));
    expect(Object.keys(errors).sort()).toEqual(['categories', 'follow_up', 'links', 'narrative', 'region']);
  });
});
