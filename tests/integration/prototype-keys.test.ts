import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { VALID_REPORT, csrfFrom, fileReport, postReport } from '../helpers/reporter.js';
import { addStaff, signInStaff } from '../helpers/staff.js';

/**
 * Input named after Object.prototype's members. A multipart field called
 * `constructor` once threw inside busboy's listener and ended the process
 * (every upload in progress lost, repeatable by anyone); a `?notice=` of
 * that name printed Object's source. Each name now is just a name.
 */
const NAMES = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__'];

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

/** The process still serves: a crash inside a listener would have ended the test run here. */
async function stillServing() {
  expect((await request(t.app).get('/healthz')).status).toBe(200);
  expect((await request(t.app).get('/en/')).status).toBe(200);
}

describe('multipart fields named after prototype members', () => {
  for (const name of NAMES) {
    it(`"${name}" without a cookie or token: 403, and the server stays up`, async () => {
      for (const path of ['/en/report/language', '/en/report', '/ug/report', '/en/status/evidence']) {
        const res = await request(t.app).post(path).field(name, 'x').field(name, 'y');
        expect(res.status, `${path} ${name}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${path} ${name}`).toBeLessThan(500);
      }
      await stillServing();
    });

    it(`"${name}" in a valid report: stored as nothing, the report filed`, async () => {
      const agent = request.agent(t.app);
      const token = await csrfFrom(agent, '/en/report');
      const res = await postReport(agent, token, { ...VALID_REPORT, [name]: ['a', 'b'] });
      expect(res.status).toBe(303);
      await stillServing();
    });
  }

  it('the language switch keeps the form and ignores such fields', async () => {
    const agent = request.agent(t.app);
    const token = await csrfFrom(agent, '/en/report');
    let req = agent.post('/zh-hans/report/language').field('_csrf', token).field('narrative', 'kept text');
    for (const name of NAMES) req = req.field(name, 'z');
    const res = await req;
    expect(res.status).toBe(200);
    expect(res.text).toContain('kept text');
    expect(res.text).not.toContain('[native code]');
  });
});

describe('urlencoded forms with such fields', () => {
  it('receipt sign-in, message and receipt confirmation answer 4xx or their normal page', async () => {
    const { agent, receipt } = await fileReport(t.app);
    const token = await csrfFrom(agent, '/en/report/receipt');
    const body = Object.fromEntries(NAMES.filter((n) => n !== '__proto__').map((n) => [n, 'x']));
    const confirm = await agent
      .post('/en/report/receipt')
      .type('form')
      .send({ ...body, _csrf: token, receipt });
    expect(confirm.status).toBe(303);
    const message = await agent
      .post('/en/status/messages')
      .type('form')
      .send(`_csrf=${encodeURIComponent(token)}&constructor=1&__proto__=2&message=hello`);
    expect(message.status).toBe(303);
    await stillServing();
  });
});

describe('lookups keyed by the path or the query', () => {
  it('/static/fonts/<prototype member> is a 404, not a 500', async () => {
    for (const name of NAMES) {
      const res = await request(t.app).get(`/static/fonts/${name}`);
      expect(res.status, name).toBe(404);
    }
  });

  it('?notice=<prototype member> shows no notice on the staff and admin pages', async () => {
    for (const name of NAMES) {
      const res = await request(t.app).get(`/staff/sign-in?notice=${name}`);
      expect(res.status).toBe(200);
      expect(res.text).not.toContain('native code');
      expect(res.text).not.toContain('function');
    }
    const admin = await addStaff(t, { roles: ['admin', 'caseworker'] });
    const agent = await signInStaff(t, admin);
    for (const path of ['/admin/staff', '/admin/settings', '/admin/settings/lists/region', '/staff/cases', '/staff/keys']) {
      for (const name of NAMES) {
        const res = await agent.get(`${path}?notice=${name}`);
        expect(res.status, `${path} ${name}`).toBe(200);
        expect(res.text, `${path} ${name}`).not.toContain('native code');
      }
    }
  });

  it('unknown languages, lists and list codes named after prototype members are 404s', async () => {
    const admin = await addStaff(t, { roles: ['admin'] });
    const agent = await signInStaff(t, admin);
    for (const name of NAMES) {
      expect((await request(t.app).get(`/${name}/`)).status, name).toBe(404);
      expect((await agent.get(`/admin/settings/lists/${name}`)).status, name).toBe(404);
      expect((await agent.get(`/admin/settings/lists/region/${name}`)).status, name).toBe(404);
    }
  });
});
