import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { fileReport, type Agent } from '../helpers/reporter.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

/**
 * Deactivating and reactivating staff accounts (/admin/staff): the
 * deactivation is confirmed first (a page, no script), the page after it
 * suggests a team-key rotation when the person held the key, and a
 * reactivation gives the account back without its key: access is requested
 * again and a key holder must confirm it. Parallel requests leave one state,
 * and the last administrator cannot be removed.
 */
let t: TestApp;
let admin: TestStaff; // administrator and caseworker with access
let adminAgent: Agent;
let adminOnly: TestStaff; // administrator without the caseworker role
let adminOnlyAgent: Agent;
let caseId: string;

beforeAll(async () => {
  t = await createTestApp();
  admin = await addStaff(t, { roles: ['admin', 'caseworker'], name: 'Ada Both' });
  adminOnly = await addStaff(t, { roles: ['admin'], name: 'Otto Admin' });
  adminAgent = await signInStaff(t, admin);
  adminOnlyAgent = await signInStaff(t, adminOnly);
  await fileReport(t.app);
  caseId = (await t.testDb.db.selectFrom('reports').select('id').where('state', '=', 'submitted').executeTakeFirstOrThrow()).id;
});
afterAll(async () => {
  await t.close();
});

const userRow = (id: string) => t.testDb.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const grantsOf = (id: string) => t.testDb.db.selectFrom('key_grants').selectAll().where('user_id', '=', id).execute();
const sessionsOf = (id: string) => t.testDb.db.selectFrom('sessions').select('user_id').where('user_id', '=', id).execute();
const auditOf = (id: string) =>
  t.testDb.db
    .selectFrom('audit_log')
    .select(['seq', 'action', 'actor_id'])
    .where('subject_user_id', '=', id)
    .where('action', 'in', ['staff.deactivated', 'staff.reactivated', 'staff.access_requested'])
    .orderBy('seq')
    .execute();

async function postAs(agent: Agent, path: string, fields: Record<string, string | string[]> = {}) {
  const token = await staffCsrf(agent, '/admin/staff');
  return agent
    .post(path)
    .type('form')
    .send({ _csrf: token, ...fields });
}
const deactivate = (agent: Agent, id: string) => postAs(agent, `/admin/staff/${id}/deactivate`, { confirm: 'yes' });
const reactivate = (agent: Agent, id: string) => postAs(agent, `/admin/staff/${id}/reactivate`);

describe('deactivation asks for confirmation', () => {
  it('the list links to a confirmation page; only its confirmed form deactivates', async () => {
    const casey = await addStaff(t, { roles: ['caseworker'], name: 'Casey Leaving' });
    const caseyAgent = await signInStaff(t, casey);
    const list = (await adminAgent.get('/admin/staff')).text;
    // No form on the list deactivates anyone: a link to the confirmation step.
    expect(list).not.toContain(`action="/admin/staff/${casey.id}/deactivate"`);
    expect(list).toContain(`href="/admin/staff/${casey.id}/deactivate"`);

    const page = await adminAgent.get(`/admin/staff/${casey.id}/deactivate`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Deactivate Casey Leaving?');
    expect(page.text).toContain('They are signed out everywhere at once');
    expect(page.text).toContain('Their copy of the team key is deleted');
    expect(page.text).toContain('You can reactivate the account later');
    expect(page.text).toContain(`action="/admin/staff/${casey.id}/deactivate"`);
    expect(page.text).toMatch(/<input type="hidden" name="confirm" value="yes">/);
    // Showing the page changes nothing.
    expect((await userRow(casey.id)).status).toBe('active');

    // A POST without the confirmation (an old form, a forged click) changes nothing either: the page again, 422.
    const token = await staffCsrf(adminAgent, '/admin/staff');
    for (const body of ['', '&confirm=no', '&confirm=yes&confirm=yes', '&confirm=YES', '&confirm=on', '&__proto__=yes', '&constructor=yes']) {
      const res = await adminAgent
        .post(`/admin/staff/${casey.id}/deactivate`)
        .type('form')
        .send(`_csrf=${encodeURIComponent(token)}${body}`);
      expect(res.status, body).toBe(422);
      expect(res.text).toContain('Nothing has changed yet');
    }
    expect((await userRow(casey.id)).status).toBe('active');
    expect(await grantsOf(casey.id)).toHaveLength(1);
    expect((await caseyAgent.get('/staff/account')).status).toBe(200); // still signed in
    expect((await auditOf(casey.id)).map((a) => a.action)).toEqual([]);

    const done = await deactivate(adminAgent, casey.id);
    expect(done.status).toBe(303);
    expect((await userRow(casey.id)).status).toBe('deactivated');
    expect((await caseyAgent.get('/staff/account')).status).toBe(302);
    expect(await grantsOf(casey.id)).toHaveLength(0);
    expect(await sessionsOf(casey.id)).toHaveLength(0);
  });

  it('an unknown or malformed id is 404; a deactivated account has no confirmation page', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      expect((await adminAgent.get(`/admin/staff/${id}/deactivate`)).status).toBe(404);
      expect((await postAs(adminAgent, `/admin/staff/${id}/deactivate`, { confirm: 'yes' })).status).toBe(404);
      expect((await postAs(adminAgent, `/admin/staff/${id}/reactivate`)).status).toBe(404);
    }
    const gone = await addStaff(t, { roles: ['caseworker'] });
    expect((await deactivate(adminAgent, gone.id)).status).toBe(303);
    const page = await adminAgent.get(`/admin/staff/${gone.id}/deactivate`).redirects(0);
    expect(page.status).toBe(303);
    expect(page.headers['location']).toBe('/admin/staff?notice=deactivated#staff-notice');
  });
});

describe('the page after a deactivation', () => {
  it('suggests rotating the team key when the person held it, says why, and links to the keys page', async () => {
    const keyHolder = await addStaff(t, { roles: ['caseworker'], name: 'Kim Keyholder' });
    const res = await deactivate(adminAgent, keyHolder.id);
    expect(res.headers['location']).toBe('/admin/staff?notice=deactivated_key_holder#staff-notice');
    const page = (await adminAgent.get(res.headers['location'] as string)).text;
    const box = /<div class="confirmation" id="staff-notice" role="status" tabindex="-1">[^]*?<\/div>\s*<\/div>/.exec(page)?.[0] ?? '';
    expect(box).toContain('its copy of the team key is deleted');
    expect(box).toContain('may have kept a copy of it');
    expect(box).toContain('<a href="/staff/keys">Rotate it on the team key page</a>');
    // The keys page is for caseworkers: an administrator who is not one is told to ask one, with no link they cannot follow.
    const otto = (await adminOnlyAgent.get(res.headers['location'] as string)).text;
    expect(otto).toContain('may have kept a copy of it');
    expect(otto).toContain('ask one to do it now');
    expect(otto).not.toContain('href="/staff/keys"');
    expect((await adminAgent.get('/staff/keys')).status).toBe(200);
  });

  it('says nothing of a rotation when the person never held the key', async () => {
    const waiting = await addStaff(t, { roles: ['caseworker'], approved: false });
    const res = await deactivate(adminAgent, waiting.id);
    expect(res.headers['location']).toBe('/admin/staff?notice=deactivated#staff-notice');
    const page = (await adminAgent.get(res.headers['location'] as string)).text;
    expect(page).toContain('The account is deactivated and signed out everywhere.');
    expect(page).not.toContain('may have kept a copy');
  });
});

describe('reactivation', () => {
  it('makes the account active again, audited; no key comes back; the access request waits for a key holder', async () => {
    const casey = await addStaff(t, { roles: ['caseworker'], name: 'Casey Returning' });
    const oldAgent = await signInStaff(t, casey);
    expect((await oldAgent.get(`/staff/cases/${caseId}`)).status).toBe(200);
    expect((await deactivate(adminOnlyAgent, casey.id)).status).toBe(303);
    // While deactivated: no sign-in.
    await expect(signInStaff(t, casey)).rejects.toThrow();

    const list = (await adminOnlyAgent.get('/admin/staff')).text;
    expect(list).toContain(`action="/admin/staff/${casey.id}/reactivate"`);
    const res = await reactivate(adminOnlyAgent, casey.id);
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe('/admin/staff?notice=reactivated_requested#staff-notice');
    const after = (await adminOnlyAgent.get(res.headers['location'] as string)).text;
    expect(after).toContain('The account is active again');
    expect(after).toContain('cannot open any case yet');

    const row = await userRow(casey.id);
    expect(row.status).toBe('active');
    expect(row.deactivated_at).toBeNull();
    expect(row.access_requested_by).toBe(adminOnly.id);
    expect(row.access_requested_at).not.toBeNull();
    expect(await grantsOf(casey.id)).toHaveLength(0);
    expect((await auditOf(casey.id)).map((a) => [a.action, a.actor_id])).toEqual([
      ['staff.deactivated', adminOnly.id],
      ['staff.reactivated', adminOnly.id],
      ['staff.access_requested', adminOnly.id],
    ]);
    // The old session stays ended; a new sign-in works as before, but opens no case.
    expect((await oldAgent.get('/staff/account')).status).toBe(302);
    const fresh = await signInStaff(t, casey);
    expect((await fresh.get('/staff/account')).status).toBe(200);
    const closed = await fresh.get(`/staff/cases/${caseId}`);
    expect(closed.status).toBe(403); // told their access is waiting for approval, shown nothing of the case
    expect(closed.text).toContain('Your access is waiting for approval');

    // The request is on the case access page of a key holder, who confirms it as for anyone new.
    const access = (await adminAgent.get('/staff/access')).text;
    expect(access).toContain('Casey Returning');
    expect(access).toContain('<dt>Access requested</dt><dd>By Otto Admin on');
    const token = await staffCsrf(adminAgent, '/staff/access');
    expect((await adminAgent.post(`/staff/access/${casey.id}/approve`).type('form').send({ _csrf: token, confirm: 'yes' })).status).toBe(303);
    expect(await grantsOf(casey.id)).toHaveLength(1);
    expect((await (await signInStaff(t, casey)).get(`/staff/cases/${caseId}`)).status).toBe(200);
  });

  it('an administrator-only account comes back with nothing to approve; reactivating an active account changes nothing', async () => {
    const other = await addStaff(t, { roles: ['admin'], name: 'Ola Admin' });
    expect((await deactivate(adminAgent, other.id)).status).toBe(303);
    const res = await reactivate(adminAgent, other.id);
    expect(res.headers['location']).toBe('/admin/staff?notice=reactivated#staff-notice');
    expect((await userRow(other.id)).access_requested_at).toBeNull();
    expect((await (await signInStaff(t, other)).get('/admin/staff')).status).toBe(200);
    const before = await auditOf(other.id);
    const again = await reactivate(adminAgent, other.id);
    expect(again.status).toBe(303);
    expect(again.headers['location']).toBe('/admin/staff');
    expect(await auditOf(other.id)).toEqual(before);
  });

  it('16 parallel deactivations and reactivations of one person leave one consistent state, each change audited once', async () => {
    const casey = await addStaff(t, { roles: ['caseworker'], name: 'Casey Flapping' });
    const tokens = { admin: await staffCsrf(adminAgent, '/admin/staff'), otto: await staffCsrf(adminOnlyAgent, '/admin/staff') };
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => {
        const [agent, token] = i % 4 < 2 ? [adminAgent, tokens.admin] : [adminOnlyAgent, tokens.otto];
        const path = `/admin/staff/${casey.id}/${i % 2 ? 'reactivate' : 'deactivate'}`;
        return agent.post(path).type('form').send({ _csrf: token, confirm: 'yes' });
      }),
    );
    expect(results.map((r) => r.status)).toEqual(Array(16).fill(303));
    const row = await userRow(casey.id);
    const changes = (await auditOf(casey.id)).filter((a) => a.action !== 'staff.access_requested').map((a) => a.action);
    // Changes alternate, starting from active, and the last one is the state the account is in.
    expect(changes[0]).toBe('staff.deactivated');
    for (let i = 1; i < changes.length; i++) expect(changes[i], `change ${i}`).not.toBe(changes[i - 1]);
    expect(changes.at(-1)).toBe(row.status === 'active' ? 'staff.reactivated' : 'staff.deactivated');
    expect(row.deactivated_at === null).toBe(row.status === 'active');
    // Whatever the order, the key never came back, and no session was left.
    expect(await grantsOf(casey.id)).toHaveLength(0);
    expect(await sessionsOf(casey.id)).toHaveLength(0);
    // Each reactivation asked for access again; a request is waiting exactly when the account is active.
    const requests = (await auditOf(casey.id)).filter((a) => a.action === 'staff.access_requested');
    expect(requests).toHaveLength(changes.filter((c) => c === 'staff.reactivated').length);
    expect(row.access_requested_at === null).toBe(row.status === 'deactivated');
  });
});

describe('nobody locks the administrators out', () => {
  it('the last active administrator cannot deactivate themselves: the confirmation page says so and offers no button', async () => {
    const app = await createTestApp();
    try {
      const only = await addStaff(app, { roles: ['admin', 'caseworker'], name: 'Solo Admin' });
      const agent = await signInStaff(app, only);
      const page = await agent.get(`/admin/staff/${only.id}/deactivate`);
      expect(page.status).toBe(200);
      expect(page.text).toContain('This is the last active administrator');
      expect(page.text).not.toContain('name="confirm"');
      const token = await staffCsrf(agent, '/admin/staff');
      const res = await agent.post(`/admin/staff/${only.id}/deactivate`).type('form').send({ _csrf: token, confirm: 'yes' });
      expect(res.status).toBe(409);
      expect(res.text).toContain('This is the last active administrator');
      const unconfirmed = await agent.post(`/admin/staff/${only.id}/deactivate`).type('form').send({ _csrf: token });
      expect(unconfirmed.status).toBe(422);
      expect(unconfirmed.text).toContain('This is the last active administrator');
      expect(unconfirmed.text).not.toContain('use the button on this page');
      expect((await app.testDb.db.selectFrom('users').select('status').where('id', '=', only.id).executeTakeFirstOrThrow()).status).toBe('active');
      expect((await agent.get('/admin/staff')).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('an administrator may deactivate their own account while another remains, and is signed out; warned first', async () => {
    const leaving = await addStaff(t, { roles: ['admin'], name: 'Lee Leaving' });
    const agent = await signInStaff(t, leaving);
    expect((await agent.get(`/admin/staff/${leaving.id}/deactivate`)).text).toContain('This is your own account');
    expect((await deactivate(agent, leaving.id)).status).toBe(303);
    expect((await agent.get('/admin/staff').redirects(0)).status).toBe(302);
  });

  it('two administrators deactivating each other at once: one of them remains', async () => {
    const app = await createTestApp();
    try {
      const a = await addStaff(app, { roles: ['admin'], name: 'Admin A' });
      const b = await addStaff(app, { roles: ['admin'], name: 'Admin B' });
      const [agentA, agentB] = [await signInStaff(app, a), await signInStaff(app, b)];
      const [tokenA, tokenB] = [await staffCsrf(agentA, '/admin/staff'), await staffCsrf(agentB, '/admin/staff')];
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          i % 2
            ? agentA.post(`/admin/staff/${b.id}/deactivate`).type('form').send({ _csrf: tokenA, confirm: 'yes' })
            : agentB.post(`/admin/staff/${a.id}/deactivate`).type('form').send({ _csrf: tokenB, confirm: 'yes' }),
        ),
      );
      // Refused as the last administrator (409), or done (303), or refused because the asker is gone
      // already (401 at the session check, 403 when it went while the request waited for the lock).
      for (const r of results) expect([303, 401, 403, 409]).toContain(r.status);
      const active = await app.testDb.db.selectFrom('users').select('id').where('status', '=', 'active').execute();
      expect(active).toHaveLength(1);
      const deactivations = await app.testDb.db.selectFrom('audit_log').select('seq').where('action', '=', 'staff.deactivated').execute();
      expect(deactivations).toHaveLength(1);
    } finally {
      await app.close();
    }
  });

  it('an administrator being deactivated cannot undo it, or act, through requests already in flight', async () => {
    const app = await createTestApp();
    try {
      const x = await addStaff(app, { roles: ['admin'], name: 'Xavier Leaving' });
      const y = await addStaff(app, { roles: ['admin'], name: 'Yvonne Staying' });
      const z = await addStaff(app, { roles: ['admin'], name: 'Zed Third' });
      const [agentX, agentY] = [await signInStaff(app, x), await signInStaff(app, y)];
      const [tokenX, tokenY] = [await staffCsrf(agentX, '/admin/staff'), await staffCsrf(agentY, '/admin/staff')];
      const results = await Promise.all([
        agentY.post(`/admin/staff/${x.id}/deactivate`).type('form').send({ _csrf: tokenY, confirm: 'yes' }),
        ...Array.from({ length: 16 }, () => agentX.post(`/admin/staff/${x.id}/reactivate`).type('form').send({ _csrf: tokenX })),
      ]);
      expect(results[0]!.status).toBe(303);
      for (const r of results.slice(1)) expect([401, 403]).toContain(r.status); // never a 500, never done
      expect((await app.testDb.db.selectFrom('users').select('status').where('id', '=', x.id).executeTakeFirstOrThrow()).status).toBe('deactivated');

      // A request of X's that passed the session check before the deactivation, and runs after it:
      const { deactivateAccount, reactivateAccount } = await import('../../server/admin/accounts.js');
      expect(await deactivateAccount(app.testDb.db, x.id, z.id)).toEqual({ result: 'not_allowed' });
      expect(await reactivateAccount(app.testDb.db, x.id, x.id)).toEqual({ result: 'not_allowed' });
      expect((await app.testDb.db.selectFrom('users').select('status').where('id', '=', z.id).executeTakeFirstOrThrow()).status).toBe('active');
      const byX = await app.testDb.db
        .selectFrom('audit_log')
        .select('action')
        .where('actor_id', '=', x.id)
        .where('action', 'in', ['staff.deactivated', 'staff.reactivated'])
        .execute();
      expect(byX).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
