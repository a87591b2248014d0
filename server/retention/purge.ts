import { sql, type RawBuilder, type SqlBool } from 'kysely';
import { audit } from '../audit/log.js';
import type { Db } from '../db/index.js';
import { archiveForStatistics } from '../stats/archive.js';

/**
 * Retention: closed cases past the retention period (and past any extension
 * a caseworker recorded) are deleted — the row and, by cascade, its data key
 * copies, fields, messages, notes, referrals, evidence chunks and sessions —
 * after their triage fields go to the statistics archive. One instance at a
 * time: a transaction-scoped advisory lock; a second instance running at the
 * same moment finds the lock taken and does nothing.
 */
const PURGE_LOCK = 7_406_921_114;

export type PurgeResult = { ran: boolean; due: string[]; deleted: number };

/** The queue flags a closed case this many days before retention deletes it. */
export const RETENTION_NOTICE_DAYS = 14;
/** The longest a caseworker may keep a case past its retention date, per extension. */
export const MAX_EXTENSION_DAYS = 3 * 365;

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
  await db.updateTable('reports').set({ retain_until: until }).where('id', '=', reportId).where('status', '=', 'closed').execute();
}

/**
 * Deletes a report that was never triaged (spam, a test, abuse) with all its
 * rows. Not archived for statistics: it was never a real report. Refuses
 * (returns false) once the case has been triaged, so real cases only leave
 * through the retention period or the reporter's own withdrawal.
 */
export async function deleteUntriaged(db: Db, reportId: string): Promise<boolean> {
  const res = await db
    .deleteFrom('reports')
    .where('id', '=', reportId)
    .where('status', '=', 'new')
    .where('triaged_at', 'is', null)
    .where('state', '=', 'submitted')
    .executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

export async function purge(db: Db, opts: { closedRetentionDays: number; dryRun?: boolean }): Promise<PurgeResult> {
  if (opts.dryRun) {
    const due = await duePurges(db, opts.closedRetentionDays);
    return { ran: true, due, deleted: 0 };
  }
  return db.transaction().execute(async (trx) => {
    const lock = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${PURGE_LOCK}) as ok`.execute(trx);
    if (!lock.rows[0]?.ok) return { ran: false, due: [], deleted: 0 };
    const due = await duePurges(trx, opts.closedRetentionDays);
    let deleted = 0;
    for (const id of due) {
      await archiveForStatistics(trx, id);
      const res = await trx.deleteFrom('reports').where('id', '=', id).executeTakeFirst();
      deleted += Number(res.numDeletedRows);
    }
    if (deleted > 0) await audit(trx, { action: 'retention.purged', details: { deleted } });
    return { ran: true, due, deleted };
  });
}
