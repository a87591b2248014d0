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

export class RateLimits {
  private readonly limiters: Record<LimitName, { perIp: RateLimiterPostgres; total: RateLimiterPostgres }>;
  private dayKey: { day: string; key: Uint8Array } | null = null;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
  ) {
    const make = (keyPrefix: string, points: number) =>
      new RateLimiterPostgres({
        storeClient: kyselyStoreClient(db),
        storeType: 'pool',
        tableName: 'rate_limits',
        tableCreated: true, // the migration owns the table
        clearExpiredByTimeout: false, // the housekeeping job clears it
        keyPrefix,
        points,
        duration: 3600,
      });
    const r = config.rateLimits;
    this.limiters = {
      submit: { perIp: make('submit:ip', r.submissionsPerIp), total: make('submit:all', r.submissionsTotal) },
      receipt: { perIp: make('receipt:ip', r.receiptAttemptsPerIp), total: make('receipt:all', r.receiptAttemptsTotal) },
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
