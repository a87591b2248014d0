import { sql, type Insertable } from 'kysely';
import { assertTransaction, type Db } from '../db/index.js';
import type { CaseNotesTable, MessagesTable, NewReport, ReferralsTable, UsersTable } from '../db/schema.js';

/** The SQL of the demo and bench generator (seed.ts, seed-demo.ts): bulk inserts of fictional rows. */

/** Fresh planner statistics after a bulk insert, so the queue's indexes are used at once. */
export async function analyzeReports(db: Db): Promise<void> {
  await sql`analyze reports`.execute(db);
}

export async function activeCaseworkerIds(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('users')
    .select('id')
    .where(sql<boolean>`'caseworker' = any(roles)`)
    .where('status', '=', 'active')
    .orderBy('id')
    .execute();
  return rows.map((u) => u.id);
}

/** The label list's items with their English text. */
export function labelItemsByEnglish(db: Db) {
  return db
    .selectFrom('list_items')
    .select(['code', sql<string>`labels->>'en'`.as('en')])
    .where('list', '=', 'label')
    .execute();
}

export async function insertReportRows(db: Db, rows: NewReport[]): Promise<void> {
  if (rows.length) await db.insertInto('reports').values(rows).execute();
}

export async function insertUserRows(db: Db, rows: Insertable<UsersTable>[]): Promise<void> {
  if (rows.length) await db.insertInto('users').values(rows).execute();
}

/** Rows per INSERT for the story tables (at most 8 parameters a row). */
const ROWS = 4000;

/** A case's fictional thread, notes and referrals, in batches. */
export async function insertStoryRows(
  db: Db,
  rows: { messages: Insertable<MessagesTable>[]; notes: Insertable<CaseNotesTable>[]; referrals: Insertable<ReferralsTable>[] },
): Promise<void> {
  for (let i = 0; i < rows.messages.length; i += ROWS)
    await db
      .insertInto('messages')
      .values(rows.messages.slice(i, i + ROWS))
      .execute();
  for (let i = 0; i < rows.notes.length; i += ROWS)
    await db
      .insertInto('case_notes')
      .values(rows.notes.slice(i, i + ROWS))
      .execute();
  // Each referral also marks its report referred (the trigger of migration 2026_11_25_100000).
  for (let i = 0; i < rows.referrals.length; i += ROWS)
    await db
      .insertInto('referrals')
      .values(rows.referrals.slice(i, i + ROWS))
      .execute();
}

/** One demo seed at a time, across instances, for the caller's transaction. */
export async function lockSeed(trx: Db, lockId: number): Promise<void> {
  assertTransaction(trx);
  await sql`select pg_advisory_xact_lock(${lockId})`.execute(trx);
}

export async function countReports(db: Db): Promise<number> {
  const row = await db
    .selectFrom('reports')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function hasArchivedStatistics(db: Db): Promise<boolean> {
  return (await db.selectFrom('stats_archive').select('id').limit(1).executeTakeFirst()) !== undefined;
}
