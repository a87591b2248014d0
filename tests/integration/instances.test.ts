import type { Request } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { csrfFrom, fileReport } from '../helpers/reporter.js';
import { addStaff, signInStaff } from '../helpers/staff.js';

/**
 * Scale-out: two app instances over one database share everything a
 * reporter needs (sessions, CSRF secret, rate limits); nothing lives only in
 * one process's memory.
 */
let shared: TestDb;
let one: TestApp;
let two: TestApp;
const env = { RATE_LIMITS: 'true', RECEIPT_ATTEMPTS_PER_HOUR_PER_IP: '4' };
beforeAll(async () => {
  shared = await createTestDb();
  one = await createTestApp({ testDb: shared, env });
  two = await createTestApp({ testDb: shared, env, setup: false });
});
afterAll(async () => {
  await shared.close();
});

describe('two instances on one database', () => {
  it('a report filed on one is read on the other with the same session cookie', async () => {
    const { agent, receipt } = await fileReport(one.app);
    const header = agent.jar.getCookies({ domain: '127.0.0.1', path: '/', secure: false, script: false }).toValueString();
    expect(header).toContain('harbour_r=');
    const receiptPage = await request(two.app).get('/en/report/receipt').set('Cookie', header);
    expect(receiptPage.status).toBe(200);
    expect(receiptPage.text.replace(/ /g, '')).toContain(receipt);
    // A form rendered by one instance is accepted by the other (shared CSRF secret).
    const token = /name="_csrf" value="([^"]+)"/.exec(receiptPage.text)![1]!;
    const confirm = await request(one.app).post('/en/report/receipt').set('Cookie', header).type('form').send({ _csrf: token, receipt });
    expect(confirm.status).toBe(303);
    const status = await request(two.app).get('/en/status').set('Cookie', header);
    expect(status.text).toContain('phoned my mother');
  });

  it('receipt attempts counted on one instance hold on the other', async () => {
    const attempt = async (app: TestApp) => {
      const agent = request.agent(app.app);
      const token = await csrfFrom(agent, '/en/status');
      return (await agent.post('/en/status').type('form').send({ _csrf: token, receipt: '99998888777766665555' })).status;
    };
    const statuses = [await attempt(one), await attempt(two), await attempt(one), await attempt(two), await attempt(one), await attempt(two)];
    expect(statuses).toEqual([422, 422, 422, 422, 429, 429]);
  });

  it('both hash a client to the same key (one process: the in-memory secret is shared)', () => {
    const client = { ip: '203.0.113.9', socket: {} } as unknown as Request;
    expect(one.ctx.rateLimits.clientHash(client)).toBe(two.ctx.rateLimits.clientHash(client));
    expect(one.ctx.rateLimits.clientHash(client)).not.toBe(one.ctx.rateLimits.clientHash({ ip: '203.0.113.10', socket: {} } as unknown as Request));
  });

  it('instances given the same IP_HASH_SECRET share per-client counts; one with another secret counts apart', async () => {
    const secret = (c: string) => ({ ...env, IP_HASH_SECRET: c.repeat(40) });
    const three = await createTestApp({ testDb: shared, env: secret('a'), setup: false });
    const four = await createTestApp({ testDb: shared, env: secret('a'), setup: false });
    const five = await createTestApp({ testDb: shared, env: secret('b'), setup: false });
    const client = { ip: '203.0.113.9', socket: {} } as unknown as Request;
    expect(three.ctx.rateLimits.clientHash(client)).toBe(four.ctx.rateLimits.clientHash(client));
    expect(three.ctx.rateLimits.clientHash(client)).not.toBe(five.ctx.rateLimits.clientHash(client));
    expect(three.ctx.rateLimits.clientHash(client)).not.toBe(one.ctx.rateLimits.clientHash(client));
    const attempt = async (app: TestApp) => {
      const agent = request.agent(app.app);
      const token = await csrfFrom(agent, '/en/status');
      return (await agent.post('/en/status').type('form').send({ _csrf: token, receipt: '99998888777766665555' })).status;
    };
    const statuses = [await attempt(three), await attempt(four), await attempt(three), await attempt(four), await attempt(three)];
    expect(statuses).toEqual([422, 422, 422, 422, 429]);
    expect(await attempt(five)).toBe(422);
  });

  it('a staff session started on one instance works on the other', async () => {
    const cw = await addStaff(one, { roles: ['caseworker'] });
    const agent = await signInStaff(one, cw);
    const header = agent.jar.getCookies({ domain: '127.0.0.1', path: '/', secure: false, script: false }).toValueString();
    const page = await request(two.app).get('/staff/account').set('Cookie', header);
    expect(page.status).toBe(200);
    expect(page.text).toContain(cw.email);
  });

  it('sign-in failures counted on one instance throttle the other', async () => {
    const cw = await addStaff(one, { roles: ['caseworker'] });
    const attempt = async (app: TestApp, password: string) => {
      const a = request.agent(app.app);
      const token = await csrfFrom(a, '/staff/sign-in');
      return (await a.post('/staff/sign-in').type('form').send({ _csrf: token, email: cw.email, password })).status;
    };
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push(await attempt(i % 2 ? two : one, 'wrong wrong wrong'));
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    expect(await attempt(two, cw.password)).toBe(429);
    expect(await attempt(one, cw.password)).toBe(429);
  });
});
