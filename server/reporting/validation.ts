import { activeCodes, type Lists } from '../settings/lists.js';
import type { FormFields } from '../web/multipart.js';
import { CATEGORIES, CHANNELS, CONSENT, CONTACT_METHODS, FOLLOW_UP, ONGOING, PERPETRATORS, TARGETED } from './taxonomy.js';

export type { FormFields };
export type FieldError = { key: string; params?: Record<string, number | string> };
export type FieldErrors = Record<string, FieldError>;

export type ReportInput = {
  categories: string[];
  narrative: string;
  incidentFrom: string | null;
  incidentTo: string | null;
  ongoing: string;
  region: string;
  targeted: string;
  community: string;
  suspectedState: string;
  stateReason: string;
  perpetrator: string;
  channels: string[];
  links: string[];
  consent: string;
  followUp: string;
  contact: { method: string; value: string; language: string } | null;
  urgent: boolean;
};

export const LIMITS = {
  narrative: 20_000,
  stateReason: 5_000,
  link: 2_000,
  links: 20,
  contact: 200,
  message: 10_000,
} as const;

export const CONTACT_LANGUAGES = ['en', 'zh-hans', 'zh-hant', 'ug', 'bo', 'other'] as const;

const first = (f: FormFields, name: string) => (f[name]?.[0] ?? '').trim();
const all = (f: FormFields, name: string) => (f[name] ?? []).map((v) => v.trim()).filter(Boolean);

/**
 * Text a browser could not encode, or that was not valid UTF-8, arrives
 * with U+FFFD replacement characters; NUL and other C0 controls have no
 * place in a report. Both are refused rather than silently altered.
 */
export function textProblem(value: string): FieldError | null {
  // eslint-disable-next-line no-control-regex
  if (value.includes('\uFFFD') || /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/.test(value)) {
    return { key: 'invalid_text' };
  }
  return null;
}

export function checkText(value: string, max: number, required: boolean): FieldError | null {
  if (!value) return required ? { key: 'required' } : null;
  return textProblem(value) ?? (value.length > max ? { key: 'too_long', params: { max } } : null);
}

function oneOf(value: string, allowed: readonly string[], required: boolean): FieldError | null {
  if (!value) return required ? { key: 'required' } : null;
  return allowed.includes(value) ? null : { key: 'invalid_choice' };
}

function monthOf(f: FormFields, prefix: string, now: Date): { value: string | null; error: FieldError | null } {
  const m = first(f, `${prefix}_month`);
  const y = first(f, `${prefix}_year`);
  if (!m && !y) return { value: null, error: null };
  if (!/^\d{1,2}$/.test(m) || !/^\d{4}$/.test(y)) return { value: null, error: { key: 'invalid_date' } };
  const month = Number(m);
  const year = Number(y);
  if (month < 1 || month > 12 || year < 1950) return { value: null, error: { key: 'invalid_date' } };
  if (year > now.getUTCFullYear() || (year === now.getUTCFullYear() && month > now.getUTCMonth() + 1)) {
    return { value: null, error: { key: 'future_date' } };
  }
  return { value: `${year}-${String(month).padStart(2, '0')}-01`, error: null };
}

function parseLinks(raw: string): { links: string[]; error: FieldError | null } {
  const lines = raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length > LIMITS.links) return { links: [], error: { key: 'too_many_links', params: { max: LIMITS.links } } };
  for (const line of lines) {
    const problem = textProblem(line);
    if (problem) return { links: [], error: problem };
    if (line.length > LIMITS.link) return { links: [], error: { key: 'too_long', params: { max: LIMITS.link } } };
    let url: URL;
    try {
      url = new URL(line);
    } catch {
      return { links: [], error: { key: 'invalid_link' } };
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return { links: [], error: { key: 'invalid_link' } };
  }
  return { links: lines, error: null };
}

function contactProblem(method: string, value: string): FieldError | null {
  if (!value) return { key: 'contact_required' };
  const text = checkText(value, LIMITS.contact, true);
  if (text) return text;
  if (method === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) return { key: 'invalid_email' };
  if (method === 'phone' && !/^\+?[0-9 ()\-.]{6,25}$/.test(value)) return { key: 'invalid_phone' };
  return null;
}

/** Validates the report form; returns the cleaned input or one message per field. */
export function validateReport(f: FormFields, lists: Lists, now = new Date()): { ok: true; value: ReportInput } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const set = (field: string, e: FieldError | null) => {
    if (e && !errors[field]) errors[field] = e;
  };

  const categories = [...new Set(all(f, 'categories'))];
  if (categories.length === 0) set('categories', { key: 'choose_one' });
  else if (categories.some((c) => !(CATEGORIES as readonly string[]).includes(c))) set('categories', { key: 'invalid_choice' });

  const narrative = (f['narrative']?.[0] ?? '').trim();
  set('narrative', checkText(narrative, LIMITS.narrative, true));

  const from = monthOf(f, 'from', now);
  const to = monthOf(f, 'to', now);
  set('from_month', from.error);
  set('to_month', to.error);
  if (to.value && !from.value && !from.error) set('from_month', { key: 'required' });
  if (from.value && to.value && to.value < from.value) set('to_month', { key: 'date_order' });

  const ongoing = first(f, 'ongoing') || 'not_sure';
  set('ongoing', oneOf(ongoing, ONGOING, true));

  const region = first(f, 'region');
  set('region', oneOf(region, activeCodes(lists, 'region'), true));
  const targeted = first(f, 'targeted');
  set('targeted', oneOf(targeted, TARGETED, true));
  const community = first(f, 'community');
  set('community', oneOf(community, activeCodes(lists, 'community'), true));
  const suspectedState = first(f, 'suspected_state') || 'not_sure';
  set('suspected_state', oneOf(suspectedState, activeCodes(lists, 'state'), true));
  const stateReason = (f['state_reason']?.[0] ?? '').trim();
  set('state_reason', checkText(stateReason, LIMITS.stateReason, false));
  const perpetrator = first(f, 'perpetrator') || 'unknown';
  set('perpetrator', oneOf(perpetrator, PERPETRATORS, true));

  const channels = [...new Set(all(f, 'channels'))];
  if (channels.some((c) => !(CHANNELS as readonly string[]).includes(c))) set('channels', { key: 'invalid_choice' });

  const links = parseLinks(f['links']?.[0] ?? '');
  set('links', links.error);

  const consent = first(f, 'consent');
  set('consent', oneOf(consent, CONSENT, true));

  const followUp = first(f, 'follow_up');
  set('follow_up', oneOf(followUp, FOLLOW_UP, true));
  let contact: ReportInput['contact'] = null;
  if (followUp === 'contact') {
    const method = first(f, 'contact_method');
    const value = first(f, 'contact_value');
    const language = first(f, 'contact_language') || 'en';
    set('contact_method', oneOf(method, CONTACT_METHODS, true));
    if (!errors['contact_method']) set('contact_value', contactProblem(method, value));
    set('contact_language', oneOf(language, CONTACT_LANGUAGES, true));
    contact = { method, value, language };
  }

  const urgent = first(f, 'danger_now') === 'yes';

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      categories,
      narrative,
      incidentFrom: from.value,
      incidentTo: to.value,
      ongoing,
      region,
      targeted,
      community,
      suspectedState,
      stateReason,
      perpetrator,
      channels,
      links: links.links,
      consent,
      followUp,
      contact,
      urgent,
    },
  };
}
