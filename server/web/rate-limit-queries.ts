import { CompiledQuery, sql } from 'kysely';
import type { Db } from '../db/index.js';

/**
 * The rate_limits table. rate-limiter-flexible's Postgres store wants a
 * `pg`-style client; this adapter runs its queries through Kysely so the
 * same code works on a PostgreSQL server and on the embedded PGlite.
 */
export function kyselyStoreClient(db: Db) {
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

/** One point back on a limiter's key: only within the window it was taken in (see RateLimits.giveBack), never below zero. */
export async function givePointBack(db: Db, key: string, windowEnd: number): Promise<void> {
  await db
    .updateTable('rate_limits')
    .set({ points: sql`points - 1` })
    .where('key', '=', key)
    .where('points', '>', 0)
    .where('expire', '>', Date.now())
    .where('expire', '<=', windowEnd + 5_000)
    .execute();
}

export async function deleteExpiredRateLimits(db: Db): Promise<void> {
  await db.deleteFrom('rate_limits').where('expire', '<', Date.now()).execute();
}
