import type { Request } from 'express';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { ipHashDayKey, ipHashRoot, keyedHash, processIpHashSecret, utcDay } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import { tooManyRequests } from '../errors.js';
import { clientKey } from './client.js';
import { givePointBack, kyselyStoreClient } from './rate-limit-queries.js';

export { deleteExpiredRateLimits } from './rate-limit-queries.js';

/**
 * Rate limits shared by every instance, stored in PostgreSQL through
 * rate-limiter-flexible (its store runs through Kysely, rate-limit-queries.ts).
 */

/** A point taken before an attempt is evaluated; handed back if it succeeds, so only failures count. */
export type Attempt = { succeeded(): Promise<void> };

/** One point in one limiter, and the end of the window it was taken in. */
type Taken = { limiter: RateLimiterPostgres; key: string; windowEnd: number };

export class RateLimits {
  private readonly submit: { perClient: RateLimiterPostgres; total: RateLimiterPostgres };
  private readonly receipt: { perClient: RateLimiterPostgres; total: RateLimiterPostgres };
  private readonly signin: { perClient: RateLimiterPostgres; perAccount: RateLimiterPostgres };
  /** Derived from a secret that is never in the database (P10); see docs/security.md. */
  private readonly root: Uint8Array;
  private dayKey: { day: number; key: Uint8Array } | null = null;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
  ) {
    const make = (keyPrefix: string, points: number, duration = 3600) =>
      new RateLimiterPostgres({
        storeClient: kyselyStoreClient(db),
        storeType: 'pool',
        tableName: 'rate_limits',
        tableCreated: true, // the migration owns the table
        clearExpiredByTimeout: false, // the housekeeping job clears it
        keyPrefix,
        points,
        duration,
      });
    const r = config.rateLimits;
    this.submit = { perClient: make('submit:ip', r.submissionsPerIp), total: make('submit:all', r.submissionsTotal) };
    this.receipt = { perClient: make('receipt:ip', r.receiptAttemptsPerIp), total: make('receipt:all', r.receiptAttemptsTotal) };
    // Failed staff sign-ins: per client over an hour, per account over 15 minutes.
    this.signin = {
      perClient: make('signin:ip', config.staff.failuresPerIp, 3600),
      perAccount: make('signin:acct', config.staff.failuresPerAccount, 900),
    };
    this.root = ipHashRoot(config.ipHashSecret ?? processIpHashSecret());
  }

  /** The client (see clientKey) under today's key; the key changes at 00:00 UTC. */
  clientHash(req: Request, now = Date.now()): string {
    const day = utcDay(now);
    if (this.dayKey?.day !== day) this.dayKey = { day, key: ipHashDayKey(this.root, day) };
    return keyedHash(this.dayKey.key, clientKey(req));
  }

  private accountKey(account: string): string {
    return keyedHash(new Uint8Array(32), account.trim().toLowerCase());
  }

  /**
   * A staff password or code about to be checked: a point per client and per
   * account, taken before the check (so parallel guesses cannot all pass a
   * count read beforehand). Applies even when RATE_LIMITS is off for the
   * reporter side. Throws a 429 HttpError when either limit is reached.
   */
  signInAttempt(req: Request, account: string): Promise<Attempt> {
    return this.take([
      [this.signin.perClient, this.clientHash(req)],
      [this.signin.perAccount, this.accountKey(account)],
    ]);
  }

  /** A receipt about to be tried: per client and globally, only failures kept. */
  async receiptAttempt(req: Request): Promise<Attempt> {
    if (!this.config.rateLimits.enabled) return { succeeded: async () => undefined };
    return this.take([
      [this.receipt.perClient, this.clientHash(req)],
      [this.receipt.total, 'all'],
    ]);
  }

  /** Counts one submission per client and globally (every accepted one counts); throws a 429 HttpError past either. */
  async consume(_name: 'submit', req: Request): Promise<void> {
    if (!this.config.rateLimits.enabled) return;
    await this.take([
      [this.submit.perClient, this.clientHash(req)],
      [this.submit.total, 'all'],
    ]);
  }

  /**
   * Takes a point from each limiter in turn, the client's own first: a
   * client refused by its own limit never touches the shared one, so one
   * visitor's refused attempts cannot use up everyone's allowance. When a
   * later limiter refuses, the points already taken go back (the attempt is
   * never evaluated). The refused limiter keeps its point: past its limit
   * the count changes nothing until the window ends.
   */
  private async take(steps: [RateLimiterPostgres, string][]): Promise<Attempt> {
    const taken: Taken[] = [];
    for (const [limiter, key] of steps) {
      try {
        const res = await limiter.consume(key);
        taken.push({ limiter, key, windowEnd: Date.now() + res.msBeforeNext });
      } catch (err) {
        await this.giveBack(taken).catch(() => undefined); // best effort; the refusal or the failure is what matters
        if (err instanceof RateLimiterRes) throw tooManyRequests(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
        throw err;
      }
    }
    let done = false;
    return {
      succeeded: async () => {
        if (done) return;
        done = true;
        await this.giveBack(taken);
      },
    };
  }

  /**
   * Hands points back, each only within the window it was taken in and never
   * below zero. (rate-limiter-flexible's reward would, once the window has
   * ended, start a new one at −1: many successes or refusals timed at the end
   * of a window would then buy as many extra attempts in the next.) A new
   * window ends at least a whole duration later, so the slack below cannot
   * reach it.
   */
  private async giveBack(taken: Taken[]): Promise<void> {
    for (const { limiter, key, windowEnd } of taken) {
      await givePointBack(this.db, limiter.getKey(key), windowEnd);
    }
  }
}
