import request from 'supertest';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTotp, sealTo } from '../../server/crypto/index.js';
import { TARGET_MAX_LENGTH, safeTarget } from '../../server/staff/session.js';
import { createUser } from '../../server/staff/users.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { insertReports } from '../helpers/reports.js';
import { addStaff, type TestStaff } from '../helpers/staff.js';

/**
 * Signing in from a deep link (issue 11): a page asked for while signed out
 * is where the sign-in lands, after the password and the second factor (or
 * its first set-up), and never anywhere off this site or outside the staff
 * pages. Each completed sign-in is recorded on the database clock.
 */

let t: TestApp;
let worker: TestStaff;
let admin: TestStaff;
let caseId: string;

type Agent = ReturnType<typeof request.agent>;
const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

/** The password step from the sign-in page at `signInPath`, sending `next` as the form would (or as a forger would). */
async function passwordStep(agent: Agent, who: { email: string; password: string }, signInPath = '/staff/sign-in', next?: string) {
  const page = await agent.get(signInPath);
  expect(page.status).toBe(200);
  const hidden = /name="next" value="([^"]*)"/.exec(page.text)?.[1]?.replace(/&amp;/g, '&');
  const res = await agent
    .post('/staff/sign-in')
    .redirects(0)
    .type('form')
    .send({ _csrf: csrfOf(page.text), email: who.email, password: who.password, ...((next ?? hidden) ? { next: next ?? hidden } : {}) });
  expect(res.status, res.text.slice(0, 300)).toBe(303);
  expect(res.headers['location']).toBe('/staff/two-factor');
  return { hidden };
}

/** The code step; returns where the completed sign-in lands. */
async function codeStep(agent: Agent, secret: string): Promise<string> {
  const page = await agent.get('/staff/two-factor');
  const res = await agent
    .post('/staff/two-factor')
    .redirects(0)
    .type('form')
    .send({ _csrf: csrfOf(page.text), code: currentTotp(secret) });
  expect(res.status, res.text.slice(0, 300)).toBe(303);
  return String(res.headers['location']);
}

/** A whole sign-in; each code works once, so the last used step is forgotten first (as signInStaff does). */
async function signIn(who: TestStaff, signInPath?: string, next?: string): Promise<{ agent: Agent; landed: string }> {
  await t.testDb.db.updateTable('users').set({ totp_last_step: null }).where('id', '=', who.id).execute();
  const agent = request.agent(t.app);
  await passwordStep(agent, who, signInPath, next);
  return { agent, landed: await codeStep(agent, who.totpSecret) };
}

beforeAll(async () => {
  t = await createTestApp();
  worker = await addStaff(t, { roles: ['caseworker'] });
  admin = await addStaff(t, { roles: ['admin'] });
  caseId = (await insertReports(t, 1))[0]!;
});

afterAll(async () => {
  await t?.close();
});

describe('signing in from a deep link', () => {
  it('sends the signed-out to sign in with the page asked for, and lands there after the password and the code', async () => {
    const deep = `/staff/cases/${caseId}`;
    const first = await request(t.app).get(deep).redirects(0);
    expect(first.status).toBe(302);
    expect(first.headers['location']).toBe(`/staff/sign-in?next=${encodeURIComponent(deep)}`);
    await t.testDb.db.updateTable('users').set({ totp_last_step: null }).where('id', '=', worker.id).execute();
    const agent = request.agent(t.app);
    const { hidden } = await passwordStep(agent, worker, String(first.headers['location']));
    expect(hidden).toBe(deep);
    expect((await agent.get(`/staff/sign-in?next=${encodeURIComponent(deep)}`)).text).toContain('Sign in to go on to the page you asked for.');
    expect(await codeStep(agent, worker.totpSecret)).toBe(deep);
    // A query string comes along too.
    const filtered = '/staff/cases?status=closed&category=family';
    const res = await request(t.app).get(filtered).redirects(0);
    expect((await signIn(worker, String(res.headers['location']))).landed).toBe(filtered);
  });

  it('lands there through a first sign-in too, after setting up the second factor', async () => {
    const email = `first-${Date.now()}@example.org`;
    const password = 'a sturdy passphrase for the first time';
    const made = await createUser(t.testDb.db, { email, displayName: 'First Timer', roles: ['caseworker'], password });
    await t.testDb.db
      .insertInto('key_grants')
      .values({
        user_id: made.id,
        team_key_id: t.team!.id,
        sealed_secret: sealTo(t.team!.keyPair.privateKey, made.keyPair.publicKey),
        approved_by: null,
        sealed_at: new Date(),
      })
      .execute();
    const deep = `/staff/cases/${caseId}`;
    const agent = request.agent(t.app);
    await passwordStep(agent, { email, password }, `/staff/sign-in?next=${encodeURIComponent(deep)}`);
    const enrol = await agent.get('/staff/two-factor');
    expect(enrol.text).toContain('<svg');
    const secret = /class="secret">([A-Z2-7 ]+)</.exec(enrol.text)![1]!.replace(/ /g, '');
    const done = await agent
      .post('/staff/two-factor')
      .redirects(0)
      .type('form')
      .send({ _csrf: csrfOf(enrol.text), code: currentTotp(secret) });
    expect(done.status).toBe(303);
    expect(done.headers['location']).toBe(deep);
  });

  it('keeps the page asked for when the password is wrong first', async () => {
    const deep = `/staff/cases/${caseId}`;
    const agent = request.agent(t.app);
    const page = await agent.get(`/staff/sign-in?next=${encodeURIComponent(deep)}`);
    const wrong = await agent
      .post('/staff/sign-in')
      .type('form')
      .send({ _csrf: csrfOf(page.text), email: worker.email, password: 'not the password', next: deep });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain(`name="next" value="${deep}"`);
  });

  it('lands on the queue (or the staff list) without a page asked for, or one the roles cannot open', async () => {
    expect((await signIn(worker)).landed).toBe('/staff/cases');
    expect((await signIn(admin)).landed).toBe('/admin/staff');
    expect((await signIn(admin, undefined, `/staff/cases/${caseId}`)).landed).toBe('/admin/staff');
    expect((await signIn(worker, undefined, '/admin/audit')).landed).toBe('/staff/cases');
    expect((await signIn(admin, undefined, '/admin/audit?action=case.referred')).landed).toBe('/admin/audit?action=case.referred');
    expect((await signIn(worker, undefined, '/staff')).landed).toBe('/staff/cases');
  });
});

/** Every one of these must land on the queue, never anywhere else. */
const ATTACKS = [
  '//evil.example',
  '//evil.example/staff/cases',
  'https://evil.example',
  'https://evil.example/staff/cases',
  'http:evil.example',
  'javascript:alert(1)',
  '/\\evil.example',
  '\\\\evil.example',
  '/staff/..\\..\\evil.example',
  '/staff/../../x',
  '/staff/cases/../../x',
  '/staff/./cases',
  '/staff//evil.example',
  '/staff/%2e%2e/%2e%2e/x',
  '/staff/%2E%2E/x',
  '/staff/%2f%2fevil.example',
  '/staff/%5cevil.example',
  '%2F%2Fevil.example',
  '/%2F/evil.example',
  '/staff/cases%0d%0aLocation:%20https://evil.example',
  '/staff/cases\r\nLocation: https://evil.example',
  '/staff/cases\nSet-Cookie: x=1',
  '/staff/cases\t',
  ' /staff/cases',
  '/staff/cases#https://evil.example',
  '/staffevil.example',
  '/staff@evil.example',
  '/admin.evil.example',
  'staff/cases',
  '/elsewhere',
  '/en/report',
  '/staff/sign-in',
  '/staff/two-factor',
  '/staff/cases%',
  '/staff/cases%zz',
  '/staff/cases?x=%0d%0a',
  '/staff/cases?label[]=x',
  `/staff/cases?${'a'.repeat(TARGET_MAX_LENGTH)}`,
  '/staff/caseś',
  '',
];

describe('the page to land on is never an open redirect', () => {
  it('refuses every target off this site or outside the staff pages', () => {
    for (const target of ATTACKS) expect(safeTarget(target), JSON.stringify(target)).toBeNull();
    for (const odd of [undefined, null, 42, ['/staff/cases'], { toString: () => '/staff/cases' }]) expect(safeTarget(odd)).toBeNull();
    for (const fine of ['/staff/cases', `/staff/cases/${caseId}`, '/staff/cases?status=closed&sort=oldest', '/admin/statistics.csv', '/staff/keys'])
      expect(safeTarget(fine), fine).toBe(fine);
  });

  it('lands on the queue for every one of them, sent through the form', async () => {
    for (const target of ATTACKS) {
      const { landed } = await signIn(worker, undefined, target);
      expect(landed, JSON.stringify(target)).toBe('/staff/cases');
    }
  });

  it('does not offer them on the sign-in page, and the redirect to sign in carries only a safe page', async () => {
    for (const target of ATTACKS) {
      const page = await request(t.app).get(`/staff/sign-in?next=${encodeURIComponent(target)}`);
      expect(page.status).toBe(200);
      expect(page.text, JSON.stringify(target)).not.toContain('name="next"');
    }
    // Odd request paths under /staff reach the guard as they are; it passes on none of them.
    for (const path of ['/staff/cases/%5c%5cevil.example', '/staff/cases/%2e%2e', '/staff/cases/..%2f..%2fx']) {
      const res = await request(t.app).get(path).redirects(0);
      expect(res.status, path).toBe(302);
      expect(res.headers['location'], path).toBe('/staff/sign-in');
    }
  });
});

describe('the time of the last completed sign-in', () => {
  it('is set at the second factor, on the database clock, and not by the password alone', async () => {
    const who = await addStaff(t, { roles: ['caseworker'] });
    const read = async () =>
      (await t.testDb.db.selectFrom('users').select('last_signed_in_at').where('id', '=', who.id).executeTakeFirstOrThrow()).last_signed_in_at;
    expect(await read()).toBeNull();
    const half = request.agent(t.app);
    await passwordStep(half, who);
    expect(await read()).toBeNull();
    const before = (await sql<{ now: Date }>`select now() as now`.execute(t.testDb.db)).rows[0]!.now;
    await codeStep(half, who.totpSecret);
    const after = (await sql<{ now: Date }>`select now() as now`.execute(t.testDb.db)).rows[0]!.now;
    const first = await read();
    expect(first).toBeInstanceOf(Date);
    expect(first!.getTime()).toBeGreaterThanOrEqual(before.getTime());
    expect(first!.getTime()).toBeLessThanOrEqual(after.getTime());
    // A wrong code records nothing; the next sign-in moves it on.
    await t.testDb.db
      .updateTable('users')
      .set({ last_signed_in_at: new Date('2026-01-01T00:00:00Z') })
      .where('id', '=', who.id)
      .execute();
    await t.testDb.db.updateTable('users').set({ totp_last_step: null }).where('id', '=', who.id).execute();
    const again = request.agent(t.app);
    await passwordStep(again, who);
    const page = await again.get('/staff/two-factor');
    const wrong = await again
      .post('/staff/two-factor')
      .type('form')
      .send({ _csrf: csrfOf(page.text), code: currentTotp(who.totpSecret) === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBe(401);
    expect((await read())!.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    await codeStep(again, who.totpSecret);
    expect((await read())!.getTime()).toBeGreaterThan(new Date('2026-06-01T00:00:00Z').getTime());
  });
});
