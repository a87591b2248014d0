import request from 'supertest';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { onPostgres } from '../helpers/db.js';
import { listen, formSession, startUpload, type Listening } from '../helpers/raw-upload.js';
import { VALID_REPORT, formFrom, postReport } from '../helpers/reporter.js';

/**
 * What a failed, repeated or cut-off submission leaves behind. The fault
 * drill found: 40 uploads cut off by the client → 40 pending reports and 40
 * evidence rows still "uploading" (the handler never noticed); 100 uploads
 * ended by the request timeout → 100 pending reports; one form posted three
 * times → three reports; finalising and creating the session in two
 * statements. Each now gets an answer and leaves nothing behind.
 */
let t: TestApp;
let http: Listening;
beforeAll(async () => {
  t = await createTestApp({ env: { REQUEST_TIMEOUT_SECONDS: '10' } }); // crash sweeps wait 10 s + 5 min
  http = await listen(t.app);
});
afterAll(async () => {
  await http.close();
  await t.close();
});

async function leftovers() {
  const db = t.testDb.db;
  const n = async (q: Promise<{ n: unknown }>) => Number((await q).n);
  return {
    pending: await n(
      db
        .selectFrom('reports')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('state', '=', 'pending')
        .executeTakeFirstOrThrow(),
    ),
    uploading: await n(
      db
        .selectFrom('evidence')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('state', '=', 'uploading')
        .executeTakeFirstOrThrow(),
    ),
    claims: await n(
      db
        .selectFrom('form_submissions')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('state', '=', 'sending')
        .executeTakeFirstOrThrow(),
    ),
  };
}
const submitted = async () =>
  Number(
    (
      await t.testDb.db
        .selectFrom('reports')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('state', '=', 'submitted')
        .executeTakeFirstOrThrow()
    ).n,
  );

/** Polls until `check` holds or `ms` pass; returns the last value. */
async function within<T>(ms: number, read: () => Promise<T>, check: (v: T) => boolean): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (check(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}
const clean = (l: Awaited<ReturnType<typeof leftovers>>) => l.pending === 0 && l.uploading === 0 && l.claims === 0;

beforeEach(async () => {
  expect(await leftovers()).toEqual({ pending: 0, uploading: 0, claims: 0 });
});

describe('one report per form', () => {
  it('the same form sent three times at once (a double click and a retry) files one report; every answer shows its receipt', async () => {
    const before = await submitted();
    const agent = request.agent(t.app);
    const { csrf, formKey } = await formFrom(agent, '/en/report');
    expect(formKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const fields = { ...VALID_REPORT, form_key: formKey! };
    const answers = await Promise.all([1, 2, 3].map(() => postReport(agent, csrf, fields, [{ name: 'a.txt', content: Buffer.from('one file\n') }])));
    expect(answers.map((a) => a.status)).toEqual([303, 303, 303]);
    expect(answers.every((a) => a.headers['location'] === '/en/report/receipt')).toBe(true);
    expect(await submitted()).toBe(before + 1);

    // Each response set a session for that same report: each shows the same receipt.
    const receipts = new Set<string>();
    for (const a of answers) {
      const cookie = (a.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]).join('; ');
      const page = await request(t.app).get('/en/report/receipt').set('Cookie', cookie);
      receipts.add(/class="receipt"[^>]*>([\d ]+)</.exec(page.text)![1]!);
    }
    expect(receipts.size).toBe(1);
    expect(await leftovers()).toEqual({ pending: 0, uploading: 0, claims: 0 });

    // Once the receipt is typed back, a repeat says the report was sent, and files nothing.
    const page = await agent.get('/en/report/receipt');
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const confirmed = await agent
      .post('/en/report/receipt')
      .type('form')
      .send({ _csrf: token, receipt: [...receipts][0] });
    expect(confirmed.status).toBe(303);
    // This form's claim: the newest (other tests in this file file forms of their own).
    const row = await t.testDb.db
      .selectFrom('form_submissions')
      .select(['state', 'receipt_sealed'])
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ state: 'sent', receipt_sealed: null }); // no copy of the receipt once it is confirmed
    const fresh = await formFrom(agent, '/en/status'); // a token for the agent's new session
    const repeat = await postReport(agent, fresh.csrf, fields);
    expect(repeat.status).toBe(409);
    expect(repeat.text).toContain('already been sent');
    expect(repeat.text).toContain('phoned my mother'); // the form comes back as typed
    expect(await submitted()).toBe(before + 1);
  });

  it('16 posts of one form in parallel file exactly one report', async () => {
    const before = await submitted();
    const agent = request.agent(t.app);
    const { csrf, formKey } = await formFrom(agent, '/en/report');
    const answers = await Promise.all(Array.from({ length: 16 }, () => postReport(agent, csrf, { ...VALID_REPORT, form_key: formKey! })));
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([303]));
    expect(await submitted()).toBe(before + 1);
  });

  it('a refused attempt gives the form back: corrected and sent again, it files one report', async () => {
    const before = await submitted();
    const agent = request.agent(t.app);
    const { csrf, formKey } = await formFrom(agent, '/en/report');
    const bad = await postReport(agent, csrf, { ...VALID_REPORT, region: '', form_key: formKey! });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain(`name="form_key" value="${formKey}"`); // the same form, kept
    const good = await postReport(agent, csrf, { ...VALID_REPORT, form_key: formKey! });
    expect(good.status).toBe(303);
    expect(await submitted()).toBe(before + 1);
  });

  it('two different forms file two reports', async () => {
    const before = await submitted();
    const agent = request.agent(t.app);
    const one = await formFrom(agent, '/en/report');
    expect((await postReport(agent, one.csrf, { ...VALID_REPORT, form_key: one.formKey! })).status).toBe(303);
    const two = await formFrom(agent, '/en/report');
    expect(one.formKey).not.toBe(two.formKey);
    expect((await postReport(agent, two.csrf, { ...VALID_REPORT, form_key: two.formKey! })).status).toBe(303);
    expect(await submitted()).toBe(before + 2);
  });
});

describe('uploads that stop halfway leave nothing', () => {
  it('40 uploads cut off by the client: no pending report, no evidence row, within seconds', async () => {
    const before = await submitted();
    const session = await formSession(http.base);
    const uploads = await Promise.all(
      Array.from({ length: 40 }, () => startUpload(http.port, session, { fileBytes: 5_000_000, initialFileBytes: 300_000 })),
    );
    // Let the server start storing the files, then hang up.
    await within(
      5000,
      async () => (await leftovers()).uploading,
      (n) => n >= 10,
    );
    for (const u of uploads) u.socket.destroy();
    const left = await within(5000, leftovers, clean);
    expect(left).toEqual({ pending: 0, uploading: 0, claims: 0 });
    expect(await submitted()).toBe(before);
  });

  it('uploads still arriving after the request time-out: a "took too long" page, nothing left', async () => {
    const session = await formSession(http.base);
    const uploads = await Promise.all(
      Array.from({ length: 10 }, () => startUpload(http.port, session, { fileBytes: 5_000_000, initialFileBytes: 200_000 })),
    );
    // They never finish: the 10 s limit on a whole request ends them, with a page.
    await Promise.all(
      uploads.map((u) =>
        within(
          20_000,
          async () => u.response(),
          (r) => r.includes('</html>'),
        ),
      ),
    );
    for (const u of uploads) {
      expect(u.response()).toMatch(/^HTTP\/1\.1 408/);
      expect(u.response()).toContain('The upload took too long');
      u.socket.destroy();
    }
    expect(await within(5000, leftovers, clean)).toEqual({ pending: 0, uploading: 0, claims: 0 });
  });

  it('an upload in flight when the process begins to stop gets a "try again" page at once, and leaves nothing', async () => {
    const stopping = await createTestApp({ testDb: t.testDb, setup: false });
    const server = await listen(stopping.app);
    try {
      const session = await formSession(server.base);
      const upload = await startUpload(server.port, session, { fileBytes: 5_000_000, initialFileBytes: 200_000 });
      await within(
        5000,
        async () => (await leftovers()).uploading,
        (n) => n >= 1,
      );
      const started = Date.now();
      stopping.ctx.shutdown.abort();
      await within(
        5000,
        async () => upload.response(),
        (r) => r.includes('</html>'),
      );
      expect(Date.now() - started).toBeLessThan(3000);
      expect(upload.response()).toMatch(/^HTTP\/1\.1 503/);
      expect(upload.response()).toContain('The service is restarting');
      expect(upload.response()).toContain('phoned my mother'); // the form, as typed
      expect(await within(5000, leftovers, clean)).toEqual({ pending: 0, uploading: 0, claims: 0 });
    } finally {
      await server.close();
    }
  });
});

describe.runIf(onPostgres)('the database failing halfway (PostgreSQL)', () => {
  it('a failure while the session is written leaves no filed report without a receipt (one transaction)', async () => {
    const db = t.testDb.db;
    const before = await submitted();
    await sql`create or replace function harbour_test_fail() returns trigger language plpgsql as $$ begin raise exception 'injected'; end $$`.execute(
      db,
    );
    await sql`create trigger harbour_test_fail before insert on sessions for each row execute function harbour_test_fail()`.execute(db);
    try {
      const agent = request.agent(t.app);
      const { csrf } = await formFrom(agent, '/en/report');
      const res = await postReport(agent, csrf, VALID_REPORT);
      expect(res.status).toBeGreaterThanOrEqual(500);
    } finally {
      await sql`drop trigger harbour_test_fail on sessions`.execute(db);
    }
    expect(await submitted()).toBe(before);
    expect(await leftovers()).toEqual({ pending: 0, uploading: 0, claims: 0 });
  });
});

describe('what a crash leaves', () => {
  it('housekeeping deletes files left "uploading" past the longest a request may run, and gives their bytes back', async () => {
    const { runHousekeeping } = await import('../../server/housekeeping.js');
    const agent = request.agent(t.app);
    const { csrf } = await formFrom(agent, '/en/report');
    expect((await postReport(agent, csrf, VALID_REPORT, [{ name: 'a.txt', content: Buffer.from('kept file\n') }])).status).toBe(303);
    const db = t.testDb.db;
    const report = await db.selectFrom('reports').select(['id', 'evidence_bytes']).orderBy('submitted_at', 'desc').executeTakeFirstOrThrow();
    // A file a crashed process was storing an hour ago, its bytes counted on the report.
    const id = '00000000-0000-4000-8000-00000000abcd';
    await db
      .insertInto('evidence')
      .values({
        id,
        report_id: report.id,
        state: 'uploading',
        added_by: 'reporter',
        stream_header: new Uint8Array(24),
        meta: null,
        created_at: sql<Date>`now() - interval '1 hour'`,
      })
      .execute();
    await db
      .insertInto('evidence_chunks')
      .values({ evidence_id: id, seq: 0, data: new Uint8Array(5000) })
      .execute();
    await sql`update reports set evidence_bytes = evidence_bytes + 5000 where id = ${report.id}`.execute(db);
    await runHousekeeping(db, t.config);
    const after = await db.selectFrom('reports').select('evidence_bytes').where('id', '=', report.id).executeTakeFirstOrThrow();
    expect(Number(after.evidence_bytes)).toBe(Number(report.evidence_bytes));
    expect(await db.selectFrom('evidence').select('id').where('id', '=', id).execute()).toEqual([]);
    expect((await db.selectFrom('evidence').select('id').where('report_id', '=', report.id).execute()).length).toBe(1); // the complete file stays
  });
});
