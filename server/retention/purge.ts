import { sql } from 'kysely';
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

export async function duePurges(db: Db, closedRetentionDays: number): Promise<string[]> {
  const rows = await db
    .selectFrom('reports')
    .select('id')
    .where('status', '=', 'closed')
    .where('closed_at', '<', sql<Date>`now() - make_interval(days => ${closedRetentionDays})`)
    .where((eb) => eb.or([eb('retain_until', 'is', null), eb('retain_until', '<', sql<Date>`now()`)]))
    .orderBy('closed_at')
    .execute();
  return rows.map((r) => r.id);
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
