import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { fileReport } from '../helpers/reporter.js';
import { addStaff, signInStaff } from '../helpers/staff.js';

/**
 * Clocks that disagree. The fault drill ran an instance 40 minutes behind
 * the database (a new reporter session was already "idle": the receipt page
 * sent the reporter away) and one 3 hours ahead (sessions outlived their
 * limits). Every session and expiry time now comes from the database's
 * clock; here the app's clock is moved and the database's is not.
 */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});
afterEach(() => {
  vi.useRealTimers();
});

const skew = (ms: number) => {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + ms });
};

/** Seconds from the database's now() to each of the newest session's times. */
async function newestSession() {
  const row = await sql<{ expires_in: number; seen_ago: number; kind: string }>`
    select extract(epoch from expires_at - now())::float as expires_in, extract(epoch from now() - last_seen_at)::float as seen_ago, kind
    from sessions order by created_at desc limit 1`.execute(t.testDb.db);
  return row.rows[0]!;
}

describe('an app clock 40 minutes behind the database', () => {
  it('a reporter who just filed a report sees the receipt page, and the status page after confirming it', async () => {
    skew(-40 * 60_000);
    const { agent, receipt } = await fileReport(t.app); // fails if the receipt page redirected away
    const page = await agent.get('/en/report/receipt');
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    expect((await agent.post('/en/report/receipt').type('form').send({ _csrf: token, receipt })).status).toBe(303);
    const status = await agent.get('/en/status');
    expect(status.text).toContain('phoned my mother');
    const s = await newestSession();
    expect(s.kind).toBe('reporter');
    expect(Math.abs(s.seen_ago)).toBeLessThan(120);
  });

  it('a caseworker signs in and stays signed in', async () => {
    skew(-40 * 60_000);
    const cw = await addStaff(t, { roles: ['caseworker'] });
    const agent = await signInStaff(t, cw);
    expect((await agent.get('/staff/cases').redirects(0)).status).toBe(200);
  });
});

describe('an app clock 3 hours ahead', () => {
  it('sessions still end on time: expiry is counted from the database clock', async () => {
    skew(3 * 3600_000);
    await fileReport(t.app);
    const reporter = await newestSession();
    expect(reporter.expires_in).toBeGreaterThan(2 * 3600 - 120);
    expect(reporter.expires_in).toBeLessThan(2 * 3600 + 120); // two hours, not five
    const cw = await addStaff(t, { roles: ['caseworker'] });
    await signInStaff(t, cw);
    const staff = await newestSession();
    expect(staff.kind).toBe('staff');
    expect(staff.expires_in).toBeLessThan(t.config.staff.sessionHours * 3600 + 120);
  });

  it('a password change does not lock its owner out for the hours the clock is ahead', async () => {
    skew(3 * 3600_000);
    const cw = await addStaff(t, { roles: ['caseworker'] });
    const agent = await signInStaff(t, cw);
    const page = await agent.get('/staff/account');
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const next = `${cw.password} and more`;
    const changed = await agent
      .post('/staff/account/password')
      .type('form')
      .send({ _csrf: token, current_password: cw.password, new_password: next, confirm_password: next });
    expect(changed.status).toBe(303);
    const again = await signInStaff(t, { ...cw, password: next });
    expect((await again.get('/staff/cases').redirects(0)).status).toBe(200);
  });

  it('an invitation lasts its days by the database clock', async () => {
    skew(3 * 3600_000);
    const admin = await addStaff(t, { roles: ['admin'] });
    const agent = await signInStaff(t, admin);
    const page = await agent.get('/admin/staff');
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    await agent
      .post('/admin/staff/invitations')
      .type('form')
      .send({ _csrf: token, email: `clock-${Date.now()}@example.org`, roles: 'caseworker' });
    const row = await sql<{
      expires_in: number;
    }>`select extract(epoch from expires_at - now())::float as expires_in from invitations order by created_at desc limit 1`.execute(t.testDb.db);
    expect(row.rows[0]!.expires_in).toBeLessThan(t.config.staff.invitationDays * 86400 + 120);
  });
});
