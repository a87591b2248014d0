import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { claimDue } from '../../server/alerts/queries.js';
import { alertStatus } from '../../server/alerts/status.js';
import { createDb, type Db } from '../../server/db/index.js';
import { captureLogger, drain, makeDue, markSignedIn, outbox, testWorker, until } from '../helpers/alerts.js';
import { createTestApp, testConfig, type TestApp } from '../helpers/app.js';
import { onPostgres } from '../helpers/db.js';
import { VALID_REPORT, csrfFrom, fileReport, postReport } from '../helpers/reporter.js';
import { parse, startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { addStaff, type TestStaff } from '../helpers/staff.js';

/**
 * Delivery under failure (issue 11): SMTP refusing, down, hanging or
 * misconfigured; two instances sending from one outbox; a worker that dies
 * before or after the server's acceptance. Every alert arrives, once,
 * except for the one duplicate the SMTP acknowledgement allows; reporters
 * never wait for any of it.
 */

let smtp: TestSmtp;
let t: TestApp;
let staff: TestStaff[];

beforeAll(async () => {
  smtp = await startSmtp({ tls: 'starttls' });
  t = await createTestApp({ env: smtp.env() });
});
afterAll(async () => {
  await t.close();
  await smtp.close();
});

beforeEach(async () => {
  await t.testDb.db.updateTable('users').set({ status: 'deactivated' }).execute();
  await t.testDb.db.deleteFrom('mail_outbox').execute();
  await t.testDb.db.deleteFrom('mail_digests').execute();
  smtp.received.length = 0;
  smtp.refuseWith = null;
  smtp.hang = false;
  await smtp.up();
  staff = [await addStaff(t, { roles: ['caseworker'] }), await addStaff(t, { roles: ['caseworker'] }), await addStaff(t, { roles: ['caseworker'] })];
});

const urgent = { ...VALID_REPORT, danger_now: 'yes' };

/** The Message-IDs received, with how many times each. */
async function receivedIds(): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const m of smtp.received) {
    const id = (await parse(m)).messageId!;
    ids.set(id, (ids.get(id) ?? 0) + 1);
  }
  return ids;
}

/** Every row sent, each received exactly once (by Message-ID, which is the row's id). */
async function expectEachOnce(rows: number) {
  const all = await outbox(t);
  expect(all).toHaveLength(rows);
  expect(all.every((r) => r.state === 'sent')).toBe(true);
  const ids = await receivedIds();
  expect([...ids.values()].every((n) => n === 1)).toBe(true);
  expect([...ids.keys()].sort()).toEqual(all.map((r) => `<${r.id}@harbour.test>`).sort());
}

describe('the SMTP server refusing or away', () => {
  it('refusing (451), then accepting: every alert arrives exactly once; the wait is a class, with what to check', async () => {
    await fileReport(t.app, urgent);
    smtp.refuseWith = 451;
    const { logger, lines } = captureLogger();
    const worker = testWorker(t, {}, { logger });
    const first = await worker.tick();
    expect(first).toMatchObject({ claimed: 3, sent: 0, failed: 3, error: 'refused' });
    const rows = await outbox(t);
    expect(rows.every((r) => r.state === 'pending' && r.last_error === 'refused' && r.attempts === 1 && r.claim === null)).toBe(true);
    expect(lines.join('')).toContain('e-mail alert not delivered (refused), will retry: the SMTP server refused the message: check that MAIL_FROM');
    for (const s of staff) expect(lines.join('')).not.toContain(s.email);
    expect((await alertStatus(t.testDb.db, t.config)).lastFailure).toEqual({ error: 'refused', gaveUp: false });

    smtp.refuseWith = null;
    await until(async () => (await worker.tick(), smtp.received.length === 3), 'the retries');
    await expectEachOnce(3);
    expect(await alertStatus(t.testDb.db, t.config)).toMatchObject({ waiting: 0, lastFailure: null });
  });

  it('down for a while, with reports arriving meanwhile, then back: every alert arrives exactly once', async () => {
    const worker = testWorker(t);
    worker.start();
    try {
      await fileReport(t.app, urgent);
      await smtp.waitFor(3);
      await smtp.down();
      await fileReport(t.app, urgent); // nobody signed in since: no second urgent alert…
      for (const s of staff) await t.testDb.db.updateTable('users').set({ last_signed_in_at: new Date() }).where('id', '=', s.id).execute();
      await fileReport(t.app, urgent); // …until they have
      await until(async () => (await outbox(t)).some((r) => r.last_error === 'connection'), 'a connection failure');
      expect((await alertStatus(t.testDb.db, t.config)).lastFailure?.error).toBe('connection');
      smtp.refuseWith = 550;
      await smtp.up();
      await until(async () => (await outbox(t)).some((r) => r.last_error === 'refused'), 'a refusal');
      smtp.refuseWith = null;
      await smtp.waitFor(6);
      await new Promise((r) => setTimeout(r, 300)); // time for any duplicate to show
    } finally {
      await worker.stop();
    }
    await expectEachOnce(6);
  });

  it('a submission while the SMTP server hangs is filed at once; its alert goes out when the server answers again', async () => {
    smtp.hang = true;
    const hungBefore = smtp.hung;
    const worker = testWorker(t, { timeouts: { connectMs: 30_000, greetingMs: 30_000, socketMs: 30_000, dnsMs: 1000 }, sendTimeoutMs: 30_000 });
    worker.start();
    try {
      await fileReport(t.app, urgent);
      await until(() => smtp.hung > hungBefore, 'a send to hang');
      // A send is waiting on the server now (for up to 30 s): a report filed meanwhile waits neither for it nor
      // for the database (the worker holds no transaction while it sends).
      const agent = request.agent(t.app);
      const res = await postReport(agent, await csrfFrom(agent, '/en/report'), { ...VALID_REPORT, danger_now: 'yes' });
      expect(res.status).toBe(303);
      const rows = await outbox(t);
      expect(rows).toHaveLength(3); // the first report's; the second wrote none (nobody signed in since)
      expect(rows.filter((r) => r.state === 'sending')).toHaveLength(3); // still being sent: the filing did not wait
      expect(smtp.received).toHaveLength(0);
      // The server answers again (its hung connections are cut, as a restart would).
      smtp.hang = false;
      await smtp.down();
      await smtp.up();
      await smtp.waitFor(3, 15_000);
    } finally {
      await worker.stop();
    }
    // The first report's three alerts, retried after the cut connection.
    await expectEachOnce(3);
    expect((await outbox(t)).some((r) => r.attempts >= 2)).toBe(true);
  });
});

const KINDS = ['new_report', 'urgent_report', 'case_activity', 'case_overdue', 'digest', 'batch'] as const;

describe('several instances, and crashes', () => {
  it('two instances on one database, several workers each, send each alert once', async () => {
    // PostgreSQL: a second pool on the same schema, as a second app instance has, and three workers on each, so
    // that claims really run at the same moment; PGlite (one connection): two workers in one process.
    const second: Db = onPostgres
      ? await createDb({ kind: 'postgres', url: process.env['TEST_DATABASE_URL']!, poolSize: 5, schema: t.testDb.schema! })
      : t.testDb.db;
    for (let i = 0; i < 17; i++) staff.push(await addStaff(t, { roles: ['caseworker'] }));
    await t.testDb.db.updateTable('users').set({ alert_others: 'now' }).where('status', '=', 'active').execute();
    await fileReport(t.app, urgent);
    await fileReport(t.app);
    expect((await outbox(t)).length).toBe(40);
    const perInstance = onPostgres ? 3 : 1;
    const workers = [
      ...Array.from({ length: perInstance }, () => testWorker(t, { batchSize: 2 })),
      ...Array.from({ length: perInstance }, () => testWorker(t, { batchSize: 2 }, { db: second })),
    ];
    try {
      const sent = await Promise.all(workers.map((w) => drain(w)));
      expect(sent.reduce((a, b) => a + b, 0)).toBe(40);
      expect(sent.filter((n) => n > 0).length).toBeGreaterThan(1);
      await expectEachOnce(40);
      const audited = await t.testDb.db.selectFrom('audit_log').select('subject_user_id').where('action', '=', 'alert.sent').execute();
      expect(audited.filter((a) => staff.some((s) => s.id === a.subject_user_id))).toHaveLength(40);
    } finally {
      if (second !== t.testDb.db) await second.destroy();
    }
  });

  it('claims made at the same moment never share a row (FOR UPDATE SKIP LOCKED)', async () => {
    // Sixteen claims at once, over two pools on PostgreSQL: without SKIP LOCKED most rows are claimed two or three times.
    const second: Db = onPostgres
      ? await createDb({ kind: 'postgres', url: process.env['TEST_DATABASE_URL']!, poolSize: 8, schema: t.testDb.schema! })
      : t.testDb.db;
    try {
      for (let round = 0; round < 3; round++) {
        await t.testDb.db.deleteFrom('mail_outbox').execute();
        await t.testDb.db
          .insertInto('mail_outbox')
          // One waiting row per person and kind (mail_outbox_one_waiting): three people, six kinds.
          .values(staff.flatMap((s) => KINDS.map((kind) => ({ id: randomUUID(), user_id: s.id, kind }))))
          .execute();
        const claims = await Promise.all(Array.from({ length: 16 }, (_, i) => claimDue(i % 2 ? second : t.testDb.db, randomUUID(), 2, 60_000)));
        const ids = claims.flat().map((r) => r.id);
        expect(ids).toHaveLength(18);
        expect(new Set(ids).size).toBe(18);
      }
    } finally {
      if (second !== t.testDb.db) await second.destroy();
    }
  });

  it('a worker stopped after the server accepted a message and before the mark: sent again once, with the same Message-ID', async () => {
    await t.testDb.db.updateTable('users').set({ status: 'deactivated' }).where('id', 'in', [staff[1]!.id, staff[2]!.id]).execute();
    await fileReport(t.app, urgent);
    const [row] = await outbox(t);
    const dying = testWorker(t, {
      leaseMs: 400,
      hooks: {
        afterSend: () => {
          throw new Error('the process dies here');
        },
      },
    });
    expect(await dying.tick()).toMatchObject({ claimed: 1, sent: 0 });
    expect(dying.crashed).toBe(true);
    expect(smtp.received).toHaveLength(1);
    expect((await outbox(t))[0]).toMatchObject({ state: 'sending' });

    // Another instance: nothing while the dead worker's lease lasts, then the row once more.
    const other = testWorker(t);
    expect((await other.tick()).claimed).toBe(0);
    await new Promise((r) => setTimeout(r, 450));
    expect(await other.tick()).toMatchObject({ claimed: 1, sent: 1 });
    expect((await other.tick()).claimed).toBe(0);
    const ids = await receivedIds();
    expect([...ids]).toEqual([[`<${row!.id}@harbour.test>`, 2]]);
    expect((await outbox(t))[0]).toMatchObject({ state: 'sent', attempts: 2 });
  });

  it('a worker stopped after claiming a row and before sending it: sent exactly once, by another instance', async () => {
    await fileReport(t.app, urgent);
    const dying = testWorker(t, {
      leaseMs: 300,
      hooks: {
        beforeSend: () => {
          throw new Error('the process dies here');
        },
      },
    });
    expect(await dying.tick()).toMatchObject({ claimed: 3, sent: 0 });
    expect(smtp.received).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 350));
    expect(await drain(testWorker(t))).toBe(3);
    await expectEachOnce(3);
  });

  it('stopping waits for the send in flight to be marked, and gives back the rows it had not tried', async () => {
    let worker: ReturnType<typeof testWorker> | null = null;
    let stopped: Promise<void> | null = null;
    worker = testWorker(t, {
      hooks: {
        beforeSend: async () => {
          if (stopped) return;
          stopped = worker!.stop(5000);
          await new Promise((r) => setTimeout(r, 200));
        },
      },
    });
    await fileReport(t.app, urgent);
    worker.start();
    await until(() => stopped !== null, 'the stop');
    await stopped;
    const rows = await outbox(t);
    expect(rows.filter((r) => r.state === 'sent')).toHaveLength(1);
    expect(rows.filter((r) => r.state === 'pending' && r.attempts === 0 && r.claim === null)).toHaveLength(2);
    expect(smtp.received).toHaveLength(1);
    const audited = await t.testDb.db.selectFrom('audit_log').select('subject_user_id').where('action', '=', 'alert.sent').execute();
    expect(audited.some((a) => a.subject_user_id === rows.find((r) => r.state === 'sent')!.user_id)).toBe(true);
  });
});

describe('bad configuration', () => {
  async function failureOf(env: Record<string, string>) {
    await t.testDb.db.deleteFrom('mail_outbox').execute();
    await t.testDb.db.updateTable('users').set({ status: 'deactivated' }).where('id', 'in', [staff[1]!.id, staff[2]!.id]).execute();
    await fileReport(t.app, urgent);
    const config = testConfig(env);
    const { logger, lines } = captureLogger();
    const result = await testWorker(t, {}, { config, logger }).tick();
    const [row] = await outbox(t);
    return { result, row: row!, log: lines.join(''), status: await alertStatus(t.testDb.db, config) };
  }

  it('each mistake is recorded as its class, logged with what to check, and shown by alertStatus', async () => {
    const auth = await startSmtp({ tls: 'starttls', auth: { user: 'harbour', pass: 'right' } });
    const implicit = await startSmtp({ tls: 'implicit' });
    const plain = await startSmtp({ tls: 'none' });
    const closed = await startSmtp({ tls: 'none' });
    await closed.down();
    try {
      const cases: [string, Record<string, string>, string, string][] = [
        ['unreachable', { ...closed.env(), SMTP_TLS: 'off' }, 'connection', 'check the host and port in SMTP_URL'],
        [
          'no such host',
          { SMTP_URL: 'smtp://no-such-host.invalid:587', MAIL_FROM: 'a@harbour.test' },
          'dns',
          "the SMTP server's name does not resolve",
        ],
        ['wrong password', { ...auth.env(), SMTP_URL: `smtp://harbour:wrong@127.0.0.1:${auth.port}` }, 'auth', 'SMTP_PASSWORD_FILE'],
        ['smtps:// to a STARTTLS server', { ...smtp.env(), SMTP_URL: `smtps://127.0.0.1:${smtp.port}` }, 'tls', 'smtps://'],
        ['an untrusted certificate', { ...smtp.env(), SMTP_CA_FILE: '' }, 'tls', 'SMTP_CA_FILE'],
        ['STARTTLS required, not offered', { SMTP_URL: `smtp://127.0.0.1:${plain.port}`, MAIL_FROM: 'a@harbour.test' }, 'tls', 'SMTP_URL'],
        ['smtp:// to an implicit-TLS server', { ...implicit.env(), SMTP_URL: `smtp://127.0.0.1:${implicit.port}` }, 'timeout', 'smtps://'],
      ];
      for (const [what, env, error, hint] of cases) {
        const f = await failureOf(env);
        expect(f.result.error, what).toBe(error);
        expect(f.row, what).toMatchObject({ state: 'pending', last_error: error });
        expect(f.log, what).toContain(`e-mail alert not delivered (${error}), will retry`);
        expect(f.log, what).toContain(hint);
        expect(f.log, what).not.toContain(staff[0]!.email);
        expect(f.log, what).not.toContain('wrong');
        expect(f.status.lastFailure, what).toEqual({ error, gaveUp: false });
      }
      // The same alert, once the configuration is right, goes.
      await makeDue(t);
      expect(await drain(testWorker(t))).toBe(1);
      expect((await alertStatus(t.testDb.db, t.config)).lastFailure).toBeNull();
    } finally {
      await Promise.all([auth.close(), implicit.close(), plain.close()]);
    }
  });

  it('a given-up alert does not silence the next one of its kind; a batch written a day before it is due is not given up on its first failure', async () => {
    await t.testDb.db.updateTable('users').set({ status: 'deactivated' }).where('id', 'in', [staff[1]!.id, staff[2]!.id]).execute();
    // Given up after a long outage; the person has not signed in since.
    await fileReport(t.app, urgent);
    const day = new Date(Date.now() - 25 * 3600_000);
    await t.testDb.db.updateTable('mail_outbox').set({ created_at: day, first_due_at: day }).execute();
    smtp.refuseWith = 550;
    await testWorker(t).tick();
    expect((await outbox(t)).map((r) => r.state)).toEqual(['failed']);
    smtp.refuseWith = null;
    await fileReport(t.app, urgent); // the next urgent report is mailed: the given-up row holds nothing back
    expect(await drain(testWorker(t))).toBe(1);
    expect(smtp.received).toHaveLength(1);

    // A batch row written long ago but first due now: one refusal sends it back to wait, not to 'failed'.
    await t.testDb.db.deleteFrom('mail_outbox').execute();
    await markSignedIn(t, staff[0]!.id);
    await t.testDb.db.updateTable('users').set({ alert_others: 'batched', alert_batch_minutes: 1440 }).where('id', '=', staff[0]!.id).execute();
    await fileReport(t.app);
    await t.testDb.db
      .updateTable('mail_outbox')
      .set({ created_at: day, due_at: new Date(Date.now() - 1000) })
      .execute();
    smtp.refuseWith = 451;
    await testWorker(t).tick();
    expect((await outbox(t)).map((r) => [r.kind, r.state])).toEqual([['batch', 'pending']]);
  });

  it('sixteen urgent reports filed at the same moment write one waiting alert per person, not sixteen', async () => {
    await Promise.all(Array.from({ length: 16 }, () => fileReport(t.app, urgent)));
    const rows = await outbox(t);
    const perPerson = new Map<string, number>();
    for (const r of rows) perPerson.set(r.user_id, (perPerson.get(r.user_id) ?? 0) + 1);
    expect([...perPerson.values()].every((n) => n === 1)).toBe(true);
    expect(perPerson.size).toBeGreaterThan(0);
  });

  it('after 24 hours of failures an alert is given up, in the audit log and on the status', async () => {
    await t.testDb.db.updateTable('users').set({ status: 'deactivated' }).where('id', 'in', [staff[1]!.id, staff[2]!.id]).execute();
    await fileReport(t.app, urgent);
    await t.testDb.db
      .updateTable('mail_outbox')
      .set({ created_at: new Date(Date.now() - 25 * 3600_000), first_due_at: new Date(Date.now() - 25 * 3600_000) })
      .execute();
    smtp.refuseWith = 550;
    const { logger, lines } = captureLogger();
    expect((await testWorker(t, {}, { logger }).tick()).error).toBe('refused');
    const [row] = await outbox(t);
    expect(row).toMatchObject({ state: 'failed', last_error: 'refused' });
    expect(lines.join('')).toContain('e-mail alerts given up after 24 hours of failures (refused)');
    const entry = await t.testDb.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'alert.failed')
      .orderBy('seq', 'desc')
      .executeTakeFirstOrThrow();
    expect(entry.subject_user_id).toBe(staff[0]!.id);
    expect(entry.details).toEqual({ kind: 'urgent_report' }); // the class is on the status and in the log
    expect(await alertStatus(t.testDb.db, t.config)).toMatchObject({ waiting: 0, lastFailure: { error: 'refused', gaveUp: true } });
    expect((await testWorker(t).tick()).claimed).toBe(0);
    // Once an alert goes again, the old failure is no longer what the status shows.
    smtp.refuseWith = null;
    await markSignedIn(t, staff[0]!.id);
    await fileReport(t.app, urgent);
    expect(await drain(testWorker(t))).toBe(1);
    const status = await alertStatus(t.testDb.db, t.config);
    expect(status.lastFailure).toBeNull();
    expect(status.lastSentAt).toBeInstanceOf(Date);
  });
});
