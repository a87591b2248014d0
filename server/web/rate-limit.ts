import type { Request } from 'express';
import { CompiledQuery } from 'kysely';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { keyedHash, randomBytes } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import { tooManyRequests } from '../errors.js';

/**
 * Rate limits shared by every instance, stored in PostgreSQL through
 * rate-limiter-flexible. Its Postgres store wants a `pg`-style client; this
 * adapter runs its queries through Kysely so the same code works on a
 * PostgreSQL server and on the embedded PGlite.
 */
function kyselyStoreClient(db: Db) {
  return {
    async query(q: { text: string; values?: unknown[] }) {
      const result = await db.executeQuery(CompiledQuery.raw(q.text, q.values ?? []));
      const rows = (result.rows as Record<string, unknown>[]).map((r) =>
        'expire' in r ? { ...r, expire: r['expire'] == null ? null : Number(r['expire']) } : r,
      );
      return { rows, rowCount: rows.length || Number(result.numAffectedRows ?? 0) };
    },
  };
}

export type LimitName = 'submit' | 'receipt';
export type FailureLimitName = 'signin';

export class RateLimits {
  private readonly limiters: Record<LimitName, { perIp: RateLimiterPostgres; total: RateLimiterPostgres }>;
  private readonly failures: Record<FailureLimitName, { perAccount: RateLimiterPostgres; perIp: RateLimiterPostgres }>;
  private dayKey: { day: string; key: Uint8Array } | null = null;

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
    this.limiters = {
      submit: { perIp: make('submit:ip', r.submissionsPerIp), total: make('submit:all', r.submissionsTotal) },
      receipt: { perIp: make('receipt:ip', r.receiptAttemptsPerIp), total: make('receipt:all', r.receiptAttemptsTotal) },
    };
    // Failed staff sign-ins: per account over 15 minutes, per client address over an hour.
    this.failures = {
      signin: {
        perAccount: make('signin:acct', config.staff.failuresPerAccount, 900),
        perIp: make('signin:ip', config.staff.failuresPerIp, 3600),
      },
    };
  }

  /**
   * The client IP under today's random key (P10). Keys older than today are
   * deleted, so a later copy of the database cannot test old hashes against
   * candidate addresses.
   */
  async ipHash(req: Request): Promise<string> {
    const day = new Date().toISOString().slice(0, 10);
    if (this.dayKey?.day !== day) {
      await this.db.insertInto('ip_hash_keys').values({ day, key: randomBytes(32) }).onConflict((oc) => oc.doNothing()).execute();
      const row = await this.db.selectFrom('ip_hash_keys').select('key').where('day', '=', day).executeTakeFirstOrThrow();
      await this.db.deleteFrom('ip_hash_keys').where('day', '<', day).execute();
      this.dayKey = { day, key: row.key };
    }
    return keyedHash(this.dayKey.key, req.ip ?? 'unknown');
  }

  private accountKey(account: string): string {
    return keyedHash(new Uint8Array(32), account.trim().toLowerCase());
  }

  /**
   * Sign-in failures (wrong password or code) are checked before an attempt
   * and counted only when it fails; they apply even when RATE_LIMITS is off
   * for the reporter side. Throws a 429 HttpError when either limit is reached.
   */
  async checkFailures(name: FailureLimitName, req: Request, account: string): Promise<void> {
    const { perAccount, perIp } = this.failures[name];
    const [a, i] = await Promise.all([perAccount.get(this.accountKey(account)), perIp.get(await this.ipHash(req))]);
    for (const [res, limit] of [[a, perAccount.points], [i, perIp.points]] as const) {
      if (res && res.consumedPoints >= limit) throw tooManyRequests(Math.ceil(res.msBeforeNext / 1000));
    }
  }

  /** Records one failure against the account and the client. */
  async recordFailure(name: FailureLimitName, req: Request, account: string): Promise<void> {
    const { perAccount, perIp } = this.failures[name];
    const swallow = (err: unknown) => {
      if (!(err instanceof RateLimiterRes)) throw err;
    };
    await perAccount.consume(this.accountKey(account)).catch(swallow);
    await perIp.consume(await this.ipHash(req)).catch(swallow);
  }

  /** Counts one attempt; throws a 429 HttpError when the per-IP or global limit is reached. */
  async consume(name: LimitName, req: Request): Promise<void> {
    if (!this.config.rateLimits.enabled) return;
    const { perIp, total } = this.limiters[name];
    try {
      await perIp.consume(await this.ipHash(req));
      await total.consume('all');
    } catch (err) {
      if (err instanceof RateLimiterRes) throw tooManyRequests(Math.ceil(err.msBeforeNext / 1000));
      throw err;
    }
  }
}

export async function deleteExpiredRateLimits(db: Db): Promise<void> {
  await db.deleteFrom('rate_limits').where('expire', '<', Date.now()).execute();
}
