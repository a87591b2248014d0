import { Writable } from 'node:stream';
import type { Db } from '../../server/db/index.js';
import { createLogger } from '../../server/logger.js';
import type { AlertOthers, AlertUrgent } from '../../server/db/schema.js';
import { createAlertWorker, type AlertWorker, type WorkerOptions } from '../../server/alerts/worker.js';
import type { Logger } from '../../server/logger.js';
import type { Config } from '../../server/config.js';
import type { TestApp } from './app.js';

/**
 * Plumbing for the alert tests: a worker with short timings (polls, backoff
 * and SMTP timeouts in milliseconds, not seconds), the outbox as rows, and
 * the users columns the account page and sign-in set (set here directly:
 * those pages are not what these tests are about).
 */

export const FAST: WorkerOptions = {
  pollMs: 20,
  scheduleEveryMs: Infinity, // never from the loop: a test that needs the digest or overdue scan calls it
  leaseMs: 3000,
  sendTimeoutMs: 4000,
  backoff: { baseMs: 50, maxMs: 200 },
  timeouts: { connectMs: 1000, greetingMs: 1000, socketMs: 2000, dnsMs: 1000 },
};

export function testWorker(t: TestApp, opts: WorkerOptions = {}, over: { db?: Db; config?: Config; logger?: Logger } = {}): AlertWorker {
  return createAlertWorker(over.db ?? t.testDb.db, over.config ?? t.config, over.logger ?? t.ctx.logger, { ...FAST, ...opts });
}

/** Ticks until a tick claims nothing (every due row sent, or waiting for a later retry). */
export async function drain(worker: AlertWorker, maxTicks = 50): Promise<number> {
  let sent = 0;
  for (let i = 0; i < maxTicks; i++) {
    const r = await worker.tick();
    sent += r.sent;
    if (r.claimed === 0) return sent;
  }
  throw new Error('the outbox did not drain');
}

export async function outbox(t: TestApp | Db) {
  const db = 'testDb' in t ? t.testDb.db : t;
  return db.selectFrom('mail_outbox').selectAll().orderBy('created_at').orderBy('id').execute();
}

/** The alert choices of the account page, set directly. */
export async function setAlertChoices(
  t: TestApp,
  userId: string,
  c: { urgent?: AlertUrgent; others?: AlertOthers; batchMinutes?: number; pgpKey?: string | null; fingerprint?: string | null },
): Promise<void> {
  await t.testDb.db
    .updateTable('users')
    .set({
      ...(c.urgent ? { alert_urgent: c.urgent } : {}),
      ...(c.others ? { alert_others: c.others } : {}),
      ...(c.batchMinutes ? { alert_batch_minutes: c.batchMinutes } : {}),
      ...(c.pgpKey !== undefined ? { alert_pgp_key: c.pgpKey } : {}),
      ...(c.fingerprint !== undefined ? { alert_pgp_fingerprint: c.fingerprint } : {}),
    })
    .where('id', '=', userId)
    .execute();
}

/** What a completed sign-in records (the sign-in pages set it; here directly), by the database clock. */
export async function markSignedIn(t: TestApp, userId: string): Promise<void> {
  await t.testDb.db
    .updateTable('users')
    .set({ last_signed_in_at: new Date(Date.now() + 1) })
    .where('id', '=', userId)
    .execute();
}

/** Makes every row due now (a retry's backoff or a batch's spacing passed). */
export async function makeDue(t: TestApp): Promise<void> {
  await t.testDb.db
    .updateTable('mail_outbox')
    .set({ due_at: new Date(Date.now() - 1000) })
    .where('state', '=', 'pending')
    .execute();
}

/** A logger whose lines a test reads (the app's own logger writes to TestApp.logs). */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: createLogger('debug', sink), lines };
}

/** Waits until `check` holds (polling), or fails with `what`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
