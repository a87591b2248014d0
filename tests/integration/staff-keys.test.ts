import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecryptionError, decryptJson, parseSessionToken, publicKeyOf, toHex, unsealWith, type KeyPair } from '../../server/crypto/index.js';
import { grantWithRecovery, openDataKey, teamKeysFor } from '../../server/staff/keys.js';
import { startRotation } from '../../server/staff/rotation.js';
import { resetPasswordWithNewKeys, unlockWithPassword } from '../../server/staff/users.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { dumpAllTables } from '../helpers/dump.js';
import { fileReport } from '../helpers/reporter.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

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

describe('P3 onboarding without re-encryption', () => {
  it('an administrator approves a new caseworker in one action; the seal lands when a caseworker is signed in; no report row changes', async () => {
    const before = await reports();
    const bob = await addStaff(t, { roles: ['caseworker'], approved: false });
    expect((await keysOf(bob)).teamKeys.size).toBe(0);

    const adminAgent = await signInStaff(t, admin);
    const token = await staffCsrf(adminAgent, '/admin/staff');
    const res = await adminAgent.post(`/admin/staff/${bob.id}/approve`).type('form').send({ _csrf: token });
    expect(res.status).toBe(303);
    expect(res.headers['location']).toContain('approved_pending'); // the admin holds no team key (P6)
    expect((await keysOf(bob)).teamKeys.size).toBe(0);

    // Any signed-in caseworker's next request seals it.
    const aliceAgent = await signInStaff(t, alice);
    expect((await aliceAgent.get('/staff/account')).status).toBe(200);
    const bobKeys = await keysOf(bob);
    expect(bobKeys.teamKeys.size).toBe(1);
    expect(await opensAll(bobKeys.teamKeys)).toBe(true);
    expect(await reports()).toEqual(before); // not one report re-encrypted
  });

  it('a caseworker approves a colleague and the seal is immediate', async () => {
    const carol = await addStaff(t, { roles: ['caseworker'], approved: false });
    const agent = await signInStaff(t, alice);
    const token = await staffCsrf(agent, '/staff/account');
    const res = await agent.post(`/admin/staff/${carol.id}/approve`).type('form').send({ _csrf: token });
    expect(res.headers['location']).toBe('/admin/staff?notice=approved');
    expect(await opensAll((await keysOf(carol)).teamKeys)).toBe(true);
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
    expect((await adminAgent.post(`/admin/staff/${dave.id}/deactivate`).type('form').send({ _csrf: token })).status).toBe(303);
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
    expect(await t.testDb.db.selectFrom('key_grants').selectAll().where('team_key_id', 'in', retired.map((k) => k.id)).execute()).toHaveLength(0);
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
    const grant = (await t.testDb.db.selectFrom('key_grants').select('sealed_secret').where('user_id', '=', alice.id).executeTakeFirstOrThrow()).sealed_secret!;
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
