import { sql, type SqlBool } from 'kysely';
import { assertTransaction, type Db } from '../db/index.js';

/**
 * The SQL of reactivating a staff account (admin/accounts.ts). Everything
 * else an account change needs is in staff/queries.ts.
 */

/** Makes a deactivated account active again; false if it was not deactivated (a parallel request got there first). */
export async function markReactivated(trx: Db, id: string): Promise<boolean> {
  assertTransaction(trx);
  const res = await trx
    .updateTable('users')
    .set({ status: 'active', deactivated_at: null })
    .where('id', '=', id)
    .where('status', '=', 'deactivated')
    .executeTakeFirst();
  return res.numUpdatedRows === 1n;
}

/** How many active caseworkers hold a copy of a current team key (the confirmation page warns before the last one goes). */
export async function activeKeyHolderCount(db: Db): Promise<number> {
  const row = await db
    .selectFrom('key_grants as g')
    .innerJoin('users as u', 'u.id', 'g.user_id')
    .innerJoin('team_keys as k', 'k.id', 'g.team_key_id')
    .select((eb) => eb.fn.count<number>('g.user_id').distinct().as('n'))
    .where('u.status', '=', 'active')
    .where(sql<SqlBool>`u.roles @> array['caseworker']::text[]`)
    .where('k.retired_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
