import { sql, type SqlBool } from 'kysely';
import { assertTransaction, type Db } from '../db/index.js';
import { shortIdOf, shortIdRange } from '../ids.js';

/**
 * The SQL for one case and what hangs off it (notes, links, thread,
 * referrals, history). Ciphertexts come back as bytes; reading.ts decrypts.
 * Every query names the case id, so a row of another case is never reached
 * through this one (P11).
 */

/** A submitted case with its sealed data key; pending reports (evidence still arriving) do not exist for staff. */
export { getReport as getCase } from '../reporting/queries.js';

/** The workflow columns, locked for the rest of the caller's transaction (two caseworkers changing status at once). */
export function lockWorkflow(db: Db, id: string) {
  assertTransaction(db);
  return db
    .selectFrom('reports')
    .select(['status', 'urgent', 'assignee_id', 'labels', 'closing_outcome', 'triaged_at'])
    .where('id', '=', id)
    .where('state', '=', 'submitted')
    .forUpdate()
    .executeTakeFirst();
}

export type WorkflowPatch = Partial<{
  status: string;
  urgent: boolean;
  assignee_id: string | null;
  labels: string[];
  closing_outcome: string | null;
  closed_at: Date | null;
}> & { triaged?: 'keep' | 'set_if_null' };

export async function updateWorkflow(db: Db, id: string, patch: WorkflowPatch): Promise<void> {
  const { triaged, ...cols } = patch;
  await db
    .updateTable('reports')
    .set({
      ...cols,
      ...(triaged === 'set_if_null' ? { triaged_at: sql<Date>`coalesce(triaged_at, now())` } : {}),
    })
    .where('id', '=', id)
    .execute();
}

/** Clears "unread": a caseworker has looked at everything up to now. */
export async function markSeen(db: Db, id: string): Promise<void> {
  await db
    .updateTable('reports')
    .set({ staff_seen_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}

// ---------------------------------------------------------------- people

export function activeCaseworkers(db: Db) {
  return db
    .selectFrom('users')
    .select(['id', 'display_name'])
    .where('status', '=', 'active')
    .where(sql<SqlBool>`roles @> array['caseworker']::text[]`)
    .orderBy('display_name')
    .orderBy('id')
    .execute();
}

export function findUserName(db: Db, id: string) {
  return db.selectFrom('users').select(['id', 'display_name', 'status']).where('id', '=', id).executeTakeFirst();
}

// ---------------------------------------------------------------- notes

export function listNotes(db: Db, reportId: string) {
  return db
    .selectFrom('case_notes as n')
    .leftJoin('users as u', 'u.id', 'n.author_id')
    .select(['n.id', 'n.body', 'n.created_at', 'u.display_name as author_name'])
    .where('n.report_id', '=', reportId)
    .orderBy('n.created_at')
    .orderBy('n.id')
    .execute();
}

export async function insertNote(db: Db, row: { id: string; report_id: string; author_id: string; body: Uint8Array }): Promise<void> {
  await db.insertInto('case_notes').values(row).execute();
}

// ---------------------------------------------------------------- thread

export function listThread(db: Db, reportId: string) {
  return db
    .selectFrom('messages as m')
    .leftJoin('users as u', 'u.id', 'm.author_id')
    .select(['m.id', 'm.author', 'm.body', 'm.created_at', 'u.display_name as author_name'])
    .where('m.report_id', '=', reportId)
    .orderBy('m.created_at')
    .orderBy('m.id')
    .execute();
}

/** A staff reply, and the reply-time columns the queue's overdue rule reads. */
export async function insertStaffMessage(db: Db, row: { id: string; report_id: string; author_id: string; body: Uint8Array }): Promise<void> {
  await db
    .insertInto('messages')
    .values({ ...row, author: 'staff' })
    .execute();
  await db
    .updateTable('reports')
    .set({ first_response_at: sql<Date>`coalesce(first_response_at, now())`, last_staff_message_at: sql<Date>`now()` })
    .where('id', '=', row.report_id)
    .execute();
}

// ---------------------------------------------------------------- links

/**
 * One row per linked pair, stored in a canonical order (smaller id first),
 * so A→B and B→A are the same link and a case finds its links either way.
 */
const pair = (a: string, b: string) => (a < b ? { report_id: a, linked_id: b } : { report_id: b, linked_id: a });

export async function insertLink(db: Db, a: string, b: string, createdBy: string): Promise<boolean> {
  const res = await db
    .insertInto('case_links')
    .values({ ...pair(a, b), created_by: createdBy })
    .onConflict((oc) => oc.columns(['report_id', 'linked_id']).doNothing())
    .returning('report_id')
    .executeTakeFirst();
  return res !== undefined;
}

export async function deleteLink(db: Db, a: string, b: string): Promise<boolean> {
  const p = pair(a, b);
  const res = await db.deleteFrom('case_links').where('report_id', '=', p.report_id).where('linked_id', '=', p.linked_id).executeTakeFirst();
  return res.numDeletedRows === 1n;
}

/**
 * The submitted cases whose id starts with a short id (the first 8 hex
 * digits, shown everywhere): a range on the primary key, so the index finds
 * them whatever the number of cases. At most `limit` (two are already
 * ambiguous; a few more leave room for ones the caller cannot open).
 */
export async function caseIdsStartingWith(db: Db, shortId: string, limit = 8): Promise<string[]> {
  if (shortIdOf(shortId) !== shortId) return [];
  const { from, to } = shortIdRange(shortId);
  const rows = await db
    .selectFrom('reports')
    .select('id')
    .where('id', '>=', from)
    .where('id', '<=', to)
    .where('state', '=', 'submitted')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

/** The other case of each link, with the plaintext triage columns shown beside it. */
export function listLinks(db: Db, reportId: string) {
  return db
    .selectFrom('case_links as l')
    .innerJoin('reports as r', (j) => j.on(sql<SqlBool>`r.id = case when l.report_id = ${reportId}::uuid then l.linked_id else l.report_id end`))
    .select(['r.id', 'r.status', 'r.urgent', 'r.categories', 'r.created_at', 'l.created_at as linked_at'])
    .where((eb) => eb.or([eb('l.report_id', '=', reportId), eb('l.linked_id', '=', reportId)]))
    .where('r.state', '=', 'submitted')
    .orderBy('l.created_at')
    .orderBy('r.id')
    .execute();
}

// ---------------------------------------------------------------- referrals

export async function insertReferral(
  db: Db,
  row: {
    id: string;
    report_id: string;
    destination: string;
    referred_on: string;
    consent_override: boolean;
    details: Uint8Array;
    created_by: string;
  },
): Promise<void> {
  await db.insertInto('referrals').values(row).execute();
}

export function listReferrals(db: Db, reportId: string) {
  return db
    .selectFrom('referrals as f')
    .leftJoin('users as u', 'u.id', 'f.created_by')
    .select(['f.id', 'f.destination', 'f.referred_on', 'f.consent_override', 'f.details', 'f.created_at', 'u.display_name as created_by_name'])
    .where('f.report_id', '=', reportId)
    .orderBy('f.created_at')
    .orderBy('f.id')
    .execute();
}

export function getReferral(db: Db, reportId: string, referralId: string) {
  return db
    .selectFrom('referrals as f')
    .leftJoin('users as u', 'u.id', 'f.created_by')
    .select(['f.id', 'f.destination', 'f.referred_on', 'f.consent_override', 'f.details', 'f.created_at', 'u.display_name as created_by_name'])
    .where('f.report_id', '=', reportId)
    .where('f.id', '=', referralId)
    .executeTakeFirst();
}

// ---------------------------------------------------------------- history

export const HISTORY_LIMIT = 500;

/**
 * Reading entries: a page view, or an image shown inline on the page. They
 * stay in the audit log one by one; the case history folds them into one
 * line per person per day (listReadingDays), so what people did is not
 * buried under what they looked at.
 */
const IS_READING = sql<SqlBool>`(a.action = 'case.viewed' or (a.action = 'case.evidence_downloaded' and a.details->>'inline' = 'true'))`;

/** The day an entry was written, on the organisation's clock (UK), as YYYY-MM-DD. */
const UK_DAY = sql<string>`to_char(a.at at time zone 'Europe/London', 'YYYY-MM-DD')`;

/** Audit entries about this case but readings, newest first, with the actor's display name. */
export function listHistory(db: Db, caseId: string, limit = HISTORY_LIMIT) {
  return db
    .selectFrom('audit_log as a')
    .leftJoin('users as u', 'u.id', 'a.actor_id')
    .select(['a.seq', 'a.at', 'a.action', 'a.details', 'u.display_name as actor_name'])
    .where('a.case_id', '=', caseId)
    .where((eb) => eb.not(IS_READING))
    .orderBy('a.seq', 'desc')
    .limit(limit)
    .execute();
}

/**
 * This case's readings, counted per person per UK day, newest day first: at
 * most `limit` rows, however many entries there are (the database counts
 * them; the page never loads them).
 */
export async function listReadingDays(db: Db, caseId: string, limit = HISTORY_LIMIT) {
  const rows = await db
    .selectFrom('audit_log as a')
    .leftJoin('users as u', 'u.id', 'a.actor_id')
    .select([
      'a.actor_id',
      'u.display_name as actor_name',
      UK_DAY.as('day'),
      sql<number>`count(*) filter (where a.action = 'case.viewed')`.as('views'),
      sql<number>`count(*) filter (where a.action = 'case.evidence_downloaded')`.as('images'),
      sql<number>`max(a.seq)`.as('last_seq'),
      sql<Date>`max(a.at)`.as('last_at'),
    ])
    .where('a.case_id', '=', caseId)
    .where(IS_READING)
    .groupBy(['a.actor_id', 'u.display_name', UK_DAY])
    .orderBy(sql`max(a.seq)`, 'desc')
    .limit(limit)
    .execute();
  // Counts and seq are bigint: numbers here (they fit), whichever driver returned them.
  return rows.map((r) => ({ ...r, views: Number(r.views), images: Number(r.images), last_seq: Number(r.last_seq), last_at: new Date(r.last_at) }));
}

// ---------------------------------------------------------------- evidence

/** Complete files of the case, oldest first, with what decryptEvidence needs: the reporter side's query. */
export { listEvidence } from '../reporting/queries.js';

// One evidence row, checked against its report: the same query the reporter side uses.
export { getEvidence } from '../reporting/queries.js';
