import { sql, type RawBuilder, type SqlBool } from 'kysely';
import { assertTransaction, type Db } from '../db/index.js';

/** The SQL of retention (purge.ts holds the rule and the run). */

/**
 * When retention deletes a case (SQL over the `reports` row, aliased `r`):
 * the retention period after closing, or the caseworker's extension if later.
 * Null for a case that is not closed.
 */
export function deletionDateExpr(closedRetentionDays: number): RawBuilder<Date | null> {
  return sql<Date | null>`case when r.status = 'closed' and r.closed_at is not null
    then greatest(r.closed_at + make_interval(days => ${closedRetentionDays}), r.retain_until) end`;
}

/** One case's deletion date by the same rule (null unless closed). */
export async function deletionDateOf(db: Db, reportId: string, closedRetentionDays: number): Promise<Date | null> {
  const row = await db
    .selectFrom('reports as r')
    .select(deletionDateExpr(closedRetentionDays).as('deletes_at'))
    .where('r.id', '=', reportId)
    .executeTakeFirst();
  return row?.deletes_at ? new Date(row.deletes_at) : null;
}

export async function duePurges(db: Db, closedRetentionDays: number): Promise<string[]> {
  const rows = await db
    .selectFrom('reports as r')
    .select('r.id')
    .where('r.status', '=', 'closed')
    .where(sql<SqlBool>`${deletionDateExpr(closedRetentionDays)} < now()`)
    .orderBy('r.closed_at')
    .execute();
  return rows.map((r) => r.id);
}

/**
 * Keeps a closed case until `until` (later than its current deletion date).
 * The caller records the reason, encrypted, as a note on the case.
 */
export async function extendRetention(db: Db, reportId: string, until: Date): Promise<void> {
  assertTransaction(db); // with the note and the audit entry that say why
  await db.updateTable('reports').set({ retain_until: until }).where('id', '=', reportId).where('status', '=', 'closed').execute();
}

/**
 * Deletes a report that was never triaged (spam, a test, abuse) with all its
 * rows. Not archived for statistics: it was never a real report. Refuses
 * (returns false) once the case has been triaged, so real cases only leave
 * through the retention period or the reporter's own withdrawal.
 */
export async function deleteUntriaged(db: Db, reportId: string): Promise<boolean> {
  assertTransaction(db); // with the audit entry that records it
  const res = await db
    .deleteFrom('reports')
    .where('id', '=', reportId)
    .where('status', '=', 'new')
    .where('triaged_at', 'is', null)
    .where('state', '=', 'submitted')
    .executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

/**
 * The purge's one-instance-at-a-time lock, for the caller's transaction:
 * false when another instance holds it.
 */
export async function tryPurgeLock(trx: Db, lockId: number): Promise<boolean> {
  assertTransaction(trx);
  const lock = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${lockId}) as ok`.execute(trx);
  return Boolean(lock.rows[0]?.ok);
}

/** Deletes a report and, by cascade, every row tied to it; the number deleted (0 or 1). */
export async function deleteReport(trx: Db, reportId: string): Promise<number> {
  assertTransaction(trx);
  const res = await trx.deleteFrom('reports').where('id', '=', reportId).executeTakeFirst();
  return Number(res.numDeletedRows);
}
