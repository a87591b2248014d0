import request from 'supertest';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { VALID_REPORT, fileReport } from '../helpers/reporter.js';
import { walkRoutes } from '../helpers/routes.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';
import { newKeyPair, sealTo, unsealWith } from '../../server/crypto/index.js';

/**
 * P11: every staff and administrator route, walked as each kind of visitor.
 * Each visitor gets exactly the expected status: signed-out GETs go to the
 * sign-in page (302; it brings them back to the page afterwards), signed-out
 * POSTs get 401, a missing role is 403, a case that does not exist or that
 * the caseworker cannot open is 404, and a caseworker whose access is still
 * waiting for approval is told so (403) on the queue and every case route.
 */
type Who = 'anonymous' | 'reporter' | 'deactivated' | 'caseworker' | 'admin' | 'unapproved';
type Allowed = 'signed-in' | 'caseworker' | 'admin' | 'admin-or-caseworker';
type Route = {
  method: 'GET' | 'POST';
  path: string;
  allowed: Allowed;
  /** status for an allowed visitor (empty form for POSTs) */ ok?: number;
  case?: boolean;
};

let t: TestApp;
const ids = { caseId: '', evidenceId: '', referralId: '', otherUser: '', dummy: '' };
const agents = {} as Record<Who, ReturnType<typeof request.agent>>;
const tokens = {} as Record<Who, string>;

function routes(): Route[] {
  const c = `/staff/cases/${ids.caseId}`;
  return [
    { method: 'GET', path: '/staff', allowed: 'signed-in', ok: 302 },
    { method: 'GET', path: '/staff/account', allowed: 'signed-in', ok: 200 },
    { method: 'POST', path: '/staff/account/password', allowed: 'signed-in', ok: 422 },
    { method: 'POST', path: '/staff/account/alerts', allowed: 'signed-in', ok: 422 }, // no choice made
    { method: 'POST', path: '/staff/account/alert-key', allowed: 'signed-in', ok: 422 }, // no key pasted
    { method: 'POST', path: '/staff/account/alert-key/remove', allowed: 'signed-in', ok: 303 }, // none to remove
    { method: 'POST', path: '/staff/sign-out-everywhere', allowed: 'signed-in' }, // ends the walker's own sessions: allowed run skipped
    { method: 'GET', path: '/staff/cases', allowed: 'caseworker', ok: 200 },
    { method: 'GET', path: '/staff/keys', allowed: 'caseworker', ok: 200 },
    { method: 'POST', path: '/staff/keys/rotate', allowed: 'caseworker' }, // starts a job: allowed run skipped
    { method: 'GET', path: '/staff/access', allowed: 'caseworker', ok: 200 },
    { method: 'POST', path: `/staff/access/${ids.otherUser}/approve`, allowed: 'caseworker', ok: 422 }, // not confirmed: nothing sealed
    { method: 'GET', path: c, allowed: 'caseworker', ok: 200, case: true },
    { method: 'GET', path: `${c}/evidence/${ids.evidenceId}`, allowed: 'caseworker', ok: 200, case: true },
    { method: 'POST', path: `${c}/status`, allowed: 'caseworker', ok: 422, case: true },
    { method: 'POST', path: `${c}/urgency`, allowed: 'caseworker', ok: 422, case: true },
    { method: 'POST', path: `${c}/assignee`, allowed: 'caseworker', ok: 303, case: true }, // empty = unassigned
    { method: 'POST', path: `${c}/labels`, allowed: 'caseworker', ok: 303, case: true },
    { method: 'POST', path: `${c}/links`, allowed: 'caseworker', ok: 422, case: true },
    { method: 'POST', path: `${c}/links/${ids.caseId}/delete`, allowed: 'caseworker', ok: 303, case: true },
    { method: 'POST', path: `${c}/notes`, allowed: 'caseworker', ok: 422, case: true },
    { method: 'POST', path: `${c}/messages`, allowed: 'caseworker', ok: 422, case: true },
    { method: 'POST', path: `${c}/referrals`, allowed: 'caseworker', ok: 422, case: true },
    { method: 'GET', path: `${c}/referrals/${ids.referralId}/pack`, allowed: 'caseworker', ok: 200, case: true },
    { method: 'GET', path: `${c}/referrals/${ids.referralId}/bundle`, allowed: 'caseworker', ok: 200, case: true },
    { method: 'POST', path: `${c}/retention`, allowed: 'caseworker', ok: 422, case: true }, // not closed
    { method: 'POST', path: `${c}/spam`, allowed: 'caseworker', ok: 422, case: true }, // not confirmed
    { method: 'GET', path: '/admin', allowed: 'admin', ok: 302 },
    { method: 'GET', path: '/admin/staff', allowed: 'admin', ok: 200 },
    { method: 'GET', path: '/admin/audit', allowed: 'admin', ok: 200 },
    { method: 'GET', path: '/admin/statistics', allowed: 'admin', ok: 200 },
    { method: 'GET', path: '/admin/statistics.csv', allowed: 'admin', ok: 200 },
    { method: 'GET', path: '/admin/statistics.json', allowed: 'admin', ok: 200 },
    { method: 'GET', path: '/admin/settings', allowed: 'admin', ok: 200 },
    { method: 'POST', path: '/admin/settings', allowed: 'admin', ok: 303 }, // nothing submitted: nothing changes
    { method: 'POST', path: '/admin/settings/alerts', allowed: 'admin', ok: 303 }, // no alert_kinds field: nothing changes
    { method: 'GET', path: '/admin/settings/lists/region', allowed: 'admin', ok: 200 },
    { method: 'POST', path: '/admin/settings/lists/region', allowed: 'admin', ok: 422 },
    { method: 'GET', path: '/admin/settings/lists/region/london', allowed: 'admin', ok: 200 },
    { method: 'POST', path: '/admin/settings/lists/region/london', allowed: 'admin' }, // clears the labels: allowed run skipped
    { method: 'POST', path: '/admin/settings/lists/region/london/retire', allowed: 'admin' }, // changes the form: allowed run skipped
    { method: 'POST', path: '/admin/settings/lists/region/london/restore', allowed: 'admin', ok: 303 },
    { method: 'POST', path: '/admin/staff/invitations', allowed: 'admin', ok: 422 },
    { method: 'POST', path: `/admin/staff/${ids.dummy}/reset-2fa`, allowed: 'admin', ok: 303 },
    { method: 'GET', path: `/admin/staff/${ids.dummy}/deactivate`, allowed: 'admin', ok: 200 }, // the confirmation page: nothing changes
    { method: 'POST', path: `/admin/staff/${ids.dummy}/deactivate`, allowed: 'admin', ok: 422 }, // not confirmed: nothing changes
    { method: 'POST', path: `/admin/staff/${ids.dummy}/reactivate`, allowed: 'admin', ok: 303 }, // already active: nothing changes
    { method: 'POST', path: `/admin/staff/${ids.otherUser}/approve`, allowed: 'admin', ok: 303 }, // records a request; seals nothing
  ];
}

function allows(who: Who, allowed: Allowed): boolean {
  if (who === 'caseworker' || who === 'unapproved') return allowed !== 'admin';
  if (who === 'admin') return allowed !== 'caseworker';
  return false;
}

function send(who: Who, r: Route, path = r.path) {
  const agent = agents[who];
  if (r.method === 'GET') return agent.get(path).redirects(0);
  return agent.post(path).redirects(0).type('form').send({ _csrf: tokens[who] });
}

beforeAll(async () => {
  t = await createTestApp();
  const png = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#123456' } })
    .png()
    .toBuffer();
  const filed = await fileReport(t.app, { ...VALID_REPORT, consent: 'yes' }, [{ name: 'p.png', content: png }]);
  ids.caseId = (await t.testDb.db.selectFrom('reports').select('id').executeTakeFirstOrThrow()).id;
  ids.evidenceId = (await t.testDb.db.selectFrom('evidence').select('id').executeTakeFirstOrThrow()).id;

  const staff: Record<string, TestStaff> = {
    caseworker: await addStaff(t, { roles: ['caseworker'] }),
    admin: await addStaff(t, { roles: ['admin'] }),
    unapproved: await addStaff(t, { roles: ['caseworker'], approved: false }),
    deactivated: await addStaff(t, { roles: ['caseworker', 'admin'] }),
  };
  ids.otherUser = (await addStaff(t, { roles: ['caseworker'], approved: false })).id;
  ids.dummy = (await addStaff(t, { roles: ['caseworker'] })).id;

  for (const who of ['caseworker', 'admin', 'unapproved', 'deactivated'] as const) {
    agents[who] = await signInStaff(t, staff[who]!);
    tokens[who] = await staffCsrf(agents[who], '/staff/account');
  }
  agents.anonymous = request.agent(t.app);
  tokens.anonymous = '';
  agents.reporter = filed.agent; // holds a reporter session, no staff session
  tokens.reporter = '';

  // A referral to walk the pack and bundle routes.
  const page = await agents.caseworker.get(`/staff/cases/${ids.caseId}`);
  const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? tokens.caseworker;
  await agents.caseworker
    .post(`/staff/cases/${ids.caseId}/referrals`)
    .type('form')
    .send({ _csrf: token, destination: 'local_police', referred_on: new Date().toISOString().slice(0, 10), crime_reference: '' });
  ids.referralId = (await t.testDb.db.selectFrom('referrals').select('id').executeTakeFirst())?.id ?? '00000000-0000-4000-8000-000000000000';

  // Deactivate after sign-in: the live session must stop working at once.
  await t.testDb.db.updateTable('users').set({ status: 'deactivated' }).where('id', '=', staff['deactivated']!.id).execute();
});

afterAll(async () => {
  await t.close();
});

describe('P11 route walk', () => {
  for (const who of ['anonymous', 'reporter', 'deactivated'] as const) {
    it(`${who}: every staff route answers 302 to sign-in (GET) or 401 (POST)`, async () => {
      for (const r of routes()) {
        const res = await send(who, r);
        if (r.method === 'GET') {
          expect(res.status, `${who} GET ${r.path}`).toBe(302);
          expect(res.headers['location'], r.path).toBe(`/staff/sign-in?next=${encodeURIComponent(r.path)}`);
        } else {
          expect(res.status, `${who} POST ${r.path}`).toBe(401);
        }
      }
    });
  }

  for (const who of ['caseworker', 'admin'] as const) {
    it(`${who}: allowed routes answer as expected, the others 403`, async () => {
      for (const r of routes()) {
        if (!allows(who, r.allowed)) {
          expect((await send(who, r)).status, `${who} ${r.method} ${r.path}`).toBe(403);
        } else if (r.ok !== undefined) {
          expect((await send(who, r)).status, `${who} ${r.method} ${r.path}`).toBe(r.ok);
        }
      }
    });
  }

  it('caseworker: a case that does not exist, or a malformed id, is 404 on every case route', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const r of routes().filter((x) => x.case)) {
      for (const bad of [missing, 'not-a-uuid', "1' or '1'='1"]) {
        const path = r.path.replace(ids.caseId, encodeURIComponent(bad));
        expect((await send('caseworker', r, path)).status, `${r.method} ${path}`).toBe(404);
      }
    }
  });

  it('a caseworker without the team key reaches the access page but cannot approve anyone, themselves included', async () => {
    expect((await send('unapproved', { method: 'GET', path: '/staff/access', allowed: 'caseworker' })).status).toBe(200);
    // Everyone with a second factor: colleagues, and the unapproved caseworker themselves.
    const staffIds = (
      await t.testDb.db.selectFrom('users').select('id').where('id', '!=', ids.otherUser).where('totp_secret_wrapped', 'is not', null).execute()
    ).map((u) => u.id);
    for (const id of [ids.otherUser, ...staffIds]) {
      const res = await agents.unapproved
        .post(`/staff/access/${id}/approve`)
        .redirects(0)
        .type('form')
        .send({ _csrf: tokens.unapproved, confirm: 'yes' });
      expect(res.status, id).toBe(403);
    }
    expect(await t.testDb.db.selectFrom('key_grants').select('user_id').where('user_id', '=', ids.otherUser).execute()).toEqual([]);
  });

  it('a caseworker whose access is waiting for approval is told so (403) on the queue and every case route', async () => {
    for (const r of [{ method: 'GET', path: '/staff/cases', allowed: 'caseworker' } as Route, ...routes().filter((x) => x.case)]) {
      const res = await send('unapproved', r);
      expect(res.status, `${r.method} ${r.path}`).toBe(403);
      expect(res.text, `${r.method} ${r.path}`).toContain('Your access is waiting for approval');
    }
  });

  it('a caseworker without access to the case key gets 404 on every case route (restricted)', async () => {
    // The case is sealed to a team key this caseworker does not hold (they hold the current one only).
    const other = newKeyPair();
    const { id: keyId } = await t.testDb.db
      .insertInto('team_keys')
      .values({ public_key: other.publicKey, secret_sealed_to_recovery: new Uint8Array(80), retired_at: new Date() })
      .returning('id')
      .executeTakeFirstOrThrow();
    const before = await t.testDb.db
      .selectFrom('reports')
      .select(['team_key_id', 'data_key_sealed'])
      .where('id', '=', ids.caseId)
      .executeTakeFirstOrThrow();
    const dataKey = unsealWith(before.data_key_sealed, t.team!.keyPair);
    await t.testDb.db
      .updateTable('reports')
      .set({ team_key_id: keyId, data_key_sealed: sealTo(dataKey, other.publicKey) })
      .where('id', '=', ids.caseId)
      .execute();
    try {
      for (const r of routes().filter((x) => x.case)) {
        expect((await send('caseworker', r)).status, `${r.method} ${r.path}`).toBe(404);
      }
    } finally {
      await t.testDb.db.updateTable('reports').set(before).where('id', '=', ids.caseId).execute();
      await t.testDb.db.deleteFrom('team_keys').where('id', '=', keyId).execute();
    }
    // The positive control: the same case, sealed back to the team key, opens.
    expect(
      (
        await send(
          'caseworker',
          routes().find((x) => x.case && x.method === 'GET')!,
        )
      ).status,
    ).toBe(200);
  });

  it('the list above names every staff and administrator route of the real router (a new route must say who may use it)', () => {
    const signIn = /^\/staff\/(sign-in|two-factor|sign-out|invitations\/:token)$/;
    const listed = routes();
    const unlisted = walkRoutes(t.app)
      .filter((w) => /^\/(staff|admin)(\/|$|\.)/.test(w.path) && !signIn.test(w.path))
      .filter((w) => {
        const pattern = new RegExp(`^${w.path.replace(/\./g, '\\.').replace(/:\w+/g, '[^/]+')}$`);
        return !listed.some((r) => r.method === w.method && pattern.test(r.path));
      })
      .map((w) => `${w.method} ${w.path}`);
    expect(unlisted).toEqual([]);
  });
});
