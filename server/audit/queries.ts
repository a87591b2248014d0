import { sql, type Insertable } from 'kysely';
import { assertTransaction, type Db } from '../db/index.js';
import type { AuditLogTable } from '../db/schema.js';

// ---------------------------------------------------------------- appending (log.ts)

/** Serialises appends from every instance, for the rest of the caller's transaction: the chain never forks. */
export async function lockChain(trx: Db, lockId: number): Promise<void> {
  assertTransaction(trx);
  await sql`select pg_advisory_xact_lock(${lockId})`.execute(trx);
}

/** The newest entry's seq and hash, which the next entry chains to. */
export function lastEntry(trx: Db) {
  return trx.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
}

export async function insertEntries(trx: Db, rows: Insertable<AuditLogTable>[]): Promise<void> {
  assertTransaction(trx);
  await trx.insertInto('audit_log').values(rows).execute();
}

// ---------------------------------------------------------------- reading

/** One stored audit entry as the verifier reads it. */
export type ChainRow = {
  seq: number;
  /** `at` in UTC with microseconds and era, e.g. '2026-11-24T09:00:00.123000 AD' (see canonicalAt). */
  at_text: string | null;
  actor_id: string | null;
  action: string;
  case_id: string | null;
  subject_user_id: string | null;
  details: unknown;
  prev_hash: Uint8Array;
  hash: Uint8Array;
};

/** Up to `limit` entries after seq `after` (from the very first when null), in seq order. */
export function readChainBatch(db: Db, after: number | null, limit: number): Promise<ChainRow[]> {
  let q = db
    .selectFrom('audit_log')
    .select([
      'seq',
      sql<string | null>`to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US BC')`.as('at_text'),
      'actor_id',
      'action',
      'case_id',
      'subject_user_id',
      'details',
      'prev_hash',
      'hash',
    ])
    .orderBy('seq', 'asc')
    .limit(limit);
  if (after !== null) q = q.where('seq', '>', after);
  return q.execute();
}

export type AuditFilter = { actorId: string | null; caseId: string | null; action: string | null; before: number | null };

export type AuditListRow = {
  seq: number;
  at: Date;
  action: string;
  actor_id: string | null;
  actor_email: string | null;
  actor_name: string | null;
  case_id: string | null;
  subject_user_id: string | null;
  subject_email: string | null;
  subject_name: string | null;
  details: unknown;
};

/**
 * Newest first, keyset-paged on seq (`before`): each filter has an index on
 * (column, seq), so a page costs the same at any depth. Fetches one row more
 * than the page to tell whether an older page exists.
 */
export function listAuditEntries(db: Db, filter: AuditFilter, pageSize: number): Promise<AuditListRow[]> {
  let q = db
    .selectFrom('audit_log as a')
    .leftJoin('users as actor', 'actor.id', 'a.actor_id')
    .leftJoin('users as subject', 'subject.id', 'a.subject_user_id')
    .select([
      'a.seq',
      'a.at',
      'a.action',
      'a.actor_id',
      'actor.email as actor_email',
      'actor.display_name as actor_name',
      'a.case_id',
      'a.subject_user_id',
      'subject.email as subject_email',
      'subject.display_name as subject_name',
      'a.details',
    ])
    .orderBy('a.seq', 'desc')
    .limit(pageSize + 1);
  if (filter.actorId) q = q.where('a.actor_id', '=', filter.actorId);
  if (filter.caseId) q = q.where('a.case_id', '=', filter.caseId);
  if (filter.action) q = q.where('a.action', '=', filter.action);
  if (filter.before !== null) q = q.where('a.seq', '<', filter.before);
  return q.execute();
}

export type AuditActorRow = { id: string; email: string; display_name: string; status: 'active' | 'deactivated' };

/** Every staff account, for the actor filter (staff lists are small). */
export function listAuditActors(db: Db): Promise<AuditActorRow[]> {
  return db.selectFrom('users').select(['id', 'email', 'display_name', 'status']).orderBy('display_name').orderBy('email').execute();
}
