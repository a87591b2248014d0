import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTotp } from '../../server/crypto/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { teamKeysFor } from '../../server/staff/keys.js';
import { unlockWithPassword } from '../../server/staff/users.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

let t: TestApp;
let worker: TestStaff;
beforeAll(async () => {
  t = await createTestApp({ env: { SIGN_IN_FAILURES_PER_ACCOUNT: '3' } });
  worker = await addStaff(t, { roles: ['caseworker'] });
});
afterAll(async () => {
  await t.close();
});

/** The value a response sets for a cookie (the last non-empty Set-Cookie: an earlier one may clear it). */
const cookieOf = (res: request.Response, name: string) =>
  [res.headers['set-cookie'] ?? []]
    .flat()
    .filter((c) => c.startsWith(`${name}=`))
    .map((c) => c.split(';')[0]!.slice(name.length + 1))
    .filter(Boolean)
    .pop();

async function passwordStep(agent: ReturnType<typeof request.agent>, email: string, password: string) {
  const token = await staffCsrf(agent, '/staff/sign-in');
  return agent.post('/staff/sign-in').type('form').send({ _csrf: token, email, password });
}
async function codeStep(agent: ReturnType<typeof request.agent>, code: string) {
  const token = await staffCsrf(agent, '/staff/two-factor');
  return agent.post('/staff/two-factor').type('form').send({ _csrf: token, code });
}

describe('staff sign-in', () => {
  it('password then TOTP signs in; the session cookie changes at each step (no fixation)', async () => {
    await t.testDb.db.updateTable('users').set({ totp_last_step: null }).where('id', '=', worker.id).execute();
    const agent = request.agent(t.app);
    const pw = await passwordStep(agent, worker.email, worker.password);
    expect(pw.status).toBe(303);
    expect(pw.headers['location']).toBe('/staff/two-factor');
    const pending = cookieOf(pw, 'harbour_s');
    expect(pending).toBeDefined();
    // Half signed in is not signed in.
    expect((await agent.get('/staff/account')).status).toBe(302);
    const code = await codeStep(agent, currentTotp(worker.totpSecret));
    expect(code.status).toBe(303);
    const full = cookieOf(code, 'harbour_s');
    expect(full).toBeDefined();
    expect(full).not.toBe(pending);
    const account = await agent.get('/staff/account');
    expect(account.status).toBe(200);
    expect(account.text).toContain(worker.email);
    // The pending cookie is dead.
    const planted = await request(t.app).get('/staff/account').set('Cookie', `harbour_s=${pending}`);
    expect(planted.status).toBe(302);
  });

  it('a wrong password, an unknown email and a wrong code are refused alike', async () => {
    const agent = request.agent(t.app);
    const wrong = await passwordStep(agent, worker.email, 'not the password at all');
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('do not match an active account');
    const unknown = await passwordStep(agent, 'nobody@example.org', 'whatever whatever');
    expect(unknown.status).toBe(401);
    expect(unknown.text).toContain('do not match an active account');

    const other = await addStaff(t, { roles: ['caseworker'] });
    const a2 = request.agent(t.app);
    expect((await passwordStep(a2, other.email, other.password)).status).toBe(303);
    const bad = await codeStep(a2, '000000');
    expect(bad.status).toBe(401);
    expect((await a2.get('/staff/account')).status).toBe(302);
  });

  it('a TOTP code cannot be used twice', async () => {
    const s = await addStaff(t, { roles: ['admin'] });
    const code = currentTotp(s.totpSecret);
    const a1 = request.agent(t.app);
    await passwordStep(a1, s.email, s.password);
    expect((await codeStep(a1, code)).status).toBe(303);
    const a2 = request.agent(t.app);
    await passwordStep(a2, s.email, s.password);
    const replay = await codeStep(a2, code);
    expect(replay.status).toBe(401);
    expect(replay.text).toContain('already used');
  });

  it('throttles an account after repeated failures, across the right password too', async () => {
    const s = await addStaff(t, { roles: ['caseworker'] });
    for (let i = 0; i < 3; i++) expect((await passwordStep(request.agent(t.app), s.email, 'wrong password here')).status).toBe(401);
    const blocked = await passwordStep(request.agent(t.app), s.email, s.password);
    expect(blocked.status).toBe(429);
    expect(blocked.headers['retry-after']).toBeDefined();
    const failures = await t.testDb.db.selectFrom('audit_log').select('action').where('subject_user_id', '=', s.id).execute();
    expect(failures.filter((f) => f.action === 'staff.sign_in_failed')).toHaveLength(3);
  });

  it('sign out, and sign out everywhere end sessions', async () => {
    const a1 = await signInStaff(t, worker);
    const a2 = await signInStaff(t, worker);
    expect((await a1.get('/staff/account')).status).toBe(200);
    const token = await staffCsrf(a1, '/staff/account');
    expect((await a1.post('/staff/sign-out-everywhere').type('form').send({ _csrf: token })).status).toBe(303);
    expect((await a1.get('/staff/account')).status).toBe(302);
    expect((await a2.get('/staff/account')).status).toBe(302);
    const a3 = await signInStaff(t, worker);
    const t3 = await staffCsrf(a3, '/staff/account');
    expect((await a3.post('/staff/sign-out').type('form').send({ _csrf: t3 })).status).toBe(303);
    expect((await a3.get('/staff/account')).status).toBe(302);
  });

  it('idle and absolute expiry', async () => {
    const agent = await signInStaff(t, worker);
    expect((await agent.get('/staff/account')).status).toBe(200);
    await t.testDb.db
      .updateTable('sessions')
      .set({ last_seen_at: new Date(Date.now() - 31 * 60 * 1000) })
      .where('user_id', '=', worker.id)
      .execute();
    expect((await agent.get('/staff/account')).status).toBe(302);
    const again = await signInStaff(t, worker);
    await t.testDb.db
      .updateTable('sessions')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('user_id', '=', worker.id)
      .execute();
    expect((await again.get('/staff/account')).status).toBe(302);
    const row = await t.testDb.db
      .selectFrom('sessions')
      .select(['expires_at', 'created_at'])
      .where('kind', '=', 'staff')
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    expect(row).toBeDefined();
  });

  it('a password change re-wraps the same keys, keeps the second factor, and ends every session', async () => {
    const s = await addStaff(t, { roles: ['caseworker'] });
    const before = await unlockWithPassword(t.testDb.db, s.email, s.password);
    const other = await signInStaff(t, s);
    const agent = await signInStaff(t, s);
    const token = await staffCsrf(agent, '/staff/account');
    const weak = await agent
      .post('/staff/account/password')
      .type('form')
      .send({ _csrf: token, current_password: s.password, new_password: 'password1234', confirm_password: 'password1234' });
    expect(weak.status).toBe(422);
    expect(weak.text).toContain('commonly used');
    const wrongCurrent = await agent
      .post('/staff/account/password')
      .type('form')
      .send({ _csrf: token, current_password: 'not it at all', new_password: 'a new long passphrase', confirm_password: 'a new long passphrase' });
    expect(wrongCurrent.status).toBe(401);
    const ok = await agent
      .post('/staff/account/password')
      .type('form')
      .send({ _csrf: token, current_password: s.password, new_password: 'a new long passphrase', confirm_password: 'a new long passphrase' });
    expect(ok.status).toBe(303);
    expect((await agent.get('/staff/account')).status).toBe(302);
    expect((await other.get('/staff/account')).status).toBe(302);
    expect(await unlockWithPassword(t.testDb.db, s.email, s.password)).toBeNull();
    const after = await unlockWithPassword(t.testDb.db, s.email, 'a new long passphrase');
    expect(Buffer.from(after!.keyPair.privateKey).equals(Buffer.from(before!.keyPair.privateKey))).toBe(true);
    expect(await teamKeysFor(t.testDb.db, s.id, after!.keyPair).then((k) => k.size)).toBe(1);
    // The second factor survived the re-wrap.
    const again = await signInStaff(t, { ...s, password: 'a new long passphrase' });
    expect((await again.get('/staff/account')).status).toBe(200);
  });

  it('an invitation link creates an account once; it expires', async () => {
    const admin = await addStaff(t, { roles: ['admin'] });
    const agent = await signInStaff(t, admin);
    const token = await staffCsrf(agent, '/admin/staff');
    const res = await agent
      .post('/admin/staff/invitations')
      .type('form')
      .send({ _csrf: token, email: 'new.person@example.org', roles: ['caseworker'] });
    expect(res.status).toBe(201);
    const link = /(http:\/\/localhost:3000\/staff\/invitations\/[A-Za-z0-9_-]{43})/.exec(res.text)![1]!;
    const path = new URL(link).pathname;
    const visitor = request.agent(t.app);
    const form = await staffCsrf(visitor, path);
    const weak = await visitor
      .post(path)
      .type('form')
      .send({ _csrf: form, display_name: 'New Person', password: 'short', confirm_password: 'short' });
    expect(weak.status).toBe(422);
    const ok = await visitor
      .post(path)
      .type('form')
      .send({ _csrf: form, display_name: 'New Person', password: 'a sturdy passphrase here', confirm_password: 'a sturdy passphrase here' });
    expect(ok.status).toBe(303);
    expect((await visitor.get(path)).status).toBe(404); // used
    const user = await t.testDb.db.selectFrom('users').selectAll().where('email', '=', 'new.person@example.org').executeTakeFirstOrThrow();
    expect(user.roles).toEqual(['caseworker']);
    // Where the account came from is kept for whoever approves its access; nothing is granted by accepting.
    expect(user).toMatchObject({ created_via: 'invitation', invited_by: admin.id });
    expect(await t.testDb.db.selectFrom('key_grants').select('user_id').where('user_id', '=', user.id).execute()).toEqual([]);
    // First sign-in goes to enrolment, with a server-rendered QR code.
    const first = request.agent(t.app);
    const t1 = await staffCsrf(first, '/staff/sign-in');
    await first.post('/staff/sign-in').type('form').send({ _csrf: t1, email: 'new.person@example.org', password: 'a sturdy passphrase here' });
    const enrol = await first.get('/staff/two-factor');
    expect(enrol.text).toContain('<svg');
    const key = /class="secret">([A-Z2-7 ]+)</.exec(enrol.text)![1]!.replace(/ /g, '');
    const t2 = /name="_csrf" value="([^"]+)"/.exec(enrol.text)![1]!;
    expect(
      (
        await first
          .post('/staff/two-factor')
          .type('form')
          .send({ _csrf: t2, code: currentTotp(key) })
      ).status,
    ).toBe(303);
    expect((await first.get('/staff/account')).status).toBe(200);
    // An expired invitation is refused.
    const res2 = await agent
      .post('/admin/staff/invitations')
      .type('form')
      .send({ _csrf: token, email: 'late@example.org', roles: ['admin'] });
    const path2 = new URL(/(http:\/\/localhost:3000\/staff\/invitations\/[A-Za-z0-9_-]{43})/.exec(res2.text)![1]!).pathname;
    await t.testDb.db
      .updateTable('invitations')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('email', '=', 'late@example.org')
      .execute();
    expect((await request(t.app).get(path2)).status).toBe(404);
  });
});
