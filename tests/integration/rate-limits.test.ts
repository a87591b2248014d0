import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTotp } from '../../server/crypto/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { CIRCUIT_HEADER, overOnion } from '../helpers/onion.js';
import { VALID_REPORT, csrfFrom, fileReport, postReport } from '../helpers/reporter.js';
import { addStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

/**
 * Throttles that hold under parallel requests (the point is taken before the
 * password, code or receipt is checked), count only failures, and keep
 * visitors apart: by address, and over the onion service by Tor circuit.
 * Each test comes from its own address or circuit, so counts do not leak
 * between tests.
 */
type Agent = ReturnType<typeof request.agent>;
type From = { ip: string } | { circuit: string };
const headersFor = (from: From): Record<string, string> => ('ip' in from ? { 'X-Forwarded-For': from.ip } : { [CIRCUIT_HEADER]: from.circuit });
let nextAddress = 1;
const freshIp = (): From => ({ ip: `198.51.100.${nextAddress++}` });

/** A supertest agent whose every request comes from `from`. */
function agentFrom(app: Express, from: From): Agent {
  return request.agent(app).set(headersFor(from));
}

async function receiptAttempt(app: Express, from: From, receipt: string): Promise<number> {
  const agent = agentFrom(app, from);
  const token = await csrfFrom(agent, '/en/status');
  return (await agent.post('/en/status').type('form').send({ _csrf: token, receipt })).status;
}

const tally = (statuses: number[]) => statuses.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});
const WRONG_RECEIPT = '99998888777766665555';

describe('staff sign-in under parallel requests', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { TRUST_PROXY: '1', SIGN_IN_FAILURES_PER_ACCOUNT: '5', SIGN_IN_FAILURES_PER_IP: '20' } });
  });
  afterAll(() => t.close());

  const failures = async (s: TestStaff) =>
    (await t.testDb.db.selectFrom('audit_log').select('action').where('subject_user_id', '=', s.id).execute()).filter(
      (e) => e.action === 'staff.sign_in_failed',
    ).length;

  async function passwordAgents(n: number, from: From) {
    return Promise.all(
      Array.from({ length: n }, async () => {
        const agent = agentFrom(t.app, from);
        return { agent, token: await staffCsrf(agent, '/staff/sign-in') };
      }),
    );
  }

  it('16 wrong passwords at once for one account: 5 are checked, 11 refused with 429', async () => {
    const s = await addStaff(t, { roles: ['caseworker'] });
    const from = freshIp();
    const ready = await passwordAgents(16, from);
    const statuses = await Promise.all(
      ready.map(({ agent, token }) =>
        agent.post('/staff/sign-in').type('form').send({ _csrf: token, email: s.email, password: 'wrong wrong wrong' }),
      ),
    );
    expect(tally(statuses.map((r) => r.status))).toEqual({ 401: 5, 429: 11 });
    expect(await failures(s)).toBe(5);
    // And the right password, afterwards, is refused too: the account is throttled.
    const [late] = await passwordAgents(1, from);
    const right = await late!.agent.post('/staff/sign-in').type('form').send({ _csrf: late!.token, email: s.email, password: s.password });
    expect(right.status).toBe(429);
  });

  it('16 wrong codes at once within one password-stage session: 5 are checked, 11 refused', async () => {
    const s = await addStaff(t, { roles: ['caseworker'] });
    const agent = agentFrom(t.app, freshIp());
    const token = await staffCsrf(agent, '/staff/sign-in');
    expect((await agent.post('/staff/sign-in').type('form').send({ _csrf: token, email: s.email, password: s.password })).status).toBe(303);
    const codeToken = await staffCsrf(agent, '/staff/two-factor');
    const wrong = String((Number(currentTotp(s.totpSecret)) + 500_000) % 1_000_000).padStart(6, '0');
    const statuses = await Promise.all(
      Array.from({ length: 16 }, () => agent.post('/staff/two-factor').type('form').send({ _csrf: codeToken, code: wrong })),
    );
    expect(tally(statuses.map((r) => r.status))).toEqual({ 401: 5, 429: 11 });
    expect(await failures(s)).toBe(5);
    const right = await agent
      .post('/staff/two-factor')
      .type('form')
      .send({ _csrf: codeToken, code: currentTotp(s.totpSecret) });
    expect(right.status).toBe(429);
  });

  it('16 wrong current passwords at once on the account page: 5 are checked', async () => {
    const s = await addStaff(t, { roles: ['caseworker'] });
    const agent = agentFrom(t.app, freshIp());
    const token = await staffCsrf(agent, '/staff/sign-in');
    await agent.post('/staff/sign-in').type('form').send({ _csrf: token, email: s.email, password: s.password });
    const codeToken = await staffCsrf(agent, '/staff/two-factor');
    expect(
      (
        await agent
          .post('/staff/two-factor')
          .type('form')
          .send({ _csrf: codeToken, code: currentTotp(s.totpSecret) })
      ).status,
    ).toBe(303);
    const accountToken = await staffCsrf(agent, '/staff/account');
    const next = 'a new and long enough passphrase 4821';
    const statuses = await Promise.all(
      Array.from({ length: 16 }, () =>
        agent
          .post('/staff/account/password')
          .type('form')
          .send({ _csrf: accountToken, current_password: 'not my password at all', new_password: next, confirm_password: next }),
      ),
    );
    expect(tally(statuses.map((r) => r.status))).toEqual({ 401: 5, 429: 11 });
  });

  it('successes never use the allowance: 8 right passwords, then 5 wrong ones are still checked', async () => {
    const s = await addStaff(t, { roles: ['caseworker'] });
    const from = freshIp();
    const attempt = async (password: string) => {
      const [{ agent, token }] = (await passwordAgents(1, from)) as [{ agent: Agent; token: string }];
      return (await agent.post('/staff/sign-in').type('form').send({ _csrf: token, email: s.email, password })).status;
    };
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push(await attempt(s.password));
    for (let i = 0; i < 6; i++) statuses.push(await attempt('wrong wrong wrong'));
    expect(statuses).toEqual([...Array(8).fill(303), 401, 401, 401, 401, 401, 429]);
  });

  it('a client refused for one account does not use up another account’s allowance', async () => {
    const locked = await addStaff(t, { roles: ['caseworker'] });
    const other = await addStaff(t, { roles: ['caseworker'] });
    const from = freshIp();
    const attempt = async (email: string, password: string) => {
      const [{ agent, token }] = (await passwordAgents(1, from)) as [{ agent: Agent; token: string }];
      return (await agent.post('/staff/sign-in').type('form').send({ _csrf: token, email, password })).status;
    };
    for (let i = 0; i < 5; i++) expect(await attempt(locked.email, 'wrong wrong wrong')).toBe(401);
    // 20 more against the throttled account: refused before anything is checked, so not failures of this client.
    for (let i = 0; i < 20; i++) expect(await attempt(locked.email, 'wrong wrong wrong')).toBe(429);
    // The client's own limit (20 failures an hour) has 15 left.
    expect(await attempt(other.email, other.password)).toBe(303);
  });
});

describe('receipts and submissions: only failures count; visitors kept apart', () => {
  let t: TestApp;
  let app: Express;
  let receipt: string;
  beforeAll(async () => {
    t = await createTestApp({
      env: { RATE_LIMITS: 'true', TRUST_PROXY: '1', RECEIPT_ATTEMPTS_PER_HOUR_PER_IP: '4', SUBMISSIONS_PER_HOUR_PER_IP: '2' },
    });
    app = overOnion(t.app);
    receipt = (await fileReport(t.app)).receipt; // from 127.0.0.1, no X-Forwarded-For
  });
  afterAll(() => t.close());

  it('a correct receipt is never refused for other visitors’ wrong ones: two onion circuits', async () => {
    const a = { circuit: '101' };
    const b = { circuit: '102' };
    for (let i = 0; i < 4; i++) expect(await receiptAttempt(app, a, WRONG_RECEIPT)).toBe(422);
    expect(await receiptAttempt(app, a, WRONG_RECEIPT)).toBe(429);
    expect(await receiptAttempt(app, a, receipt)).toBe(429); // a's own failures do lock a out
    expect(await receiptAttempt(app, b, receipt)).toBe(303);
    expect(await receiptAttempt(app, b, WRONG_RECEIPT)).toBe(422);
  });

  it('a correct receipt takes nothing from the allowance: 6 sign-ins, then 4 wrong receipts are still tried', async () => {
    const from = freshIp();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await receiptAttempt(app, from, receipt));
    for (let i = 0; i < 5; i++) statuses.push(await receiptAttempt(app, from, WRONG_RECEIPT));
    expect(statuses).toEqual([...Array(6).fill(303), ...Array(4).fill(422), 429]);
  });

  it('16 wrong receipts at once from one visitor: 4 are tried, 12 refused', async () => {
    const circuit = { circuit: '103' };
    const ready = await Promise.all(
      Array.from({ length: 16 }, async () => {
        const agent = agentFrom(app, circuit);
        return { agent, token: await csrfFrom(agent, '/en/status') };
      }),
    );
    const statuses = await Promise.all(
      ready.map(({ agent, token }) => agent.post('/en/status').type('form').send({ _csrf: token, receipt: WRONG_RECEIPT })),
    );
    expect(tally(statuses.map((r) => r.status))).toEqual({ 422: 4, 429: 12 });
  });

  it('a receipt that is not 20 digits tries nothing and takes nothing', async () => {
    const from = freshIp();
    for (let i = 0; i < 8; i++) expect(await receiptAttempt(app, from, '1234')).toBe(422);
    expect(await receiptAttempt(app, from, receipt)).toBe(303);
  });

  it('each accepted submission counts, per visitor: a second circuit still reports after the first reached its limit', async () => {
    const submit = async (from: From) => {
      const agent = agentFrom(app, from);
      const token = await csrfFrom(agent, '/en/report');
      return (await postReport(agent, token, VALID_REPORT)).status;
    };
    const a = { circuit: '201' };
    expect([await submit(a), await submit(a), await submit(a)]).toEqual([303, 303, 429]);
    expect(await submit({ circuit: '202' })).toBe(303);
    expect(await submit(freshIp())).toBe(303);
  });
});

describe('the global limits still stand', () => {
  let t: TestApp;
  let app: Express;
  let receipt: string;
  beforeAll(async () => {
    t = await createTestApp({
      env: { RATE_LIMITS: 'true', RECEIPT_ATTEMPTS_PER_HOUR_PER_IP: '2', RECEIPT_ATTEMPTS_PER_HOUR_TOTAL: '6', SUBMISSIONS_PER_HOUR_TOTAL: '3' },
    });
    app = overOnion(t.app);
    receipt = (await fileReport(app)).receipt;
  });
  afterAll(() => t.close());

  it('receipts: a visitor refused by its own limit does not use up everyone’s; failures from many do', async () => {
    expect(await receiptAttempt(app, { circuit: '1' }, receipt)).toBe(303); // a success is given back to both
    for (let i = 0; i < 2; i++) expect(await receiptAttempt(app, { circuit: '1' }, WRONG_RECEIPT)).toBe(422);
    for (let i = 0; i < 10; i++) expect(await receiptAttempt(app, { circuit: '1' }, WRONG_RECEIPT)).toBe(429);
    // Had those ten counted globally, these would be refused.
    for (const circuit of ['2', '3']) {
      for (let i = 0; i < 2; i++) expect(await receiptAttempt(app, { circuit }, WRONG_RECEIPT)).toBe(422);
    }
    // Six failures in the hour across the service: everyone waits.
    expect(await receiptAttempt(app, { circuit: '4' }, receipt)).toBe(429);
  });

  it('submissions: the service-wide limit holds across circuits', async () => {
    const submit = async (circuit: string) => {
      const agent = agentFrom(app, { circuit });
      const token = await csrfFrom(agent, '/en/report');
      return (await postReport(agent, token, VALID_REPORT)).status;
    };
    // One was filed in beforeAll.
    expect([await submit('11'), await submit('12'), await submit('13')]).toEqual([303, 303, 429]);
  });
});
