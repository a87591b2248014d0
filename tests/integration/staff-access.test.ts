import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataKey, teamKeysFor } from '../../server/staff/keys.js';
import { startRotation } from '../../server/team/rotation.js';
import { unlockWithPassword } from '../../server/staff/users.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { fileReport, type Agent } from '../helpers/reporter.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

/**
 * Case access (server/team/access.ts) under the conditions an attacker or
 * a busy team creates: double clicks and parallel approvals, someone
 * deactivated in the middle, a rotation while a request waits, odd ids.
 * staff-keys.test.ts has the honest path and the self-approval attacks.
 */
let t: TestApp;
let admin: TestStaff;
let alice: TestStaff; // caseworker with access
let bart: TestStaff; // another caseworker with access
let aliceAgent: Agent;

beforeAll(async () => {
  t = await createTestApp();
  admin = await addStaff(t, { roles: ['admin'], name: 'Ada Admin' });
  alice = await addStaff(t, { roles: ['caseworker'], name: 'Alice Keyholder' });
  bart = await addStaff(t, { roles: ['caseworker'], name: 'Bart Keyholder' });
  for (let i = 0; i < 2; i++) await fileReport(t.app);
  aliceAgent = await signInStaff(t, alice);
});
afterAll(async () => {
  await t.close();
});

async function approveAs(agent: Agent, userId: string, fields: Record<string, unknown> = { confirm: 'yes' }) {
  const token = await staffCsrf(agent, '/staff/access');
  return agent
    .post(`/staff/access/${userId}/approve`)
    .type('form')
    .send({ _csrf: token, ...fields });
}
const grantsOf = (userId: string) => t.testDb.db.selectFrom('key_grants').selectAll().where('user_id', '=', userId).execute();
const activeKeyIds = async () =>
  (await t.testDb.db.selectFrom('team_keys').select('id').where('retired_at', 'is', null).orderBy('id').execute()).map((k) => k.id);
async function opensEveryReport(s: TestStaff): Promise<boolean> {
  const u = (await unlockWithPassword(t.testDb.db, s.email, s.password))!;
  const keys = await teamKeysFor(t.testDb.db, s.id, u.keyPair);
  const rows = await t.testDb.db.selectFrom('reports').select(['team_key_id', 'data_key_sealed']).where('state', '=', 'submitted').execute();
  return rows.length > 0 && rows.every((r) => openDataKey(keys, r) !== null);
}

describe('approving access', () => {
  it('16 parallel approvals of one person (a double click, two colleagues) seal each team key once; no 500', async () => {
    const newcomer = await addStaff(t, { roles: ['caseworker'], approved: false });
    const bartAgent = await signInStaff(t, bart);
    const tokens = { alice: await staffCsrf(aliceAgent, '/staff/access'), bart: await staffCsrf(bartAgent, '/staff/access') };
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => {
        const [agent, token] = i % 2 ? [bartAgent, tokens.bart] : [aliceAgent, tokens.alice];
        return agent.post(`/staff/access/${newcomer.id}/approve`).type('form').send({ _csrf: token, confirm: 'yes' });
      }),
    );
    expect(results.map((r) => r.status)).toEqual(Array(16).fill(303));
    const notices = results.map((r) => r.headers['location']);
    expect(notices.filter((l) => l === '/staff/access?notice=approved')).toHaveLength(1);
    expect(notices.filter((l) => l === '/staff/access?notice=already')).toHaveLength(15);
    expect((await grantsOf(newcomer.id)).map((g) => g.team_key_id)).toEqual(await activeKeyIds());
    const approvals = await t.testDb.db
      .selectFrom('audit_log')
      .select('seq')
      .where('action', '=', 'staff.access_approved')
      .where('subject_user_id', '=', newcomer.id)
      .execute();
    expect(approvals).toHaveLength(1);
    expect(await opensEveryReport(newcomer)).toBe(true);
  });

  it('requests and approvals of one person at the same time: every answer a 303, one seal', async () => {
    const newcomer = await addStaff(t, { roles: ['caseworker'], approved: false });
    const adminAgent = await signInStaff(t, admin);
    const adminToken = await staffCsrf(adminAgent, '/admin/staff');
    const token = await staffCsrf(aliceAgent, '/staff/access');
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        i % 2
          ? adminAgent.post(`/admin/staff/${newcomer.id}/approve`).type('form').send({ _csrf: adminToken })
          : aliceAgent.post(`/staff/access/${newcomer.id}/approve`).type('form').send({ _csrf: token, confirm: 'yes' }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(16).fill(303));
    expect((await grantsOf(newcomer.id)).map((g) => g.team_key_id)).toEqual(await activeKeyIds());
  });

  it('someone deactivated since the page was drawn is refused, with nothing sealed', async () => {
    const leaver = await addStaff(t, { roles: ['caseworker'], approved: false });
    const token = await staffCsrf(aliceAgent, '/staff/access');
    await t.testDb.db.updateTable('users').set({ status: 'deactivated', deactivated_at: new Date() }).where('id', '=', leaver.id).execute();
    const res = await aliceAgent.post(`/staff/access/${leaver.id}/approve`).type('form').send({ _csrf: token, confirm: 'yes' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('This account is deactivated or is not a caseworker');
    expect(await grantsOf(leaver.id)).toHaveLength(0);
  });

  it('an approval racing a deactivation never leaves a deactivated account holding a key', async () => {
    const adminAgent = await signInStaff(t, admin);
    const adminToken = await staffCsrf(adminAgent, '/admin/staff');
    const token = await staffCsrf(aliceAgent, '/staff/access');
    for (let round = 0; round < 4; round++) {
      const racer = await addStaff(t, { roles: ['caseworker'], approved: false });
      const [approval, deactivation] = await Promise.all([
        aliceAgent.post(`/staff/access/${racer.id}/approve`).type('form').send({ _csrf: token, confirm: 'yes' }),
        adminAgent.post(`/admin/staff/${racer.id}/deactivate`).type('form').send({ _csrf: adminToken, confirm: 'yes' }),
      ]);
      expect([303, 422]).toContain(approval.status);
      expect(deactivation.status).toBe(303);
      expect(await grantsOf(racer.id), `round ${round}`).toHaveLength(0);
    }
  });

  it('only an active caseworker can be approved; odd ids and repeated fields are a clear 4xx', async () => {
    const adminOnly = await addStaff(t, { roles: ['admin'] });
    const notCaseworker = await approveAs(aliceAgent, adminOnly.id);
    expect(notCaseworker.status).toBe(422);
    expect(await grantsOf(adminOnly.id)).toHaveLength(0);
    const waiting = await addStaff(t, { roles: ['caseworker'], approved: false });
    // A repeated field or another value is not the tick.
    const token = await staffCsrf(aliceAgent, '/staff/access');
    for (const body of [
      'confirm=yes&confirm=yes',
      'confirm=on',
      'confirm=YES',
      '__proto__=yes',
      'constructor=yes',
      '__proto__%5Bconfirm%5D=yes',
      '',
    ]) {
      const res = await aliceAgent
        .post(`/staff/access/${waiting.id}/approve`)
        .type('form')
        .send(`_csrf=${encodeURIComponent(token)}&${body}`);
      expect(res.status, body).toBe(422);
    }
    expect(await grantsOf(waiting.id)).toHaveLength(0);
    for (const id of ['00000000-0000-4000-8000-000000000000', '------------------------------------', '__proto__', 'constructor', "1' or '1'='1"]) {
      expect((await approveAs(aliceAgent, encodeURIComponent(id))).status, id).toBe(404);
    }
    // Without the CSRF token: refused before anything else.
    expect((await aliceAgent.post(`/staff/access/${waiting.id}/approve`).type('form').send({ confirm: 'yes' })).status).toBe(403);
    expect(await grantsOf(waiting.id)).toHaveLength(0);
  });

  it('the staff list shows where each account came from and who approved it', async () => {
    const fresh = await addStaff(t, { roles: ['caseworker'], approved: false, name: 'Fern Fresh' });
    expect((await approveAs(aliceAgent, fresh.id)).status).toBe(303);
    const page = await (await signInStaff(t, admin)).get('/admin/staff');
    const row = page.text.slice(page.text.indexOf('<td>Fern Fresh</td>'));
    expect(row.slice(0, row.indexOf('</tr>'))).toMatch(/granted by Alice Keyholder on \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
  });
  it('an administrator who holds the team key is taken to the confirmation; nothing is sealed until they confirm', async () => {
    const both = await addStaff(t, { roles: ['admin', 'caseworker'], name: 'Bo Both' });
    const agent = await signInStaff(t, both);
    const waiting = await addStaff(t, { roles: ['caseworker'], approved: false });
    const list = await agent.get('/admin/staff');
    expect(list.text).toContain(`href="/staff/access#person-${waiting.id}"`);
    const token = await staffCsrf(agent, '/admin/staff');
    const res = await agent.post(`/admin/staff/${waiting.id}/approve`).type('form').send({ _csrf: token });
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe(`/staff/access#person-${waiting.id}`);
    expect(await grantsOf(waiting.id)).toHaveLength(0);
    expect((await approveAs(agent, waiting.id)).status).toBe(303);
    expect(await grantsOf(waiting.id)).toHaveLength(1);
  });
});

// After this rotation, addStaff's grants (of the set-up key) are retired: later tests approve through the app.
describe('requests and rotation', () => {
  it('a rotation gives the new key to those with access, never to a request nobody confirmed; approval then seals every active key', async () => {
    const asked = await addStaff(t, { roles: ['caseworker'], approved: false });
    const adminAgent = await signInStaff(t, admin);
    const token = await staffCsrf(adminAgent, '/admin/staff');
    expect((await adminAgent.post(`/admin/staff/${asked.id}/approve`).type('form').send({ _csrf: token })).headers['location']).toBe(
      '/admin/staff?notice=requested',
    );
    // Asking twice keeps the first request.
    expect((await adminAgent.post(`/admin/staff/${asked.id}/approve`).type('form').send({ _csrf: token })).headers['location']).toBe(
      '/admin/staff?notice=already_requested',
    );

    const u = (await unlockWithPassword(t.testDb.db, alice.email, alice.password))!;
    const job = await startRotation(t.testDb.db, t.ctx.logger, { id: alice.id, teamKeys: await teamKeysFor(t.testDb.db, alice.id, u.keyPair) });
    // Mid-rotation (two active keys) nobody got a key for the request.
    expect(await grantsOf(asked.id)).toHaveLength(0);
    await job.promise;
    expect(await grantsOf(asked.id)).toHaveLength(0);
    const holders = await t.testDb.db.selectFrom('key_grants').select('approved_by').where('user_id', '=', bart.id).execute();
    expect(holders).toHaveLength(1); // bart kept access, on the new key only

    // Alice's session unseals her grants per request: it now holds the new key.
    expect((await approveAs(aliceAgent, asked.id)).status).toBe(303);
    expect((await grantsOf(asked.id)).map((g) => g.team_key_id)).toEqual(await activeKeyIds());
    expect(await opensEveryReport(asked)).toBe(true);
    const row = await t.testDb.db
      .selectFrom('users')
      .select(['access_requested_by', 'access_requested_at'])
      .where('id', '=', asked.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ access_requested_by: null, access_requested_at: null }); // the request is answered (the audit log keeps it)
  });

  it('a second factor not yet set up is shown to the approver', async () => {
    const neverSignedIn = await addStaff(t, { roles: ['caseworker'], approved: false, name: 'Nell Never' });
    await t.testDb.db.updateTable('users').set({ totp_secret_wrapped: null }).where('id', '=', neverSignedIn.id).execute();
    const page = await aliceAgent.get('/staff/access');
    const section = page.text.slice(page.text.indexOf(`id="person-${neverSignedIn.id}"`));
    expect(section.slice(0, section.indexOf('</section>'))).toContain('<dt>Second factor</dt><dd>not set up</dd>');
  });
});
