import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAIL_ERROR_CLASSES } from '../../server/alerts/status.js';
import type { MailOutboxTable } from '../../server/db/schema.js';
import { loadSettings } from '../../server/settings/settings.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { TEST_MAIL, withMail } from '../helpers/mail-on.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

/**
 * The Alerts section of /admin/settings (issue 11): on or off, what to set,
 * how delivery is going in plain words, and which kinds of alert are
 * allowed at all (its own form; "none" is a choice; the other settings form
 * never touches it). Administrators only; every change audited.
 */
let t: TestApp;
let admin: TestStaff;

// The outbox and the settings are the installation's: each test has an installation of its own.
beforeEach(async () => {
  t = await createTestApp();
  admin = await addStaff(t, { roles: ['admin'] });
});
afterEach(async () => {
  await t.close();
});

type Agent = Awaited<ReturnType<typeof signInStaff>>;

async function post(agent: Agent, path: string, form: Record<string, string | string[]> | string) {
  const token = await staffCsrf(agent, '/admin/settings');
  const req = agent.post(path).redirects(0).type('form');
  return typeof form === 'string' ? req.send(`_csrf=${encodeURIComponent(token)}&${form}`) : req.send({ _csrf: token, ...form });
}

/** Test-only SQL: an outbox row as the worker leaves it (waiting, retrying, given up or sent), for the status to report. */
async function outboxRow(fields: Partial<{ [K in keyof MailOutboxTable]: unknown }>) {
  await t.testDb.db
    .insertInto('mail_outbox')
    .values({
      id: randomUUID(),
      user_id: admin.id,
      kind: 'digest',
      // Far in the future: nothing would pick it up even if a worker ran.
      due_at: new Date(Date.now() + 365 * 86_400_000),
      ...fields,
    } as never)
    .execute();
}

/** The Alerts section of the settings page, from its heading to the lists below it. */
function alertsSection(html: string): string {
  const start = html.indexOf('id="alerts"');
  const end = html.indexOf('</section>', html.indexOf('action="/admin/settings/alerts"'));
  expect(start, 'the alerts section').toBeGreaterThan(-1);
  expect(end).toBeGreaterThan(start);
  return html.slice(start, end);
}

const storedKinds = async () =>
  (await t.testDb.db.selectFrom('settings').select('value').where('key', '=', 'alert_kinds').executeTakeFirst())?.value ?? null;

const kindAudits = async () =>
  (
    await t.testDb.db.selectFrom('audit_log').select(['actor_id', 'details']).where('action', '=', 'settings.changed').orderBy('seq').execute()
  ).filter((e) => e.details['setting'] === 'alert_kinds');

const checked = (html: string, kind: string) => new RegExp(`id="alert_kinds-${kind}"[^>]*\\schecked`).test(html);
const ALL = ['new_report', 'urgent_report', 'case_activity', 'case_overdue', 'digest'];

describe('alerts on the settings page', () => {
  it('says alerts are off, and what to set to turn them on', async () => {
    const agent = await signInStaff(t, admin);
    const page = await agent.get('/admin/settings');
    expect(page.status).toBe(200);
    const section = alertsSection(page.text);
    expect(section).toContain('E-mail alerts are off.');
    for (const name of ['SMTP_URL', 'MAIL_FROM', 'SMTP_PASSWORD_FILE', 'docs/operations.md']) expect(section, name).toContain(name);
    expect(section).not.toContain('Delivery');
    for (const kind of ALL) expect(checked(section, kind), kind).toBe(true);
    // An unticked box sends nothing: the empty field before the boxes is what makes "none" a choice.
    expect(section.indexOf('<input type="hidden" name="alert_kinds" value="">')).toBeGreaterThan(-1);
    expect(section.indexOf('<input type="hidden" name="alert_kinds" value="">')).toBeLessThan(section.indexOf('type="checkbox" name="alert_kinds"'));
  });

  it('says alerts are on, through which server and from whom (no user name), with the delivery status', async () => {
    const on = await withMail(t);
    const agent = await signInStaff(on, admin);
    const empty = alertsSection((await agent.get('/admin/settings')).text);
    expect(empty).toContain('E-mail alerts are on.');
    expect(empty).toContain('smtp://mail.example.org:587');
    expect(empty).toContain('harbour@example.org');
    expect(empty).not.toContain('harbour@mail.example.org');
    expect(empty).toContain('0 alerts waiting to be sent.');
    expect(empty).toContain('No alert has been sent yet.');
    expect(empty).not.toContain('The last delivery failed');

    await outboxRow({ state: 'pending' });
    await outboxRow({ state: 'sending', kind: 'new_report' }); // one waiting row per person and kind
    await outboxRow({ state: 'sent', sent_at: new Date('2026-07-01T13:05:00Z'), due_at: new Date('2026-07-01T13:00:00Z') });
    const busy = alertsSection((await agent.get('/admin/settings')).text);
    expect(busy).toContain('2 alerts waiting to be sent.');
    expect(busy).toContain('Last alert sent: <time datetime="2026-07-01T13:05:00.000Z">1 Jul 2026, 14:05</time>');
  });

  it('warns when mail leaves unencrypted (SMTP_TLS=off)', async () => {
    const on = await withMail(t, { ...TEST_MAIL, tls: false });
    const section = alertsSection((await (await signInStaff(on, admin)).get('/admin/settings')).text);
    expect(section).toContain('SMTP_TLS=off');
  });

  const MESSAGES: Record<(typeof MAIL_ERROR_CLASSES)[number], string> = {
    dns: 'The mail server’s name could not be found: check SMTP_URL.',
    tls: 'A secure connection to the mail server could not be made',
    auth: 'The user name or password was refused: check SMTP_URL and SMTP_PASSWORD_FILE.',
    refused: 'The mail server refused the message: check MAIL_FROM',
    timeout: 'The mail server did not answer in time',
    connection: 'The mail server could not be reached',
    encryption: 'An alert could not be encrypted to a staff member’s OpenPGP key',
    other: 'An unexpected error: the log says more.',
  };

  for (const error of MAIL_ERROR_CLASSES) {
    it(`explains a failure of class ${error} in plain words, and whether it is retried or given up`, async () => {
      const agent = await signInStaff(await withMail(t), admin);
      await outboxRow({ state: 'pending', last_error: error, attempts: 2 });
      const retrying = alertsSection((await agent.get('/admin/settings')).text);
      expect(retrying).toContain('The last delivery failed.');
      expect(retrying).toContain(MESSAGES[error]);
      expect(retrying).toContain('Harbour keeps trying');
      expect(retrying).not.toContain('gave up');

      await t.testDb.db.updateTable('mail_outbox').set({ state: 'failed' }).execute();
      const given = alertsSection((await agent.get('/admin/settings')).text);
      expect(given).toContain(MESSAGES[error]);
      expect(given).toContain('Harbour gave up on that alert after repeated attempts.');
    });
  }

  it('shows an unknown failure as "other", never the text stored with it', async () => {
    const agent = await signInStaff(t, admin); // alerts since turned off: the failure is still shown
    await outboxRow({ state: 'failed', last_error: '550 <secret@example.org> mailbox unavailable' });
    const section = alertsSection((await agent.get('/admin/settings')).text);
    expect(section).toContain(MESSAGES.other);
    expect(section).not.toContain('secret@example.org');
    expect(section).not.toContain('mailbox unavailable'); // the server's answer (a bare '550' can occur in the CSRF token)
  });
});

describe('allowed alert kinds', () => {
  it('saves the ticked kinds, shows them back with a confirmation in the section, and audits the change', async () => {
    const agent = await signInStaff(t, admin);
    const res = await post(agent, '/admin/settings/alerts', { alert_kinds: ['', 'digest', 'new_report'] });
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe('/admin/settings?notice=alerts_saved#alerts-notice');
    expect(await storedKinds()).toEqual(['new_report', 'digest']);
    expect((await loadSettings(t.testDb.db, t.config)).alertKinds).toEqual(['new_report', 'digest']);

    const page = await agent.get(res.headers['location']!);
    const section = alertsSection(page.text);
    expect(section).toMatch(/id="alerts-notice" role="status" tabindex="-1" autofocus>Alert settings saved\./);
    expect(page.text.match(/autofocus/g)).toHaveLength(1);
    expect(page.text.slice(0, page.text.indexOf('id="alerts"'))).not.toContain('notice--success'); // not at the top
    expect(ALL.filter((k) => checked(section, k))).toEqual(['new_report', 'digest']);
    expect(await kindAudits()).toEqual([{ actor_id: admin.id, details: { setting: 'alert_kinds', from: ALL.join(','), to: 'new_report,digest' } }]);

    const again = await post(agent, '/admin/settings/alerts', { alert_kinds: ['', 'new_report', 'digest'] });
    expect(again.headers['location']).toBe('/admin/settings?notice=alerts_unchanged#alerts-notice');
    expect(await kindAudits()).toHaveLength(1);
  });

  it('saves "none allowed" (every box unticked: only the hidden field is sent), and staff see every kind as not available', async () => {
    const agent = await signInStaff(t, admin);
    const res = await post(agent, '/admin/settings/alerts', { alert_kinds: '' });
    expect(res.status).toBe(303);
    expect(await storedKinds()).toEqual([]);
    expect((await loadSettings(t.testDb.db, t.config)).alertKinds).toEqual([]);
    const section = alertsSection((await agent.get('/admin/settings')).text);
    expect(ALL.filter((k) => checked(section, k))).toEqual([]);
    expect(await kindAudits()).toEqual([{ actor_id: admin.id, details: { setting: 'alert_kinds', from: ALL.join(','), to: '' } }]);

    const account = (await agent.get('/staff/account')).text;
    expect(account.match(/not available \(turned off by an administrator\)/g)).toHaveLength(5);
  });

  it('is not changed by the other settings form, nor by a post without the field', async () => {
    const agent = await signInStaff(t, admin);
    await post(agent, '/admin/settings/alerts', { alert_kinds: ['', 'urgent_report'] });
    const other = await post(agent, '/admin/settings', { org_name: 'Harbour North', alert_kinds: '' });
    expect(other.headers['location']).toBe('/admin/settings?notice=saved');
    expect(await storedKinds()).toEqual(['urgent_report']);
    const bare = await post(agent, '/admin/settings/alerts', {});
    expect(bare.status).toBe(303);
    expect(bare.headers['location']).toBe('/admin/settings?notice=alerts_unchanged#alerts-notice');
    expect(await storedKinds()).toEqual(['urgent_report']);
    expect(await kindAudits()).toHaveLength(1);
  });

  const REFUSED: [string, { alert_kinds: string[] } | string][] = [
    ['an unknown kind', { alert_kinds: ['', 'new_report', 'everything'] }],
    ['a prototype name', 'alert_kinds=&alert_kinds=__proto__'],
    ['constructor', 'alert_kinds=constructor'],
    ['the outbox-only batch kind', { alert_kinds: ['', 'batch'] }],
  ];

  for (const [name, form] of REFUSED) {
    it(`refuses ${name} (422, its message in the section, the ticks kept, nothing stored)`, async () => {
      const agent = await signInStaff(t, admin);
      const res = await post(agent, '/admin/settings/alerts', form);
      expect(res.status).toBe(422);
      const section = alertsSection(res.text);
      expect(section).toContain('id="alert_kinds-error"');
      expect(section).toContain('Choose only alert kinds from the list.');
      expect(section).toMatch(/class="error-summary" role="alert"[^>]*autofocus/);
      if (typeof form !== 'string') expect(checked(section, 'new_report')).toBe(form.alert_kinds.includes('new_report'));
      expect(checked(section, 'digest')).toBe(false);
      expect(await storedKinds()).toBeNull();
      expect(await kindAudits()).toEqual([]);
    });
  }

  it('is for administrators only (a caseworker gets 403), and refused without the CSRF token', async () => {
    const caseworker = await addStaff(t, { roles: ['caseworker'] });
    const cw = await signInStaff(t, caseworker);
    const token = await staffCsrf(cw, '/staff/account');
    const res = await cw.post('/admin/settings/alerts').redirects(0).type('form').send({ _csrf: token, alert_kinds: '' });
    expect(res.status).toBe(403);

    const agent = await signInStaff(t, admin);
    await agent.get('/admin/settings');
    const noToken = await agent.post('/admin/settings/alerts').redirects(0).type('form').send({ alert_kinds: '' });
    expect(noToken.status).toBe(403);
    expect(await storedKinds()).toBeNull();
  });
});
