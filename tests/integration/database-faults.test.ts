import { Writable } from 'node:stream';
import { sql } from 'kysely';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.js';
import { readySodium } from '../../server/crypto/index.js';
import { createDb, type Db } from '../../server/db/index.js';
import { createLogger } from '../../server/logger.js';
import { setupOrganisation } from '../../server/setup/service.js';
import { createTestApp, testConfig, type TestApp } from '../helpers/app.js';
import { createTestDb, onPostgres } from '../helpers/db.js';
import { formSession, listen, startUpload } from '../helpers/raw-upload.js';
import { VALID_REPORT, formFrom, postReport } from '../helpers/reporter.js';

/**
 * The database gone, dropping connections, or locked. The fault drill saw
 * the process die three times in one run (`terminating connection due to
 * administrator command` as an unhandled 'error' on a pg client), the
 * emergency advice answer 500 with the database away, and a locked table
 * leave /readyz and GET /en/ without an answer for more than 5 s.
 */
const quiet = () => createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const timed = async <T>(p: Promise<T>) => {
  const start = Date.now();
  const value = await p;
  return { value, ms: Date.now() - start };
};

describe('a database that is not there', () => {
  let app: Awaited<ReturnType<typeof createApp>>['app'];
  let db: Db;
  beforeAll(async () => {
    await readySodium();
    // Nothing listens on port 1: every connection attempt is refused at once.
    db = await createDb({
      kind: 'postgres',
      url: 'postgres://postgres@127.0.0.1:1/harbour',
      timeouts: { acquireMs: 1000, statementMs: 2000, lockMs: 1000 },
    });
    ({ app } = await createApp({ config: testConfig(), db, logger: quiet() }));
  });
  afterAll(async () => {
    await db.destroy();
  });

  it('the process answers: /healthz 200, /readyz 503, the emergency advice 200, other pages a 503 "try again" page, each within seconds', async () => {
    const health = await timed(request(app).get('/healthz'));
    expect(health.value.status).toBe(200);
    const ready = await timed(request(app).get('/readyz'));
    expect(ready.value.status).toBe(503);
    expect(ready.value.body).toEqual({ status: 'database unreachable' });
    expect(ready.ms).toBeLessThan(3000);
    for (const lang of ['en', 'ug', 'zh-hans']) {
      const emergency = await timed(request(app).get(`/${lang}/emergency`));
      expect(emergency.value.status, lang).toBe(200);
      expect(emergency.value.text).toContain('999');
      expect(emergency.ms).toBeLessThan(3000);
    }
    for (const path of ['/en/', '/en/report', '/en/status', '/staff/sign-in', '/staff/cases']) {
      const page = await timed(request(app).get(path).redirects(0));
      expect(page.value.status, path).toBe(503);
      expect(page.value.headers['retry-after'], path).toBe('30');
      expect(page.ms, path).toBeLessThan(3000);
    }
    const busy = await request(app).get('/en/');
    expect(busy.text).toContain('The service is busy for a moment');
    const ug = await request(app).get('/ug/status');
    expect(ug.text).toContain('مۇلازىمەت ھازىر ئالدىراش');
    const post = await request(app).post('/en/status').type('form').send({ receipt: '1' });
    expect(post.status).toBe(503);
  });
});

describe('an installation made beside the running server (PostgreSQL) is noticed without a restart', () => {
  it('"not ready" until set-up, ready on the next request after it', async () => {
    const t = await createTestApp({ setup: false });
    try {
      expect((await request(t.app).get('/en/')).status).toBe(503);
      await setupOrganisation(t.testDb.db, { orgName: 'Set up later' });
      const page = await request(t.app).get('/en/');
      expect(page.status).toBe(200);
      expect(page.text).toContain('Set up later');
    } finally {
      await t.close();
    }
  });
});

describe.runIf(onPostgres)('PostgreSQL dropping connections and holding locks', () => {
  let t: TestApp;
  let admin: pg.Client;
  beforeAll(async () => {
    const testDb = await createTestDb({ timeouts: { acquireMs: 2000, statementMs: 3000, lockMs: 1000 } });
    t = await createTestApp({ testDb });
    admin = new pg.Client({ connectionString: process.env['TEST_DATABASE_URL'] });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
    await t.testDb.close();
  });

  const terminateAppConnections = async () =>
    (await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1`, [`harbour ${t.testDb.schema}`]))
      .rowCount;

  it('pg_terminate_backend of every connection, idle or in a transaction, never ends the process; it recovers by itself', async () => {
    // Fill the pool, keep one connection checked out in a transaction, then cut them all.
    await Promise.all(Array.from({ length: 5 }, () => request(t.app).get('/en/report')));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const inTransaction = t.testDb.db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
      await held;
      await sql`select 1`.execute(trx); // its connection is gone by now
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(await terminateAppConnections()).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300)); // the 'error' events arrive; without listeners the process would end here
    release();
    await expect(inTransaction).rejects.toThrow();
    // Fresh connections replace the dead ones.
    expect((await request(t.app).get('/healthz')).status).toBe(200);
    expect((await request(t.app).get('/readyz')).status).toBe(200);
    expect((await request(t.app).get('/en/report')).status).toBe(200);
    const agent = request.agent(t.app);
    const { csrf } = await formFrom(agent, '/en/report');
    expect((await postReport(agent, csrf, VALID_REPORT)).status).toBe(303);
  });

  it('the database failing while evidence is being stored: the reporter gets an answer within seconds, and nothing is left', async () => {
    const db = t.testDb.db;
    const server = await listen(t.app);
    try {
      const session = await formSession(server.base);
      const upload = await startUpload(server.port, session, { fileBytes: 3_000_000, initialFileBytes: 400_000 });
      for (let i = 0; i < 50; i++) {
        const n = await db
          .selectFrom('evidence')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('state', '=', 'uploading')
          .executeTakeFirstOrThrow();
        if (Number(n.n) > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // From now on every write of a chunk fails as a lost server does (SQLSTATE 08006, connection failure).
      await sql`create or replace function harbour_test_lost() returns trigger language plpgsql as $$ begin raise exception 'lost' using errcode = '08006'; end $$`.execute(
        db,
      );
      await sql`create trigger harbour_test_lost before insert on evidence_chunks for each row execute function harbour_test_lost()`.execute(db);
      try {
        const started = Date.now();
        upload.finish();
        for (let i = 0; i < 100 && !upload.response().includes('</html>'); i++) await new Promise((r) => setTimeout(r, 100));
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(upload.response()).toMatch(/^HTTP\/1\.1 503/);
        expect(upload.response()).toContain('The service is busy for a moment');
        expect(upload.response()).toContain('phoned my mother'); // the form, as typed
      } finally {
        await sql`drop trigger harbour_test_lost on evidence_chunks`.execute(db);
        upload.socket.destroy();
      }
    } finally {
      await server.close();
    }
    const pending = await db
      .selectFrom('reports')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('state', '=', 'pending')
      .executeTakeFirstOrThrow();
    const uploading = await db
      .selectFrom('evidence')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('state', '=', 'uploading')
      .executeTakeFirstOrThrow();
    expect([Number(pending.n), Number(uploading.n)]).toEqual([0, 0]);
  });

  it('a locked table: submissions get a 503 page within seconds, pages and /readyz keep answering, nothing is left half-written', async () => {
    await admin.query('begin');
    await admin.query(`lock table ${t.testDb.schema}.reports in access exclusive mode`);
    try {
      const agent = request.agent(t.app);
      const { csrf } = await formFrom(agent, '/en/report');
      const started = Date.now();
      const submissions = Promise.all(Array.from({ length: 12 }, () => postReport(agent, csrf, VALID_REPORT)));
      await new Promise((r) => setTimeout(r, 200));
      const ready = await timed(request(t.app).get('/readyz'));
      expect(ready.value.status).toBe(200);
      expect(ready.ms).toBeLessThan(5000);
      const landing = await timed(request(t.app).get('/en/'));
      expect(landing.value.status).toBe(200);
      expect(landing.ms).toBeLessThan(5000);
      const answers = await submissions;
      expect(Date.now() - started).toBeLessThan(10_000);
      for (const a of answers) {
        expect(a.status).toBe(503);
        expect(a.text).toContain('The service is busy for a moment');
        expect(a.text).toContain('phoned my mother'); // the form comes back as typed
      }
    } finally {
      await admin.query('rollback');
    }
    const pending = await t.testDb.db
      .selectFrom('reports')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('state', '=', 'pending')
      .executeTakeFirstOrThrow();
    expect(Number(pending.n)).toBe(0);
  });
});
