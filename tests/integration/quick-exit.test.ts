import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.js';
import type { Database } from '../../server/db/schema.js';
import { createLogger } from '../../server/logger.js';
import { saveSettings } from '../../server/settings/settings.js';
import { createTestApp, testConfig, type TestApp } from '../helpers/app.js';
import { createTestDb } from '../helpers/db.js';
import { fileReport, signInWithReceipt, type Agent } from '../helpers/reporter.js';

/**
 * "Leave this site" goes through GET /{lang}/exit: the reporter's session
 * ends (row and cookie), the browser is told to forget the site, and the
 * answer is a redirect to the configured destination only, even when the
 * database is down.
 */
let t: TestApp;
let receipt: string;
const DESTINATION = 'https://www.example.com/news';
beforeAll(async () => {
  t = await createTestApp();
  receipt = (await fileReport(t.app)).receipt;
  const saved = await t.testDb.db.transaction().execute((trx) => saveSettings(trx, t.config, { quick_exit_url: DESTINATION }));
  expect(saved.changed).toEqual(['quick_exit_url']);
});
afterAll(() => t.close());

const setCookies = (res: request.Response) => [res.headers['set-cookie'] ?? []].flat();
const cleared = (res: request.Response, name: string) =>
  setCookies(res).some((c) => c.startsWith(`${name}=;`) && /Expires=Thu, 01 Jan 1970/.test(c) && /Path=\//.test(c));
const reporterSessions = () => t.testDb.db.selectFrom('sessions').select('id_hash').where('kind', '=', 'reporter').execute();

async function signedIn(): Promise<Agent> {
  const { agent, res } = await signInWithReceipt(t.app, receipt);
  expect(res.status).toBe(303);
  expect((await agent.get('/en/status')).text).toContain('phoned my mother');
  return agent;
}

describe('quick exit', () => {
  it('ends the session (row and cookies), tells the browser to forget the site and redirects to the configured page', async () => {
    const before = (await reporterSessions()).length;
    const agent = await signedIn();
    expect((await reporterSessions()).length).toBe(before + 1);
    const cookie = agent.jar.getCookies({ domain: '127.0.0.1', path: '/', secure: false, script: false }).toValueString();

    const res = await agent.get('/en/exit');
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe(DESTINATION);
    expect(res.headers['clear-site-data']).toBe('"cache", "cookies", "storage"');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['referrer-policy']).toBe('no-referrer'); // the destination does not learn where the reporter was
    expect(cleared(res, 'harbour_r')).toBe(true);
    expect(cleared(res, 'harbour_csrf')).toBe(true);
    expect((await reporterSessions()).length).toBe(before);

    // The old cookie, kept by someone, opens nothing.
    const again = await request(t.app).get('/en/status').set('Cookie', cookie);
    expect(again.status).toBe(200);
    expect(again.text).not.toContain('phoned my mother');
    expect(again.text).toContain('name="receipt"');
  });

  it('goes only ever to the configured page, whatever the request says', async () => {
    for (const path of [
      '/en/exit?next=https://evil.example/',
      '/en/exit?url=//evil.example',
      '/en/exit/',
      '/ug/exit?__proto__=x',
      '/en/exit?quickExitUrl=https://evil.example',
    ]) {
      const res = await request(t.app)
        .get(path)
        .set('Host', 'evil.example')
        .set('X-Forwarded-Host', 'evil.example')
        .set('Referer', 'https://evil.example/');
      expect(res.status, path).toBe(303);
      expect(res.headers['location'], path).toBe(DESTINATION);
    }
  });

  it('works in every language and for a visitor with no session; an unknown language is a 404', async () => {
    for (const lang of ['en', 'zh-hans', 'zh-hant', 'ug', 'bo']) {
      const res = await request(t.app).get(`/${lang}/exit`);
      expect(res.status, lang).toBe(303);
      expect(res.headers['location']).toBe(DESTINATION);
    }
    expect((await request(t.app).get('/xx/exit')).status).toBe(404);
  });

  it('a double click, or 16 at once: every one leaves, none fails', async () => {
    const before = (await reporterSessions()).length;
    const agent = await signedIn();
    const all = await Promise.all(Array.from({ length: 16 }, () => agent.get('/en/exit')));
    expect(all.map((r) => r.status)).toEqual(Array(16).fill(303));
    expect(new Set(all.map((r) => r.headers['location']))).toEqual(new Set([DESTINATION]));
    expect((await reporterSessions()).length).toBe(before);
  });

  it('every reporter page links to it; the text a page shows without JavaScript never mentions Esc', async () => {
    for (const lang of ['en', 'zh-hans', 'zh-hant', 'ug', 'bo']) {
      for (const page of ['/', '/report', '/status', '/emergency']) {
        const html = (await request(t.app).get(`/${lang}${page}`)).text;
        expect(html, `${lang}${page}`).toMatch(new RegExp(`<a class="quick-exit" href="/${lang}/exit" data-quick-exit>`));
        const plain = /<span data-quick-exit-hint>([^<]*)<\/span>/.exec(html)?.[1];
        const withKeys = /<span data-quick-exit-hint-keys hidden>([^<]*)<\/span>/.exec(html)?.[1];
        expect(plain, `${lang}${page}`).toBeTruthy();
        expect(plain).not.toContain('Esc');
        expect(withKeys).toContain('Esc'); // hidden until the script, which makes the shortcut work, shows it
      }
    }
  });
});

describe('quick exit with the database down', () => {
  const config = testConfig();
  const logger = createLogger('silent');
  const cookie = `harbour_r=${'A'.repeat(43)}`; // a well-formed session cookie: the exit tries to delete its row

  async function expectExit(app: Parameters<typeof request>[0], withinMs: number) {
    const started = Date.now();
    const res = await request(app).get('/en/exit').set('Cookie', cookie);
    expect(Date.now() - started).toBeLessThan(withinMs);
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe(config.quickExitUrl); // the administrator's setting cannot be read: the default
    expect(res.headers['clear-site-data']).toBe('"cache", "cookies", "storage"');
    expect(cleared(res, 'harbour_r')).toBe(true);
    expect(cleared(res, 'harbour_csrf')).toBe(true);
  }

  it('a database that has gone away: the exit still redirects, at once', async () => {
    const gone = await createTestDb();
    await gone.db.destroy();
    const { app } = await createApp({ config, db: gone.db, logger });
    await expectExit(app, 1000);
    expect((await request(app).get('/en/status')).status).toBe(500); // the rest of the site does need it
  });

  it('a database that never answers: the exit waits a second at most, then redirects', async () => {
    // A real TCP listener that accepts and never speaks, under a real pg pool.
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => void sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const pool = new pg.Pool({ connectionString: `postgres://nobody@127.0.0.1:${port}/none`, connectionTimeoutMillis: 5000 });
    pool.on('error', () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    try {
      const { app } = await createApp({ config, db, logger });
      await expectExit(app, 2500);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
      await db.destroy().catch(() => undefined);
    }
  });
});
