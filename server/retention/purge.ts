import { audit } from '../audit/log.js';
import type { Db } from '../db/index.js';
import { archiveForStatistics } from '../stats/archive-queries.js';
import { deleteReport, duePurges, tryPurgeLock } from './queries.js';

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

export async function purge(db: Db, opts: { closedRetentionDays: number; dryRun?: boolean }): Promise<PurgeResult> {
  if (opts.dryRun) {
    const due = await duePurges(db, opts.closedRetentionDays);
    return { ran: true, due, deleted: 0 };
  }
  return db.transaction().execute(async (trx) => {
    if (!(await tryPurgeLock(trx, PURGE_LOCK))) return { ran: false, due: [], deleted: 0 };
    const due = await duePurges(trx, opts.closedRetentionDays);
    let deleted = 0;
    for (const id of due) {
      await archiveForStatistics(trx, id);
      deleted += await deleteReport(trx, id);
    }
    if (deleted > 0) await audit(trx, { action: 'retention.purged', details: { deleted } });
    return { ran: true, due, deleted };
  });
}
