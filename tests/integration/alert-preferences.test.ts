import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTestKeyPair } from '../../server/crypto/openpgp.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { withMail } from '../helpers/mail-on.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

/**
 * /staff/account's e-mail alerts (issue 11): when alerts are sent, and an
 * optional OpenPGP key they are encrypted to. Choices are stored and shown
 * back; every refused value is a 422 with its message in the alerts section
 * and nothing stored; keys are checked, stored re-armoured, shown by
 * fingerprint, removable; every change is audited without key material.
 */
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
  await addStaff(t, { roles: ['admin'], name: 'Ada Admin' }); // whom the page says to ask
});
afterAll(async () => {
  await t.close();
});

type Agent = Awaited<ReturnType<typeof signInStaff>>;

/** A new caseworker, signed in: each test has its own account, so they pass in any order. */
async function caseworker(app: TestApp = t): Promise<{ staff: TestStaff; agent: Agent }> {
  const staff = await addStaff(app, { roles: ['caseworker'] });
  return { staff, agent: await signInStaff(app, staff) };
}

async function post(agent: Agent, path: string, form: Record<string, string | string[]> | string) {
  const token = await staffCsrf(agent, '/staff/account');
  const req = agent.post(path).redirects(0).type('form');
  return typeof form === 'string' ? req.send(`_csrf=${encodeURIComponent(token)}&${form}`) : req.send({ _csrf: token, ...form });
}

const choicesOf = (id: string) =>
  t.testDb.db
    .selectFrom('users')
    .select(['alert_urgent', 'alert_others', 'alert_batch_minutes', 'alert_pgp_key', 'alert_pgp_fingerprint'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();

const auditOf = (id: string) =>
  t.testDb.db
    .selectFrom('audit_log')
    .select(['action', 'actor_id', 'subject_user_id', 'details'])
    .where('subject_user_id', '=', id)
    .where('action', 'like', 'staff.alert%')
    .orderBy('seq')
    .execute();

/** The alerts section of the page, from its heading to the password form: where its notices and messages must be. */
function alertsSection(html: string): string {
  const start = html.indexOf('id="alerts"');
  const end = html.indexOf('action="/staff/account/password"');
  expect(start, 'the alerts section').toBeGreaterThan(-1);
  expect(end).toBeGreaterThan(start);
  return html.slice(start, end);
}

const checked = (html: string, id: string) => new RegExp(`id="${id}"[^>]*\\schecked`).test(html);

const SAFE = { alert_urgent: 'now', alert_others: 'digest', alert_batch_minutes: '60' };

describe('alert timing', () => {
  it('shows the safe defaults: urgent at once, everything else in the daily digest, to the sign-in address', async () => {
    const { staff, agent } = await caseworker();
    const page = await agent.get('/staff/account');
    expect(page.status).toBe(200);
    const section = alertsSection(page.text);
    expect(section).toContain('E-mail alerts');
    expect(checked(section, 'alert_urgent-now')).toBe(true);
    expect(checked(section, 'alert_urgent-with_others')).toBe(false);
    expect(checked(section, 'alert_others-digest')).toBe(true);
    expect(section).toMatch(/id="alert_batch_minutes" name="alert_batch_minutes" value="60"/);
    expect(section).toContain(staff.email);
    // What an alert says, and why the digest's arrival says nothing.
    expect(section).toContain('Test Community Aid');
    expect(section).toContain('It never says anything about a case');
    expect(section).toContain('even on a day when nothing happened');
  });

  it('says when alerts are off on this installation and whom to ask, and still saves choices', async () => {
    const { staff, agent } = await caseworker();
    const section = alertsSection((await agent.get('/staff/account')).text);
    expect(section).toContain('E-mail alerts are off on this installation');
    expect(section).toContain('Ada Admin');
    expect(section).not.toContain('the Alerts section of Settings'); // that pointer is for administrators
    const res = await post(agent, '/staff/account/alerts', { alert_urgent: 'with_others', alert_others: 'now', alert_batch_minutes: '60' });
    expect(res.status).toBe(303);
    expect(await choicesOf(staff.id)).toMatchObject({ alert_urgent: 'with_others', alert_others: 'now' });
  });

  it('says when alerts are on, with the digest hour, to an administrator as well as a caseworker', async () => {
    const on = await withMail(t);
    for (const roles of [['admin'], ['caseworker']] as const) {
      const staff = await addStaff(on, { roles: [...roles] });
      const agent = await signInStaff(on, staff);
      const section = alertsSection((await agent.get('/staff/account')).text);
      expect(section, roles[0]).toContain(`Alerts are sent to your sign-in address, ${staff.email}.`);
      expect(section).toContain('at about 07:00 UK time');
      expect(section).not.toContain('are off on this installation');
    }
  });

  it('stores the choices, shows them back with a confirmation in the section (focus moved there), and audits them', async () => {
    const { staff, agent } = await caseworker();
    const res = await post(agent, '/staff/account/alerts', { alert_urgent: 'with_others', alert_others: 'batched', alert_batch_minutes: ' 15 ' });
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe('/staff/account?notice=alerts_saved#alerts-notice');
    expect(await choicesOf(staff.id)).toMatchObject({ alert_urgent: 'with_others', alert_others: 'batched', alert_batch_minutes: 15 });

    const page = await agent.get(res.headers['location']!);
    const section = alertsSection(page.text);
    expect(section).toMatch(/<p class="notice notice--success" id="alerts-notice" role="status" tabindex="-1" autofocus>Alert choices saved.<\/p>/);
    expect(page.text.match(/autofocus/g)).toHaveLength(1);
    expect(checked(section, 'alert_urgent-with_others')).toBe(true);
    expect(checked(section, 'alert_others-batched')).toBe(true);
    expect(section).toContain('name="alert_batch_minutes" value="15"');

    const entries = await auditOf(staff.id);
    expect(entries).toEqual([
      {
        action: 'staff.alert_preferences_changed',
        actor_id: staff.id,
        subject_user_id: staff.id,
        details: { urgent: 'with_others', others: 'batched', batch_minutes: 15 },
      },
    ]);

    // The same choices again: nothing changes, nothing is audited.
    const again = await post(agent, '/staff/account/alerts', { alert_urgent: 'with_others', alert_others: 'batched', alert_batch_minutes: '15' });
    expect(again.headers['location']).toBe('/staff/account?notice=alerts_unchanged#alerts-notice');
    expect(await auditOf(staff.id)).toHaveLength(1);
  });

  it('keeps the stored interval when it is left empty with a choice that does not batch', async () => {
    const { staff, agent } = await caseworker();
    await post(agent, '/staff/account/alerts', { alert_urgent: 'now', alert_others: 'batched', alert_batch_minutes: '30' });
    const res = await post(agent, '/staff/account/alerts', { alert_urgent: 'now', alert_others: 'now', alert_batch_minutes: '' });
    expect(res.status).toBe(303);
    expect(await choicesOf(staff.id)).toMatchObject({ alert_others: 'now', alert_batch_minutes: 30 });
  });

  const REFUSED: [string, Record<string, string | string[]> | string, string, string][] = [
    ['an unknown urgent choice', { ...SAFE, alert_urgent: 'soon' }, 'alert_urgent', 'Choose when urgent reports are sent to you.'],
    ['an unknown other choice', { ...SAFE, alert_others: 'weekly' }, 'alert_others', 'Choose when your other alerts are sent.'],
    ['a prototype name as a choice', { ...SAFE, alert_urgent: '__proto__' }, 'alert_urgent', 'Choose when urgent reports are sent to you.'],
    ['constructor as a choice', { ...SAFE, alert_others: 'constructor' }, 'alert_others', 'Choose when your other alerts are sent.'],
    ['no urgent choice', { alert_others: 'digest', alert_batch_minutes: '60' }, 'alert_urgent', 'Choose when urgent reports are sent to you.'],
    [
      'two urgent choices',
      'alert_urgent=now&alert_urgent=with_others&alert_others=digest&alert_batch_minutes=60',
      'alert_urgent',
      'Choose when urgent',
    ],
    ['two other choices', 'alert_urgent=now&alert_others=now&alert_others=digest&alert_batch_minutes=60', 'alert_others', 'Choose when your other'],
    ['only prototype-named fields', '__proto__=now&constructor=digest&toString=5', 'alert_urgent', 'Choose when urgent reports are sent to you.'],
    ['too few minutes', { ...SAFE, alert_others: 'batched', alert_batch_minutes: '4' }, 'alert_batch_minutes', 'Enter at least 5 minutes.'],
    [
      'too many minutes',
      { ...SAFE, alert_others: 'batched', alert_batch_minutes: '1441' },
      'alert_batch_minutes',
      'Enter at most 1440 minutes (one day).',
    ],
    [
      'minutes that are not a number',
      { ...SAFE, alert_others: 'batched', alert_batch_minutes: 'hourly' },
      'alert_batch_minutes',
      'Enter the minutes as a whole number',
    ],
    [
      'fractional minutes',
      { ...SAFE, alert_others: 'batched', alert_batch_minutes: '7.5' },
      'alert_batch_minutes',
      'Enter the minutes as a whole number',
    ],
    [
      'negative minutes',
      { ...SAFE, alert_others: 'batched', alert_batch_minutes: '-10' },
      'alert_batch_minutes',
      'Enter the minutes as a whole number',
    ],
    [
      'minutes in exponent form',
      { ...SAFE, alert_others: 'batched', alert_batch_minutes: '1e2' },
      'alert_batch_minutes',
      'Enter the minutes as a whole number',
    ],
    [
      'no minutes when batching',
      { ...SAFE, alert_others: 'batched', alert_batch_minutes: '' },
      'alert_batch_minutes',
      'Enter the minutes as a whole number',
    ],
    ['bad minutes even when not batching', { ...SAFE, alert_batch_minutes: '99999' }, 'alert_batch_minutes', 'Enter at most 1440 minutes'],
    [
      'two minute fields',
      'alert_urgent=now&alert_others=batched&alert_batch_minutes=10&alert_batch_minutes=20',
      'alert_batch_minutes',
      'whole number',
    ],
  ];

  for (const [name, form, field, message] of REFUSED) {
    it(`refuses ${name} (422, the message at the field, nothing stored)`, async () => {
      const { staff, agent } = await caseworker();
      const before = await choicesOf(staff.id);
      const res = await post(agent, '/staff/account/alerts', form);
      expect(res.status).toBe(422);
      const section = alertsSection(res.text);
      expect(section).toContain(`id="${field}-error"`);
      expect(section).toContain(message);
      expect(section).toMatch(/class="error-summary" role="alert"[^>]*autofocus/);
      expect(await choicesOf(staff.id)).toEqual(before);
      expect(await auditOf(staff.id)).toEqual([]);
    });
  }

  it('keeps what was typed when it refuses it', async () => {
    const { agent } = await caseworker();
    const res = await post(agent, '/staff/account/alerts', { alert_urgent: 'with_others', alert_others: 'batched', alert_batch_minutes: '2' });
    expect(res.status).toBe(422);
    const section = alertsSection(res.text);
    expect(checked(section, 'alert_urgent-with_others')).toBe(true);
    expect(checked(section, 'alert_others-batched')).toBe(true);
    expect(section).toContain('name="alert_batch_minutes" value="2"');
  });

  it('ignores prototype-named fields beside valid choices', async () => {
    const { staff, agent } = await caseworker();
    const res = await post(agent, '/staff/account/alerts', '__proto__=x&constructor=y&alert_urgent=now&alert_others=now&alert_batch_minutes=60');
    expect(res.status).toBe(303);
    expect(await choicesOf(staff.id)).toMatchObject({ alert_urgent: 'now', alert_others: 'now' });
  });

  it('refuses a post without the CSRF token, changing nothing', async () => {
    const { staff, agent } = await caseworker();
    await agent.get('/staff/account');
    const res = await agent.post('/staff/account/alerts').redirects(0).type('form').send({ alert_urgent: 'with_others', alert_others: 'now' });
    expect(res.status).toBe(403);
    for (const path of ['/staff/account/alert-key', '/staff/account/alert-key/remove']) {
      expect((await agent.post(path).redirects(0).type('form').send({ alert_pgp_key: 'x' })).status, path).toBe(403);
    }
    expect(await choicesOf(staff.id)).toMatchObject({ alert_urgent: 'now', alert_others: 'digest' });
  });

  it('shows the kinds an administrator has turned off as not available', async () => {
    const { agent } = await caseworker();
    await t.testDb.db
      .insertInto('settings')
      .values({ key: 'alert_kinds', value: JSON.stringify(['new_report', 'case_activity', 'case_overdue']) })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(['new_report', 'case_activity', 'case_overdue']) }))
      .execute();
    try {
      const section = alertsSection((await agent.get('/staff/account')).text);
      expect(section).toContain('An urgent report (“I am in danger now”): not available (turned off by an administrator)');
      expect(section).toContain('The daily digest: not available (turned off by an administrator)');
      expect(section).toContain('A new report: sent');
      expect(section).toContain('Not available: an administrator has turned urgent-report alerts off.');
      expect(section).toContain('Not available: an administrator has turned the daily digest off');
    } finally {
      await t.testDb.db.deleteFrom('settings').where('key', '=', 'alert_kinds').execute();
    }
    expect(alertsSection((await agent.get('/staff/account')).text)).not.toContain('not available');
  });
});

describe('OpenPGP key', () => {
  it('accepts a public key, stores it re-armoured with its fingerprint, shows the fingerprint, and audits only the fingerprint', async () => {
    const { staff, agent } = await caseworker();
    const { publicKey } = await generateTestKeyPair({ email: staff.email });
    // A paste with a comment header and blank lines around it: what is stored is the key alone.
    const pasted = `\n\n${publicKey.replace('-----BEGIN PGP PUBLIC KEY BLOCK-----\n', '-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: laptop key\n')}\n\n`;
    const res = await post(agent, '/staff/account/alert-key', { alert_pgp_key: pasted });
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe('/staff/account?notice=key_set#alert-key-notice');
    const row = await choicesOf(staff.id);
    expect(row.alert_pgp_fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(row.alert_pgp_key).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    expect(row.alert_pgp_key).not.toContain('laptop key');

    const page = await agent.get(res.headers['location']!);
    const section = alertsSection(page.text);
    const grouped = row.alert_pgp_fingerprint!.match(/.{4}/g)!.join(' ');
    expect(section).toContain(grouped);
    expect(section).toContain('Stop encrypting my alerts');
    expect(section).toMatch(/id="alert-key-notice" role="status" tabindex="-1" autofocus>Key saved\./);

    const entries = await auditOf(staff.id);
    expect(entries).toEqual([
      {
        action: 'staff.alert_key_set',
        actor_id: staff.id,
        subject_user_id: staff.id,
        details: { fingerprint: row.alert_pgp_fingerprint, replaced: null },
      },
    ]);
    expect(JSON.stringify(entries)).not.toContain('PGP');
  });

  it('replaces a key with another, auditing which it replaced', async () => {
    const { staff, agent } = await caseworker();
    await post(agent, '/staff/account/alert-key', { alert_pgp_key: (await generateTestKeyPair()).publicKey });
    const first = (await choicesOf(staff.id)).alert_pgp_fingerprint;
    await post(agent, '/staff/account/alert-key', { alert_pgp_key: (await generateTestKeyPair()).publicKey });
    const second = (await choicesOf(staff.id)).alert_pgp_fingerprint;
    expect(second).not.toBe(first);
    expect((await auditOf(staff.id)).map((e) => e.details)).toEqual([
      { fingerprint: first, replaced: null },
      { fingerprint: second, replaced: first },
    ]);
  });

  const REFUSED_KEYS: [string, () => Promise<string>, string][] = [
    ['garbage', async () => 'not a key at all', 'This is not an OpenPGP public key Harbour can read.'],
    ['an expired key', async () => (await generateTestKeyPair({ expired: true })).publicKey, 'This key has expired.'],
    ['a revoked key', async () => (await generateTestKeyPair({ revoked: true })).publicKey, 'This key has been revoked.'],
    ['a key that cannot encrypt', async () => (await generateTestKeyPair({ signOnly: true })).publicKey, 'This key cannot encrypt'],
    ['an empty box', async () => '  \n ', 'Paste your public key'],
    [
      'a paste over the size limit',
      async () => `${(await generateTestKeyPair()).publicKey}\n${'A'.repeat(40_000)}`,
      'This key is too long: at most 40,000 characters.',
    ],
  ];

  for (const [name, paste, message] of REFUSED_KEYS) {
    it(`refuses ${name} with its own message (422), keeping nothing`, async () => {
      const { staff, agent } = await caseworker();
      const res = await post(agent, '/staff/account/alert-key', { alert_pgp_key: await paste() });
      expect(res.status).toBe(422);
      const section = alertsSection(res.text);
      expect(section).toContain('id="alert_pgp_key-error"');
      expect(section).toContain(message);
      expect(await choicesOf(staff.id)).toMatchObject({ alert_pgp_key: null, alert_pgp_fingerprint: null });
      expect(await auditOf(staff.id)).toEqual([]);
    });
  }

  it('refuses a private key and does not show it back on the page', async () => {
    const { staff, agent } = await caseworker();
    const { privateKey } = await generateTestKeyPair();
    const res = await post(agent, '/staff/account/alert-key', { alert_pgp_key: privateKey });
    expect(res.status).toBe(422);
    expect(alertsSection(res.text)).toContain('This is a private key: it was not stored');
    expect(res.text).not.toContain('PRIVATE KEY BLOCK');
    expect(res.text).not.toContain(privateKey.split('\n')[2]!);
    expect(await choicesOf(staff.id)).toMatchObject({ alert_pgp_key: null, alert_pgp_fingerprint: null });
  });

  it('does not show back a damaged private key either (one the parser cannot read as a key)', async () => {
    const { agent } = await caseworker();
    const { privateKey } = await generateTestKeyPair();
    const lines = privateKey.split('\n');
    const damaged = [...lines.slice(0, 3), ...lines.slice(4)].join('\n'); // one line of the key missing
    const res = await post(agent, '/staff/account/alert-key', { alert_pgp_key: damaged });
    expect(res.status).toBe(422);
    expect(res.text).not.toContain('PRIVATE KEY BLOCK');
    for (const line of lines.slice(4, -3).filter((l) => l.length > 20)) expect(res.text).not.toContain(line);
  });

  it('keeps a refused public key in the box, to be corrected', async () => {
    const { agent } = await caseworker();
    const { publicKey } = await generateTestKeyPair({ expired: true });
    const res = await post(agent, '/staff/account/alert-key', { alert_pgp_key: publicKey });
    expect(res.status).toBe(422);
    expect(res.text).toContain(publicKey.split('\n')[2]!);
  });

  it('refuses two key fields, and a body over the form limit, without a server error', async () => {
    const { staff, agent } = await caseworker();
    const { publicKey } = await generateTestKeyPair();
    const two = await post(agent, '/staff/account/alert-key', { alert_pgp_key: [publicKey, publicKey] });
    expect(two.status).toBe(422);
    expect(alertsSection(two.text)).toContain('Paste one key, in the one box.');
    const huge = await post(agent, '/staff/account/alert-key', { alert_pgp_key: 'A'.repeat(80_000) });
    expect(huge.status).toBe(413);
    expect(await choicesOf(staff.id)).toMatchObject({ alert_pgp_key: null });
  });

  it('removes the key on request ("stop encrypting"), audited with the fingerprint', async () => {
    const { staff, agent } = await caseworker();
    await post(agent, '/staff/account/alert-key', { alert_pgp_key: (await generateTestKeyPair()).publicKey });
    const fingerprint = (await choicesOf(staff.id)).alert_pgp_fingerprint;
    expect(fingerprint).not.toBeNull();
    const res = await post(agent, '/staff/account/alert-key/remove', {});
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe('/staff/account?notice=key_removed#alert-key-notice');
    expect(await choicesOf(staff.id)).toMatchObject({ alert_pgp_key: null, alert_pgp_fingerprint: null });
    const section = alertsSection((await agent.get(res.headers['location']!)).text);
    expect(section).toContain('Your alerts are no longer encrypted.');
    expect(section).toContain('Your alerts are not encrypted.');
    expect(section).not.toContain('Stop encrypting my alerts');
    expect((await auditOf(staff.id)).map((e) => [e.action, e.details])).toEqual([
      ['staff.alert_key_set', { fingerprint, replaced: null }],
      ['staff.alert_key_removed', { fingerprint }],
    ]);
    // Removing when there is none changes nothing and records nothing.
    expect((await post(agent, '/staff/account/alert-key/remove', {})).status).toBe(303);
    expect(await auditOf(staff.id)).toHaveLength(2);
  });

  it('shows the password form’s refusal with the alerts section still whole', async () => {
    const { agent } = await caseworker();
    const res = await post(agent, '/staff/account/password', { current_password: 'x', new_password: 'short', confirm_password: 'short' });
    expect(res.status).toBe(422);
    expect(alertsSection(res.text)).toContain('name="alert_batch_minutes" value="60"');
  });
});
