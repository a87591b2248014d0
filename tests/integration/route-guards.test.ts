import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { csrfFrom, fileReport, signInWithReceipt, type Agent } from '../helpers/reporter.js';
import { changesState, fillPath, walkRoutes, type WalkedRoute } from '../helpers/routes.js';
import { addStaff, signInStaff, staffCsrf } from '../helpers/staff.js';

/**
 * Guards on the route line, checked over the app's real router: every
 * registered route, not a list kept by hand, so a route added without its
 * guard fails here. The guards are named functions, read off each line:
 * - every state-changing route carries requireCsrf or csrfFirstPart, and
 *   without a token no visitor gets anything but a refusal;
 * - every staff and administrator route but the few that sign people in is
 *   refused without a staff session;
 * - every reporter route under /status/ is refused to a session whose
 *   receipt has not been typed back yet.
 */
type Visitor = 'anonymous' | 'pending reporter' | 'reporter' | 'staff';

/** The staff routes that must answer without a session: they are how one gets a session. */
const SIGN_IN_ROUTES = [
  'GET /staff/sign-in',
  'POST /staff/sign-in',
  'GET /staff/two-factor',
  'POST /staff/two-factor',
  'POST /staff/sign-out',
  'GET /staff/invitations/:token',
  'POST /staff/invitations/:token',
];

/** Reporter routes under /status/ that any session may use: leaving only ends the session (a reporter who has just filed must be able to). */
const ANY_SESSION = ['POST /:lang/status/leave'];

const PARAMS = { lang: 'en', list: 'region', code: 'london', token: 'not-a-real-invitation-token' };
const CSRF_GUARDS = ['requireCsrf', 'csrfFirstPart'];

let t: TestApp;
let routes: WalkedRoute[];
const agents = {} as Record<Visitor, Agent>;
const tokens = {} as Record<Visitor, string>;

const key = (r: WalkedRoute) => `${r.method} ${r.path}`;
const isStaffArea = (r: WalkedRoute) => /^\/(staff|admin)(\/|$|\.)/.test(r.path);
const streamed = (r: WalkedRoute) => r.guards.includes('csrfFirstPart');

/** Sends the route as a form would, with the given token ('' = none): multipart for streamed forms. */
function send(agent: Agent, r: WalkedRoute, token: string) {
  const path = fillPath(r.path, PARAMS);
  if (r.method === 'GET') return agent.get(path).redirects(0);
  const req = agent.post(path).redirects(0);
  if (streamed(r)) return token ? req.field('_csrf', token).field('note', 'x') : req.field('note', 'x');
  return req.type('form').send(token ? { _csrf: token, note: 'x' } : { note: 'x' });
}

beforeAll(async () => {
  t = await createTestApp();
  routes = walkRoutes(t.app);
  const filed = await fileReport(t.app); // the receipt shown, not typed back: a pending session
  agents['pending reporter'] = filed.agent;
  agents.reporter = (await signInWithReceipt(t.app, filed.receipt)).agent;
  agents.anonymous = request.agent(t.app);
  agents.staff = await signInStaff(t, await addStaff(t, { roles: ['caseworker', 'admin'] }));
  tokens.anonymous = await csrfFrom(agents.anonymous, '/en/status');
  tokens['pending reporter'] = await csrfFrom(agents['pending reporter'], '/en/status');
  tokens.reporter = await csrfFrom(agents.reporter, '/en/status');
  tokens.staff = await staffCsrf(agents.staff, '/staff/account');
});

afterAll(async () => {
  await t.close();
});

describe('the walk reads the real router', () => {
  it('finds the reporter and staff routes, each with a handler at the end of its line', () => {
    const found = new Set(routes.map(key));
    for (const known of ['POST /:lang/report', 'GET /:lang/status/evidence/:id', 'POST /staff/cases/:id/notes', 'GET /admin/statistics.csv']) {
      expect(found, known).toContain(known);
    }
    expect(routes.length).toBeGreaterThan(50);
    expect(routes.filter(changesState).length).toBeGreaterThan(30);
  });

  it('the exemptions name routes that exist (the lists cannot go stale)', () => {
    const found = new Set(routes.map(key));
    for (const r of [...SIGN_IN_ROUTES, ...ANY_SESSION]) expect(found, r).toContain(r);
  });
});

describe('CSRF on every state-changing route', () => {
  it('every state-changing route has exactly one CSRF guard on its line, before its handler', () => {
    const missing = routes.filter(changesState).filter((r) => r.guards.filter((g) => CSRF_GUARDS.includes(g)).length !== 1);
    expect(missing.map(key)).toEqual([]);
    for (const r of routes.filter(changesState)) {
      const at = r.guards.findIndex((g) => CSRF_GUARDS.includes(g));
      expect(at, key(r)).toBeLessThan(r.guards.length - 1);
    }
  });

  it('without a token, every visitor is refused (4xx, or sent to sign in), and one who passes the other guards gets 403', async () => {
    for (const r of routes.filter(changesState)) {
      const statuses: Record<string, number> = {};
      for (const who of Object.keys(agents) as Visitor[]) {
        const res = await send(agents[who], r, '');
        statuses[who] = res.status;
        if (res.status >= 300 && res.status < 400) {
          // Refused by the who-guard before the token is looked at: sent to sign in (staff) or to the status page (reporter).
          expect(res.headers['location'], `${who}: ${key(r)}`).toMatch(/^\/(staff\/sign-in|en\/status)$/);
        } else {
          expect(res.status, `${who}: ${key(r)}`).toBeGreaterThanOrEqual(400);
          expect(res.status, `${who}: ${key(r)}`).toBeLessThan(500);
        }
      }
      expect(Object.values(statuses), `${key(r)} ${JSON.stringify(statuses)}`).toContain(403);
    }
  });
});

describe('staff and administrator routes need a staff session', () => {
  it('every staff and admin route but signing in sends the signed-out to sign in (GET) or answers 401', async () => {
    const guarded = routes.filter(isStaffArea).filter((r) => !SIGN_IN_ROUTES.includes(key(r)));
    expect(guarded.length).toBeGreaterThan(30);
    for (const who of ['anonymous', 'reporter'] as const) {
      for (const r of guarded) {
        const res = await send(agents[who], r, tokens[who]);
        if (r.method === 'GET') {
          expect(res.status, `${who}: ${key(r)}`).toBe(302);
          // Sent to sign in, and back to the page asked for afterwards (server/staff/session.ts, safeTarget).
          expect(res.headers['location'], `${who}: ${key(r)}`).toBe(`/staff/sign-in?next=${encodeURIComponent(fillPath(r.path, PARAMS))}`);
        } else {
          expect(res.status, `${who}: ${key(r)}`).toBe(401);
        }
      }
    }
  });
});

describe('reporter status routes need a signed-in reporter', () => {
  it('a session whose receipt has not been typed back is refused on every /status/ route', async () => {
    const status = routes.filter((r) => r.path.startsWith('/:lang/status/') && !ANY_SESSION.includes(key(r)));
    expect(status.length).toBeGreaterThanOrEqual(6);
    for (const r of status) {
      const res = await send(agents['pending reporter'], r, tokens['pending reporter']);
      expect(res.status, key(r)).toBe(401);
    }
  });

  it('the status page shows a pending session the sign-in form, not the report', async () => {
    const res = await agents['pending reporter'].get('/en/status');
    expect(res.status).toBe(200);
    expect(res.text).toContain('name="receipt"');
    expect(res.text).not.toContain('id="message-form"');
  });

  it('the same routes answer a signed-in reporter (the refusal above is the stage, not the route)', async () => {
    const res = await agents.reporter.get('/en/status/withdraw').redirects(0);
    expect(res.status).toBe(200);
  });
});
