import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { audit } from '../audit/log.js';
import type { Config, MailConfig } from '../config.js';
import type { Db } from '../db/index.js';
import type { Logger } from '../logger.js';
import { loadSettings } from '../settings/settings.js';
import { AlertEncryptionError, composeAlert } from './compose.js';
import {
  claimDue,
  deliverableRecipients,
  dropClaimed,
  holdClaim,
  markSent,
  releaseClaimed,
  retryLater,
  type Backoff,
  type ClaimedRow,
} from './queries.js';
import { scheduleDigest, scheduleOverdue } from './schedule.js';
import type { MailErrorClass } from './status.js';
import {
  CONNECTION_CLASSES,
  DEFAULT_TIMEOUTS,
  MAIL_ERROR_HINTS,
  classifyMailError,
  createMailer,
  type MailTimeouts,
  type Mailer,
} from './transport.js';

/**
 * The alert worker, one in every instance while SMTP_URL is set. Every
 * pollMs it claims the rows that are due (queries.ts: one UPDATE … FOR
 * UPDATE SKIP LOCKED, a transaction of its own), sends each with no
 * database transaction open (the embedded database has one connection: a
 * transaction held across an SMTP conversation would stall every
 * reporter), then marks it sent and writes `alert.sent` to the audit log in
 * one short transaction.
 *
 * Delivery is at least once. Each row carries a claim and a lease: a worker
 * that dies mid-send leaves the row to be claimed again when its lease runs
 * out. A message is sent twice only if the SMTP server had accepted it (its
 * 250 to DATA) and the mark then did not commit (the process died, or the
 * database was away, in between); the second copy has the same Message-ID.
 *
 * A failure is sorted into a class (transport.ts), logged once with what to
 * check, and retried with backoff; after 24 hours of failures the row is
 * given up (`failed`, and `alert.failed` in the audit log).
 */

export type WorkerHooks = {
  /** Tests only. After the claim, before the send; throwing stops the worker there, as if the process had died. */
  beforeSend?(rowId: string): void | Promise<void>;
  /** Tests only. After the SMTP server accepted the message, before the mark; throwing stops the worker there, as if the process had died. */
  afterSend?(rowId: string): void | Promise<void>;
};

export type WorkerOptions = {
  /** How often to look for due rows (default ALERT_POLL_SECONDS). */
  pollMs?: number;
  /** How often to look for the digest's hour and for overdue cases (default a minute, the first time at start; Infinity: never). */
  scheduleEveryMs?: number;
  /** Rows claimed at a time. */
  batchSize?: number;
  /** How long a claim holds before another instance may take the row; well over one send. */
  leaseMs?: number;
  /** One send is abandoned after this (the SMTP timeouts below usually end it first). */
  sendTimeoutMs?: number;
  backoff?: Partial<Backoff>;
  timeouts?: MailTimeouts;
  hooks?: WorkerHooks;
};

export const DEFAULT_BACKOFF: Backoff = { baseMs: 15_000, maxMs: 10 * 60_000, giveUpMs: 24 * 3600_000 };

export type TickResult = { claimed: number; sent: number; failed: number; error: MailErrorClass | null };

export type AlertWorker = {
  /** Claims and sends one batch of due rows (the loop calls this; tests call it directly). */
  tick(): Promise<TickResult>;
  /** The digest and overdue scans (the loop calls this every scheduleEveryMs). */
  schedule(): Promise<void>;
  start(): void;
  /** Stops the loop, waiting at most `waitMs` for a send in flight to finish and be marked. */
  stop(waitMs?: number): Promise<void>;
  /** A test hook stopped it, as a crash would have. */
  readonly crashed: boolean;
};

class Crash extends Error {}

export function createAlertWorker(db: Db, config: Config, logger: Logger, opts: WorkerOptions = {}): AlertWorker {
  const mail: MailConfig = config.mail ?? fail('the alert worker needs SMTP_URL');
  const pollMs = opts.pollMs ?? mail.pollMs;
  const scheduleEveryMs = opts.scheduleEveryMs ?? 60_000;
  const batchSize = opts.batchSize ?? 20;
  const leaseMs = opts.leaseMs ?? 300_000; // well above one send's limit, so a slow send is never taken over
  const sendTimeoutMs = opts.sendTimeoutMs ?? 180_000; // above the socket limit (transport.ts)
  const backoff: Backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
  const hooks = opts.hooks ?? {};
  const mailer: Mailer = createMailer(mail, opts.timeouts ?? DEFAULT_TIMEOUTS);

  let crashed = false;
  let stopping = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let lastSchedule = 0;
  let databaseAway = false;

  const hook = async (fn: ((id: string) => void | Promise<void>) | undefined, id: string) => {
    if (!fn) return;
    try {
      await fn(id);
    } catch {
      throw new Crash();
    }
  };

  /** Marks one row sent with its audit entry; retried briefly, since a mark that never commits means a second copy. */
  async function mark(row: ClaimedRow, claim: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await db.transaction().execute(async (trx) => {
          const sent = await markSent(trx, row.id, claim);
          if (sent) await audit(trx, { action: 'alert.sent', subjectUserId: sent.user_id, details: { kind: sent.kind } });
        });
        return;
      } catch (err) {
        if (attempt >= 2 || stopping) throw err;
        await sleep(250 * (attempt + 1));
      }
    }
  }

  async function failed(rows: ClaimedRow[], claim: string, error: MailErrorClass, err: unknown): Promise<void> {
    const back = await db.transaction().execute(async (trx) => {
      const updated = await retryLater(
        trx,
        rows.map((r) => r.id),
        claim,
        error,
        backoff,
      );
      for (const r of updated.filter((u) => u.state === 'failed')) {
        await audit(trx, { action: 'alert.failed', subjectUserId: r.user_id, details: { kind: r.kind } });
      }
      return updated;
    });
    const e = (err ?? {}) as { code?: unknown; responseCode?: unknown };
    // The class, the codes and what to check; never the server's answer (it can quote an address) or the message.
    const facts = {
      alertError: error,
      code: typeof e.code === 'string' ? e.code : undefined,
      responseCode: typeof e.responseCode === 'number' ? e.responseCode : undefined,
      alerts: rows.length,
    };
    const gaveUp = back.filter((u) => u.state === 'failed').length;
    if (gaveUp) logger.error({ ...facts, gaveUp }, `e-mail alerts given up after 24 hours of failures (${error}): ${MAIL_ERROR_HINTS[error]}`);
    if (back.length > gaveUp) logger.warn(facts, `e-mail alert not delivered (${error}), will retry: ${MAIL_ERROR_HINTS[error]}`);
  }

  async function tick(): Promise<TickResult> {
    const result: TickResult = { claimed: 0, sent: 0, failed: 0, error: null };
    if (crashed || stopping) return result;
    const claim = randomUUID();
    const rows = await claimDue(db, claim, batchSize, leaseMs);
    result.claimed = rows.length;
    if (rows.length === 0) return result;
    let pending = rows.slice();
    try {
      const [people, settings] = await Promise.all([deliverableRecipients(db, [...new Set(rows.map((r) => r.user_id))]), loadSettings(db, config)]);
      const byId = new Map(people.map((p) => [p.id, p]));
      const ctx = { from: mail.from, orgName: settings.orgName, publicUrl: config.publicUrl };
      while (pending.length) {
        if (stopping) break;
        const row = pending[0]!;
        const person = byId.get(row.user_id);
        if (!person) {
          // Deactivated, or no longer approved, since the row was written.
          await dropClaimed(db, row.id, claim);
          pending = pending.slice(1);
          continue;
        }
        if (!(await holdClaim(db, row.id, claim, leaseMs))) {
          pending = pending.slice(1); // another instance took it after our lease ran out
          continue;
        }
        await hook(hooks.beforeSend, row.id);
        let error: MailErrorClass | null = null;
        let cause: unknown = null;
        try {
          const raw = await composeAlert(row.kind, row.id, { email: person.email, pgpKey: person.alert_pgp_key }, ctx);
          await mailer.send(person.email, raw, AbortSignal.timeout(sendTimeoutMs));
        } catch (err) {
          cause = err;
          error = err instanceof AlertEncryptionError ? 'encryption' : classifyMailError(err);
        }
        if (error) {
          // A server that cannot be reached fails every message alike: the rest of the batch waits with this one.
          const together = CONNECTION_CLASSES.has(error) ? pending : [row];
          await failed(together, claim, error, cause);
          result.failed += together.length;
          result.error = error;
          pending = pending.slice(together.length);
          continue;
        }
        await hook(hooks.afterSend, row.id);
        pending = pending.slice(1);
        await mark(row, claim);
        result.sent += 1;
      }
    } catch (err) {
      if (err instanceof Crash) {
        crashed = true; // as if the process had died: the claimed rows keep their lease and are taken again after it
        return result;
      }
      throw err;
    } finally {
      if (!crashed && pending.length)
        await releaseClaimed(
          db,
          pending.map((r) => r.id),
          claim,
        ).catch(() => undefined);
    }
    return result;
  }

  async function schedule(): Promise<void> {
    await scheduleDigest(db, config);
    await scheduleOverdue(db, config);
  }

  async function loop(): Promise<void> {
    timer = null;
    if (stopping || crashed) return;
    let again = false;
    const run = (async () => {
      try {
        if (Date.now() - lastSchedule >= scheduleEveryMs) {
          lastSchedule = Date.now();
          await schedule();
        }
        const r = await tick();
        again = r.claimed === batchSize && r.error === null;
        if (databaseAway) logger.info('e-mail alerts: the database answers again');
        databaseAway = false;
      } catch (err) {
        if (!databaseAway) logger.warn({ err }, 'e-mail alerts: could not read or write the outbox; trying again');
        databaseAway = true;
      }
    })();
    running = run;
    await run;
    running = null;
    if (!stopping && !crashed) {
      timer = setTimeout(() => void loop(), again ? 0 : pollMs);
      timer.unref();
    }
  }

  return {
    tick,
    schedule,
    start() {
      if (timer || running || stopping) return;
      timer = setTimeout(() => void loop(), 0);
      timer.unref();
    },
    async stop(waitMs = 10_000) {
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (running) await Promise.race([running, sleep(waitMs, undefined, { ref: false })]);
      mailer.close();
    },
    get crashed() {
      return crashed;
    },
  };
}

function fail(message: string): never {
  throw new Error(message);
}
