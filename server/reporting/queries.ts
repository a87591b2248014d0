import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import type { NewReport } from '../db/schema.js';

export async function insertPendingReport(db: Db, row: Omit<NewReport, 'state'>): Promise<void> {
  await db
    .insertInto('reports')
    .values({ ...row, state: 'pending' })
    .execute();
}

/** Returns false if the receipt lookup collided (astronomically unlikely) or the report is gone. */
export async function markSubmitted(db: Db, id: string, receiptLookup: Uint8Array, dataKeyWrapped: Uint8Array): Promise<boolean> {
  try {
    const res = await db
      .updateTable('reports')
      .set({
        state: 'submitted',
        receipt_lookup: receiptLookup,
        data_key_wrapped: dataKeyWrapped,
        submitted_at: sql`now()`,
      })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return res.numUpdatedRows === 1n;
  } catch (err) {
    if ((err as { code?: string }).code === '23505') return false;
    throw err;
  }
}

export async function deletePendingReport(db: Db, id: string): Promise<void> {
  await db.deleteFrom('reports').where('id', '=', id).where('state', '=', 'pending').execute();
}

/** Deletes reports whose submission never finished (crash mid-upload). */
export async function deleteAbandonedReports(db: Db, olderThanMinutes: number): Promise<number> {
  const res = await db
    .deleteFrom('reports')
    .where('state', '=', 'pending')
    .where('created_at', '<', sql<Date>`now() - make_interval(mins => ${olderThanMinutes})`)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** Evidence rows left "uploading" by a process that died mid-upload (a failed request deletes its own at once). */
export async function deleteAbandonedEvidence(db: Db, olderThanMinutes: number): Promise<number> {
  const stale = await db
    .selectFrom('evidence')
    .select(['id', 'report_id'])
    .where('state', '=', 'uploading')
    .where('created_at', '<', sql<Date>`now() - make_interval(mins => ${olderThanMinutes})`)
    .execute();
  // Each with its bytes given back to the report's allowance, in one transaction.
  for (const e of stale) await db.transaction().execute((trx) => deleteEvidence(trx, e.report_id, e.id));
  return stale.length;
}

// ---------------------------------------------------------------- one submission per form

/**
 * Claims a form's key for this request; false if another request has it (or
 * filed it). A claim still 'sending' after `staleAfterMs` belonged to a
 * process that died mid-request, and is taken over.
 */
export async function insertFormClaim(db: Db, keyHash: Uint8Array, staleAfterMs: number): Promise<boolean> {
  const rows = await db
    .insertInto('form_submissions')
    .values({ key_hash: keyHash, state: 'sending' })
    .onConflict((oc) =>
      oc
        .column('key_hash')
        .doUpdateSet({ created_at: sql`now()` })
        .where('form_submissions.state', '=', 'sending')
        .where('form_submissions.created_at', '<', sql<Date>`now() - make_interval(secs => ${staleAfterMs / 1000})`),
    )
    .returning('key_hash')
    .execute();
  return rows.length === 1;
}

export function findFormClaim(db: Db, keyHash: Uint8Array) {
  return db.selectFrom('form_submissions').select(['state', 'report_id', 'receipt_sealed']).where('key_hash', '=', keyHash).executeTakeFirst();
}

export async function completeFormClaim(db: Db, keyHash: Uint8Array, reportId: string, receiptSealed: Uint8Array): Promise<void> {
  await db
    .updateTable('form_submissions')
    .set({ state: 'sent', report_id: reportId, receipt_sealed: receiptSealed })
    .where('key_hash', '=', keyHash)
    .execute();
}

/** A request that did not file its report gives the form back (a retry may file it). */
export async function releaseFormClaim(db: Db, keyHash: Uint8Array): Promise<void> {
  await db.deleteFrom('form_submissions').where('key_hash', '=', keyHash).where('state', '=', 'sending').execute();
}

/** Once the reporter has typed the receipt back, no copy of it is kept for repeats. */
export async function forgetClaimReceipt(db: Db, reportId: string): Promise<void> {
  await db.updateTable('form_submissions').set({ receipt_sealed: null }).where('report_id', '=', reportId).execute();
}

export async function deleteOldFormClaims(db: Db, olderThanMinutes: number): Promise<number> {
  const res = await db
    .deleteFrom('form_submissions')
    .where('created_at', '<', sql<Date>`now() - make_interval(mins => ${olderThanMinutes})`)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

export async function findByReceiptLookup(db: Db, lookup: Uint8Array) {
  return db
    .selectFrom('reports')
    .select(['id', 'data_key_wrapped'])
    .where('receipt_lookup', '=', lookup)
    .where('state', '=', 'submitted')
    .executeTakeFirst();
}

export async function getReport(db: Db, id: string) {
  return db.selectFrom('reports').selectAll().where('id', '=', id).where('state', '=', 'submitted').executeTakeFirst();
}

export async function listMessages(db: Db, reportId: string) {
  return db
    .selectFrom('messages')
    .select(['id', 'author', 'body', 'created_at'])
    .where('report_id', '=', reportId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export async function insertMessage(db: Db, row: { id: string; report_id: string; author: 'reporter' | 'staff'; body: Uint8Array }): Promise<void> {
  await db.insertInto('messages').values(row).execute();
}

export async function touchReporterActivity(db: Db, reportId: string): Promise<void> {
  await db
    .updateTable('reports')
    .set({ reporter_updated_at: sql`now()` })
    .where('id', '=', reportId)
    .execute();
}

export async function deleteReport(db: Db, id: string): Promise<boolean> {
  const res = await db.deleteFrom('reports').where('id', '=', id).executeTakeFirst();
  return res.numDeletedRows === 1n;
}

export async function listEvidence(db: Db, reportId: string) {
  return db
    .selectFrom('evidence')
    .select(['id', 'meta', 'added_by', 'created_at', 'stream_header', 'chunk_count'])
    .where('report_id', '=', reportId)
    .where('state', '=', 'complete')
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** Ciphertext bytes of evidence the report holds or has reserved, for the per-report limit. */
export async function evidenceBytes(db: Db, reportId: string): Promise<number> {
  const row = await db.selectFrom('reports').select('evidence_bytes').where('id', '=', reportId).executeTakeFirst();
  return Number(row?.evidence_bytes ?? 0);
}

/**
 * Takes `bytes` of the report's evidence allowance, or nothing: one
 * conditional UPDATE, so uploads running at once can never together pass
 * the limit (the row lock orders them). Call it in the transaction that
 * inserts the chunks those bytes are for.
 */
export async function reserveEvidenceBytes(db: Db, reportId: string, bytes: number, limit: number): Promise<boolean> {
  const res = await sql`update reports set evidence_bytes = evidence_bytes + ${bytes}
    where id = ${reportId} and evidence_bytes + ${bytes} <= ${limit}`.execute(db);
  return res.numAffectedRows === 1n;
}

export async function insertEvidence(
  db: Db,
  row: { id: string; report_id: string; added_by: 'reporter' | 'staff'; stream_header: Uint8Array },
): Promise<void> {
  await db
    .insertInto('evidence')
    .values({ ...row, state: 'uploading', meta: null })
    .execute();
}

export async function insertEvidenceChunks(db: Db, evidenceId: string, firstSeq: number, chunks: Uint8Array[]): Promise<void> {
  await db
    .insertInto('evidence_chunks')
    .values(chunks.map((data, i) => ({ evidence_id: evidenceId, seq: firstSeq + i, data })))
    .execute();
}

export async function completeEvidence(db: Db, id: string, meta: Uint8Array, chunkCount: number): Promise<void> {
  await db.updateTable('evidence').set({ state: 'complete', meta, chunk_count: chunkCount }).where('id', '=', id).execute();
}

/**
 * Deletes a file that failed part-way and gives its stored bytes back to the
 * report's allowance. Call it in one transaction, so the count and the
 * chunks never disagree.
 */
export async function deleteEvidence(db: Db, reportId: string, id: string): Promise<void> {
  await sql`with gone as (delete from evidence_chunks where evidence_id = ${id} returning octet_length(data) as n)
    update reports set evidence_bytes = evidence_bytes - (select coalesce(sum(n), 0) from gone) where id = ${reportId}`.execute(db);
  await db.deleteFrom('evidence').where('id', '=', id).where('report_id', '=', reportId).execute();
}

/** One complete file of a report, with its place in the report's list (1 for the oldest), which names its download. */
export async function getEvidence(db: Db, reportId: string, evidenceId: string) {
  return db
    .selectFrom('evidence')
    .select(['id', 'meta', 'stream_header', 'chunk_count'])
    .select(
      sql<number>`(select count(*)::int from evidence x where x.report_id = evidence.report_id and x.state = 'complete'
        and (x.created_at, x.id) <= (evidence.created_at, evidence.id))`.as('n'),
    )
    .where('id', '=', evidenceId)
    .where('report_id', '=', reportId)
    .where('state', '=', 'complete')
    .executeTakeFirst();
}

/** Reads chunks in small batches so a 100 MB file never sits in memory. */
export async function* readEvidenceChunks(db: Db, evidenceId: string, chunkCount: number, batch = 8) {
  for (let from = 0; from < chunkCount; from += batch) {
    const rows = await db
      .selectFrom('evidence_chunks')
      .select(['seq', 'data'])
      .where('evidence_id', '=', evidenceId)
      .where('seq', '>=', from)
      .where('seq', '<', from + batch)
      .orderBy('seq')
      .execute();
    for (const r of rows) yield r;
  }
}
