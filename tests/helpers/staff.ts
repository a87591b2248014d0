import { randomBytes as rb } from 'node:crypto';
import request from 'supertest';
import { currentTotp, newTotpSecret, sealTo } from '../../server/crypto/index.js';
import type { Role } from '../../server/db/schema.js';
import { createUser, wrapTotpSecret } from '../../server/staff/users.js';
import type { TestApp } from './app.js';
import type { Db } from '../../server/db/index.js';
import { decryptJson, decryptText, unsealWith, type KeyPair } from '../../server/crypto/index.js';
import { openTeamKeyWithRecovery } from '../../server/setup/service.js';

/**
 * Reads a report the way a caseworker's session does: team key (here opened
 * with the recovery key, so reporter-side tests need no staff account) → the
 * report's sealed data key → fields. Proves the team can read reports (P2).
 */
export async function teamKey(db: Db, recoveryKey: string): Promise<KeyPair> {
  return openTeamKeyWithRecovery(db, recoveryKey);
}

export async function readAsTeam(db: Db, team: KeyPair, reportId: string) {
  const row = await db.selectFrom('reports').selectAll().where('id', '=', reportId).executeTakeFirstOrThrow();
  const dataKey = unsealWith(row.data_key_sealed, team);
  const ctx = (field: string) => ({ table: 'reports', id: reportId, field });
  return {
    dataKey,
    narrative: decryptText(dataKey, row.narrative, ctx('narrative')),
    details: decryptJson<Record<string, unknown>>(dataKey, row.details, ctx('details')),
    contact: row.contact ? decryptJson<Record<string, string>>(dataKey, row.contact, ctx('contact')) : null,
  };
}

// ---------------------------------------------------------------- staff accounts

export type TestStaff = { id: string; email: string; password: string; totpSecret: string; roles: Role[] };

/**
 * A staff account with its second factor already enrolled and, for a
 * caseworker, the team key granted (as an approval would), so a test can
 * sign in at once. `approved: false` leaves a caseworker without access.
 */
export async function addStaff(t: TestApp, opts: { roles: Role[]; approved?: boolean; name?: string; email?: string }): Promise<TestStaff> {
  const email = opts.email ?? `staff-${rb(4).toString('hex')}@example.org`;
  const password = `correct horse battery ${rb(4).toString('hex')}`;
  const { id, keyPair, wrapKey } = await createUser(t.testDb.db, {
    email,
    displayName: opts.name ?? email.split('@')[0]!,
    roles: opts.roles,
    password,
  });
  const totpSecret = newTotpSecret();
  await t.testDb.db
    .updateTable('users')
    .set({ totp_secret_wrapped: wrapTotpSecret(wrapKey, id, totpSecret) })
    .where('id', '=', id)
    .execute();
  if (opts.roles.includes('caseworker') && opts.approved !== false) {
    await t.testDb.db
      .insertInto('key_grants')
      .values({
        user_id: id,
        team_key_id: t.team!.id,
        sealed_secret: sealTo(t.team!.keyPair.privateKey, keyPair.publicKey),
        approved_by: null,
        sealed_at: new Date(),
      })
      .execute();
  }
  return { id, email, password, totpSecret, roles: opts.roles };
}

/**
 * Signs a staff member in through the real pages (password, then TOTP) and
 * returns the agent. Each TOTP code works once (replay protection), so the
 * helper forgets the last used step first: tests may sign the same person in
 * several times within 30 seconds. The replay test does not use this helper.
 */
export async function signInStaff(t: TestApp, s: TestStaff) {
  await t.testDb.db.updateTable('users').set({ totp_last_step: null }).where('id', '=', s.id).execute();
  const agent = request.agent(t.app);
  const page = await agent.get('/staff/sign-in');
  const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
  const pw = await agent.post('/staff/sign-in').type('form').send({ _csrf: token, email: s.email, password: s.password });
  if (pw.status !== 303) throw new Error(`password step failed: ${pw.status}`);
  const two = await agent.get('/staff/two-factor');
  const token2 = /name="_csrf" value="([^"]+)"/.exec(two.text)![1]!;
  const code = await agent
    .post('/staff/two-factor')
    .type('form')
    .send({ _csrf: token2, code: currentTotp(s.totpSecret) });
  if (code.status !== 303) throw new Error(`code step failed: ${code.status} ${code.text.slice(0, 500)}`);
  return agent;
}

/** The CSRF token on a staff page (also sets the cookie in the agent). */
export async function staffCsrf(agent: ReturnType<typeof request.agent>, path: string): Promise<string> {
  const res = await agent.get(path);
  const m = /name="_csrf" value="([^"]+)"/.exec(res.text);
  if (!m) throw new Error(`no CSRF token on ${path} (status ${res.status})`);
  return m[1]!;
}
