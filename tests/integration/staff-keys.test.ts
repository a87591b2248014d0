import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DecryptionError,
  decryptJson,
  newTotpSecret,
  parseSessionToken,
  publicKeyOf,
  toHex,
  unsealWith,
  type KeyPair,
} from '../../server/crypto/index.js';
import { grantWithRecovery, openDataKey, teamKeysFor } from '../../server/staff/keys.js';
import { startRotation } from '../../server/team/rotation.js';
import { resetPasswordWithNewKeys, unlockWithPassword, wrapTotpSecret } from '../../server/staff/users.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { dumpAllTables } from '../helpers/dump.js';
import { fileReport } from '../helpers/reporter.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';
import type { Agent } from '../helpers/reporter.js';

/** P3, P4, P6, P7, P9: the key scheme for staff, each property by a test that fails if it breaks. */
let t: TestApp;
let admin: TestStaff; // administrator only
let alice: TestStaff; // caseworker with access
const reportIds: string[] = [];

async function keysOf(s: TestStaff): Promise<{ keyPair: KeyPair; teamKeys: Map<number, KeyPair> }> {
  const unlocked = await unlockWithPassword(t.testDb.db, s.email, s.password);
  if (!unlocked) throw new Error('cannot unlock');
  return { keyPair: unlocked.keyPair, teamKeys: await teamKeysFor(t.testDb.db, s.id, unlocked.keyPair) };
}
async function reports() {
  return t.testDb.db.selectFrom('reports').select(['id', 'team_key_id', 'data_key_sealed']).where('state', '=', 'submitted').execute();
}
async function opensAll(teamKeys: Map<number, KeyPair>): Promise<boolean> {
  const rows = await reports();
  return rows.length > 0 && rows.every((r) => openDataKey(teamKeys, r) !== null);
}

beforeAll(async () => {
  t = await createTestApp();
  admin = await addStaff(t, { roles: ['admin'] });
  alice = await addStaff(t, { roles: ['caseworker'] });
  for (let i = 0; i < 3; i++) await fileReport(t.app);
  reportIds.push(...(await reports()).map((r) => r.id));
});
afterAll(async () => {
  await t.close();
});

/** Someone who made their account through an invitation, with a second factor set up (as their first sign-in would). */
async function enrolled(email: string, password: string): Promise<TestStaff> {
  const u = (await unlockWithPassword(t.testDb.db, email, password))!;
  const totpSecret = newTotpSecret();
  await t.testDb.db
    .updateTable('users')
    .set({ totp_secret_wrapped: wrapTotpSecret(u.wrapKey, u.user.id, totpSecret) })
    .where('id', '=', u.user.id)
    .execute();
  return { id: u.user.id, email, password, totpSecret, roles: u.user.roles };
}

/** Posts the case access confirmation as a signed-in agent (confirm: tick the box). */
async function approveAs(agent: Agent, userId: string, confirm: boolean) {
  const token = await staffCsrf(agent, '/staff/access');
  return agent
    .post(`/staff/access/${userId}/approve`)
    .type('form')
    .send({ _csrf: token, ...(confirm ? { confirm: 'yes' } : {}) });
}
async function grantsOf(userId: string) {
  return t.testDb.db.selectFrom('key_grants').selectAll().where('user_id', '=', userId).execute();
}
/** A colleague with access going about their work: the page views that used to seal waiting approvals. */
async function browseAs(s: TestStaff) {
  const agent = await signInStaff(t, s);
  for (const path of ['/staff/cases', '/staff/keys', '/staff/access', '/staff/account']) expect((await agent.get(path)).status, path).toBe(200);
}

describe('P3 onboarding without re-encryption', () => {
  it('a caseworker with access approves a new colleague in one confirmed action; they read every case; no report row changes', async () => {
    const before = await reports();
    const bob = await addStaff(t, { roles: ['caseworker'], approved: false, name: 'Bob Newcomer' });
    expect((await keysOf(bob)).teamKeys.size).toBe(0);

    const aliceAgent = await signInStaff(t, alice);
    const page = await aliceAgent.get('/staff/access');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Bob Newcomer');
    expect(page.text).toContain(bob.email);
    // Without the explicit tick: refused, nothing sealed.
    const unticked = await approveAs(aliceAgent, bob.id, false);
    expect(unticked.status).toBe(422);
    expect(unticked.text).toContain('Tick the box to confirm');
    expect(unticked.text).toContain(`href="#confirm-${bob.id}"`);
    expect(await grantsOf(bob.id)).toHaveLength(0);

    const res = await approveAs(aliceAgent, bob.id, true);
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe('/staff/access?notice=approved');
    const bobKeys = await keysOf(bob);
    expect(bobKeys.teamKeys.size).toBe(1);
    expect(await opensAll(bobKeys.teamKeys)).toBe(true);
    expect(await reports()).toEqual(before); // not one report re-encrypted
    expect((await grantsOf(bob.id))[0]!.approved_by).toBe(alice.id);
    // Bob reads a case through the app at once.
    const bobAgent = await signInStaff(t, bob);
    const caseRes = await bobAgent.get(`/staff/cases/${reportIds[0]}`);
    expect(caseRes.status).toBe(200);
    expect(caseRes.text).not.toContain('could not be decrypted');
  });

  it('an administrator only asks: nothing is sealed, not by any page view; a key holder confirms, seeing who asked', async () => {
    const carol = await addStaff(t, { roles: ['caseworker'], approved: false, name: 'Carol Asked' });
    const adminAgent = await signInStaff(t, admin);
    const token = await staffCsrf(adminAgent, '/admin/staff');
    const res = await adminAgent.post(`/admin/staff/${carol.id}/approve`).type('form').send({ _csrf: token });
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe('/admin/staff?notice=requested');
    expect((await adminAgent.get('/admin/staff?notice=requested')).text).toContain('Nothing is unlocked yet');

    await browseAs(alice);
    expect(await grantsOf(carol.id)).toHaveLength(0);
    expect((await keysOf(carol)).teamKeys.size).toBe(0);

    const aliceAgent = await signInStaff(t, alice);
    const page = await aliceAgent.get('/staff/access');
    const section = page.text.slice(page.text.indexOf(`id="person-${carol.id}"`));
    expect(section).toMatch(new RegExp(`Access requested</dt><dd>By ${admin.email.split('@')[0]} on \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} UTC`));
    expect((await approveAs(aliceAgent, carol.id, true)).status).toBe(303);
    expect(await opensAll((await keysOf(carol)).teamKeys)).toBe(true);
    const entry = await t.testDb.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'staff.access_approved')
      .where('subject_user_id', '=', carol.id)
      .executeTakeFirstOrThrow();
    expect(entry.actor_id).toBe(alice.id);
    expect(entry.details).toEqual({ teamKeys: 1, requestedBy: admin.id });
    expect(
      await t.testDb.db
        .selectFrom('audit_log')
        .select('actor_id')
        .where('action', '=', 'staff.access_requested')
        .where('subject_user_id', '=', carol.id)
        .execute(),
    ).toEqual([{ actor_id: admin.id }]);
  });
});

describe('nobody approves themselves; no key is sealed by someone who does not hold it (audit points 2 and 3)', () => {
  it("an unapproved caseworker cannot approve themselves by either route, and a colleague's page view seals nothing", async () => {
    const mallory = await addStaff(t, { roles: ['caseworker'], approved: false });
    const agent = await signInStaff(t, mallory);
    const token = await staffCsrf(agent, '/staff/account');
    // The administrators' route is not theirs at all.
    expect((await agent.post(`/admin/staff/${mallory.id}/approve`).type('form').send({ _csrf: token })).status).toBe(403);
    const self = await approveAs(agent, mallory.id, true);
    expect(self.status).toBe(403);
    expect(self.text).toContain('You cannot approve your own access');
    await browseAs(alice);
    expect(await grantsOf(mallory.id)).toHaveLength(0);
    expect((await keysOf(mallory)).teamKeys.size).toBe(0);
    const refused = await t.testDb.db
      .selectFrom('audit_log')
      .select(['actor_id', 'details'])
      .where('action', '=', 'staff.access_refused')
      .where('subject_user_id', '=', mallory.id)
      .execute();
    expect(refused).toEqual([{ actor_id: mallory.id, details: { reason: 'self', step: 'approve' } }]);
  });

  it('an unapproved caseworker cannot approve anyone else either: they hold no key to seal', async () => {
    const mallory = await addStaff(t, { roles: ['caseworker'], approved: false });
    const friend = await addStaff(t, { roles: ['caseworker'], approved: false });
    const agent = await signInStaff(t, mallory);
    const page = await agent.get('/staff/access');
    expect(page.status).toBe(200);
    expect(page.text).toContain('you cannot approve anyone');
    expect(page.text).not.toContain(friend.email); // a caseworker without access is shown nobody
    const res = await approveAs(agent, friend.id, true);
    expect(res.status).toBe(403);
    expect(res.text).toContain('You do not hold every current team key');
    expect(await grantsOf(friend.id)).toHaveLength(0);
  });

  it('an administrator who is not a caseworker cannot make themselves a reader account', async () => {
    const adminAgent = await signInStaff(t, admin);
    const token = await staffCsrf(adminAgent, '/admin/staff');
    const inv = await adminAgent
      .post('/admin/staff/invitations')
      .type('form')
      .send({ _csrf: token, email: 'puppet@example.org', roles: ['caseworker'] });
    const path = /\/staff\/invitations\/[A-Za-z0-9_-]{43}/.exec(inv.text)![0];
    const visitor = request.agent(t.app);
    const form = await staffCsrf(visitor, path);
    const password = 'a sturdy passphrase here';
    expect((await visitor.post(path).type('form').send({ _csrf: form, display_name: 'Puppet', password, confirm_password: password })).status).toBe(
      303,
    );
    const puppet = await t.testDb.db
      .selectFrom('users')
      .select(['id', 'invited_by', 'created_via'])
      .where('email', '=', 'puppet@example.org')
      .executeTakeFirstOrThrow();
    expect(puppet).toMatchObject({ invited_by: admin.id, created_via: 'invitation' });

    // The administrator's "approve" is a request; the caseworkers' route is not theirs.
    expect((await adminAgent.post(`/admin/staff/${puppet.id}/approve`).type('form').send({ _csrf: token })).status).toBe(303);
    expect((await adminAgent.post(`/staff/access/${puppet.id}/approve`).type('form').send({ _csrf: token, confirm: 'yes' })).status).toBe(403);
    // Nor does the puppet's own session help: it holds no key.
    const puppetAgent = await signInStaff(t, await enrolled('puppet@example.org', password));
    expect((await approveAs(puppetAgent, puppet.id, true)).status).toBe(403);
    await browseAs(alice);
    expect(await grantsOf(puppet.id)).toHaveLength(0);

    // What the caseworker sees before deciding: who invited the account, and who asked.
    const page = await (await signInStaff(t, alice)).get('/staff/access');
    const section = page.text.slice(page.text.indexOf(`id="person-${puppet.id}"`));
    const adminName = admin.email.split('@')[0]!;
    expect(section).toContain(`Invited by ${adminName} on`);
    expect(section).toContain(`<dd>By ${adminName} on`);
  });

  it('an administrator who is an unapproved caseworker can neither ask for nor approve their own access', async () => {
    const both = await addStaff(t, { roles: ['admin', 'caseworker'], approved: false });
    const agent = await signInStaff(t, both);
    const token = await staffCsrf(agent, '/admin/staff');
    const ask = await agent.post(`/admin/staff/${both.id}/approve`).type('form').send({ _csrf: token });
    expect(ask.status).toBe(403);
    expect(ask.text).toContain('You cannot request access for yourself');
    expect((await approveAs(agent, both.id, true)).status).toBe(403);
    const row = await t.testDb.db.selectFrom('users').select('access_requested_at').where('id', '=', both.id).executeTakeFirstOrThrow();
    expect(row.access_requested_at).toBeNull();
    expect(await grantsOf(both.id)).toHaveLength(0);
  });
});

describe('P6 separation of duties', () => {
  it('an administrator who is not a caseworker holds no team key and has no grant', async () => {
    const grants = await t.testDb.db.selectFrom('key_grants').selectAll().where('user_id', '=', admin.id).execute();
    expect(grants).toHaveLength(0);
    expect((await keysOf(admin)).teamKeys.size).toBe(0);
    const agent = await signInStaff(t, admin);
    expect((await agent.get('/staff/keys')).status).toBe(403);
    expect((await agent.get(`/staff/cases/${reportIds[0]}`)).status).toBe(403);
  });
});

describe('P4 revocation', () => {
  it('deactivation locks out at once; after a rotation the old key material opens nothing new', async () => {
    const dave = await addStaff(t, { roles: ['caseworker'] });
    const daveAgent = await signInStaff(t, dave);
    expect((await daveAgent.get('/staff/account')).status).toBe(200);
    // Dave keeps a copy of the team key (the worst case: a malicious insider).
    const stolen = (await keysOf(dave)).teamKeys;
    expect(await opensAll(stolen)).toBe(true);

    const adminAgent = await signInStaff(t, admin);
    const token = await staffCsrf(adminAgent, '/admin/staff');
    expect((await adminAgent.post(`/admin/staff/${dave.id}/deactivate`).type('form').send({ _csrf: token, confirm: 'yes' })).status).toBe(303);
    expect((await daveAgent.get('/staff/account')).status).toBe(302); // the live session is dead
    expect(await t.testDb.db.selectFrom('key_grants').selectAll().where('user_id', '=', dave.id).execute()).toHaveLength(0);
    expect(await unlockWithPassword(t.testDb.db, dave.email, dave.password).then((u) => u?.user.status)).toBe('deactivated');

    // Alice rotates the team key.
    const aliceKeys = await keysOf(alice);
    const job = await startRotation(t.testDb.db, t.ctx.logger, { id: alice.id, teamKeys: aliceKeys.teamKeys });
    await job.promise;
    const state = await t.testDb.db.selectFrom('jobs').select('state').where('id', '=', job.id).executeTakeFirstOrThrow();
    expect(state.state).toBe('done');

    // Old reports were re-sealed, new ones go to the new key: the stolen key opens none of them.
    await fileReport(t.app);
    for (const r of await reports()) {
      expect(openDataKey(stolen, r)).toBeNull();
      for (const old of stolen.values()) expect(() => unsealWith(r.data_key_sealed, old)).toThrow(DecryptionError);
    }
    // Those who still have access read everything, new and old.
    expect(await opensAll((await keysOf(alice)).teamKeys)).toBe(true);
    const retired = await t.testDb.db.selectFrom('team_keys').select(['id', 'retired_at']).where('retired_at', 'is not', null).execute();
    expect(retired.length).toBeGreaterThan(0);
    expect(
      await t.testDb.db
        .selectFrom('key_grants')
        .selectAll()
        .where(
          'team_key_id',
          'in',
          retired.map((k) => k.id),
        )
        .execute(),
    ).toHaveLength(0);
  });
});

describe('P7 recovery', () => {
  it('when every caseworker lost their password, only the recovery key restores access', async () => {
    const erin = await addStaff(t, { roles: ['caseworker'] });
    // Erin forgets her password: a reset makes new keys, and opens nothing by itself.
    const newPassword = 'a brand new passphrase for erin';
    await resetPasswordWithNewKeys(t.testDb.db, erin.id, newPassword);
    const after = await unlockWithPassword(t.testDb.db, erin.email, newPassword);
    expect(after).not.toBeNull();
    expect((await teamKeysFor(t.testDb.db, erin.id, after!.keyPair)).size).toBe(0);
    // A wrong recovery key does nothing.
    const wrong = t.recoveryKey!.replace(/^(.)/, (c) => (c === '0' ? '1' : '0'));
    await expect(grantWithRecovery(t.testDb.db, wrong, erin.id)).rejects.toThrow();
    // The recovery key does. It opens the current team key even after a rotation (sealed to it too).
    expect(await grantWithRecovery(t.testDb.db, t.recoveryKey!, erin.id)).toBeGreaterThan(0);
    expect(await opensAll(await teamKeysFor(t.testDb.db, erin.id, after!.keyPair))).toBe(true);
  });
});

describe('P9 sessions keep keys off the disk', () => {
  it('while a caseworker is signed in, nothing in the database opens their keys or a report without the cookie', async () => {
    const agent = await signInStaff(t, alice);
    expect((await agent.get('/staff/account')).status).toBe(200);
    const { keyPair, teamKeys } = await keysOf(alice);
    const team = [...teamKeys.values()];
    const rows = await t.testDb.db.selectFrom('sessions').selectAll().where('user_id', '=', alice.id).execute();
    expect(rows.length).toBeGreaterThan(0);
    const secrets = [keyPair.privateKey, ...team.map((k) => k.privateKey)];
    const grant = (await t.testDb.db.selectFrom('key_grants').select('sealed_secret').where('user_id', '=', alice.id).executeTakeFirstOrThrow())
      .sealed_secret!;
    const report = (await reports())[0]!;
    for (const row of rows) {
      const blob = Buffer.concat([Buffer.from(row.id_hash), Buffer.from(row.payload)]);
      for (const s of secrets) expect(blob.includes(Buffer.from(s))).toBe(false);
      // Every 32-byte window of the row, tried as a private key: none opens the grant or the report.
      for (let i = 0; i + 32 <= blob.length; i++) {
        const candidate = new Uint8Array(blob.subarray(i, i + 32));
        const kp = { privateKey: candidate, publicKey: publicKeyOf(candidate) };
        expect(() => unsealWith(grant, kp)).toThrow(DecryptionError);
        expect(() => unsealWith(report.data_key_sealed, kp)).toThrow(DecryptionError);
      }
    }
    // Nor does anything else in the database: the private key is stored only wrapped.
    const dump = await dumpAllTables(t.testDb.db);
    for (const s of secrets) expect(dump.includes(Buffer.from(s).toString('hex'))).toBe(false);
    // Positive control: with the cookie's secret, the payload does hold the private key.
    const cookie = agent.jar.getCookies({ domain: '127.0.0.1', path: '/', secure: false, script: false }).find((c) => c.name === 'harbour_s')!;
    const token = parseSessionToken(cookie.value)!;
    const row = rows.find((r) => Buffer.from(r.id_hash).equals(Buffer.from(token.idHash)))!;
    const payload = decryptJson<{ privateKey: string }>(token.key, row.payload, { table: 'sessions', id: toHex(token.idHash), field: 'payload' });
    expect(Buffer.from(payload.privateKey, 'base64').equals(Buffer.from(keyPair.privateKey))).toBe(true);
  });
});
