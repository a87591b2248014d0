import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import { RETENTION_NOTICE_DAYS } from '../retention/purge.js';
import { deletionDateExpr } from '../retention/queries.js';
import { encodeCursor, type QueueCursor, type QueueSort } from './queue-cursor.js';
import { STATUSES } from './vocabulary.js';

/**
 * The caseworker queue: the only SQL for it. It reads plaintext triage and
 * workflow columns only (P1); nothing here selects or decrypts a ciphertext.
 *
 * Paging is keyset (no OFFSET): each page starts strictly after the previous
 * page's last row in the sort order, so page 500 costs what page 1 costs.
 * Every sort ends with the id, which makes the order total and the cursor
 * (queue-cursor.ts) unambiguous when created_at values tie.
 */

/** The workflow's statuses (vocabulary.ts), as the queue's tabs count them. */
export const CASE_STATUSES = STATUSES;
export type CaseStatus = (typeof CASE_STATUSES)[number];
/** 'open' is every status but closed (the default tab); 'all' includes closed. */
export const STATUS_FILTERS = ['open', ...CASE_STATUSES, 'all'] as const;
export type StatusFilter = (typeof STATUS_FILTERS)[number];

export type Targets = Config['targets'];
/** What the queue needs from the settings: the overdue targets and the retention period (for the deletion flag). */
export type QueuePolicy = { targets: Targets; closedRetentionDays: number };

export type QueueQuery = {
  status: StatusFilter;
  category: string | null;
  urgent: boolean | null;
  community: string | null;
  region: string | null;
  /** A user id, 'none' for unassigned, or null for anyone ('me' is resolved by the caller). */
  assignee: string | null;
  label: string | null;
  unread: boolean | null;
  overdue: boolean | null;
  /** Closed cases that retention deletes within RETENTION_NOTICE_DAYS. */
  deleting: boolean | null;
  sort: QueueSort;
  cursor: QueueCursor | null;
};

export const DEFAULT_QUEUE_QUERY: Readonly<QueueQuery> = Object.freeze({
  status: 'open',
  category: null,
  urgent: null,
  community: null,
  region: null,
  assignee: null,
  label: null,
  unread: null,
  overdue: null,
  deleting: null,
  sort: 'newest',
  cursor: null,
});

export type QueueRow = {
  id: string;
  createdAt: Date;
  submittedAt: Date | null;
  status: string;
  urgent: boolean;
  categories: string[];
  community: string;
  region: string;
  assigneeId: string | null;
  assigneeName: string | null;
  labels: string[];
  overdue: boolean;
  unread: boolean;
  /** When retention will delete the case (closed cases only), or null. */
  deletesAt: Date | null;
};

export type QueuePage = { rows: QueueRow[]; nextCursor: string | null };

// ---------------------------------------------------------------- expressions

const iso = (d: Date) => d.toISOString();

/**
 * Overdue, from the configured targets, at `now`. A closed case is never
 * overdue (it has no targets left); otherwise it is overdue when
 *  - it is still new past the triage target (the urgent target for urgent cases), or
 *  - the reporter wrote after the last staff message and has waited past the reply target, or
 *  - no staff message was ever sent and the case is older than the reply target.
 * Wrapped in coalesce so it is true or false, never null (null would drop rows from "not overdue").
 */
export function overdueExpr(targets: Targets, now: Date): RawBuilder<boolean> {
  const triageCutoff = iso(new Date(now.getTime() - targets.triageHours * 3_600_000));
  const urgentCutoff = iso(new Date(now.getTime() - targets.urgentTriageHours * 3_600_000));
  const replyCutoff = iso(new Date(now.getTime() - targets.replyDays * 86_400_000));
  return sql<boolean>`coalesce(r.status <> 'closed' and (
    (r.status = 'new' and (r.created_at < ${triageCutoff}::timestamptz or (r.urgent and r.created_at < ${urgentCutoff}::timestamptz)))
    or (r.reporter_updated_at > coalesce(r.last_staff_message_at, '-infinity'::timestamptz) and r.reporter_updated_at < ${replyCutoff}::timestamptz)
    or (r.last_staff_message_at is null and r.created_at < ${replyCutoff}::timestamptz)
  ), false)`;
}

/**
 * Unread: the reporter did something (message, evidence) after a caseworker
 * last looked. Kept textually identical to the partial index predicate
 * reports_unread_queue so the planner can use that index.
 */
const UNREAD = sql<SqlBool>`r.reporter_updated_at > coalesce(r.staff_seen_at, '-infinity'::timestamptz)`;

/** created_at as exact UTC text with microseconds: a JS Date keeps only milliseconds, which would skip rows. */
const CREATED_KEY = sql<string>`to_char(r.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

// ---------------------------------------------------------------- queue

/**
 * One page of the queue (at most `limit` rows) and the cursor of the next
 * page, null on the last page. `now` is a parameter so overdue is testable.
 */
export async function listQueue(db: Db, q: QueueQuery, policy: QueuePolicy, limit = 50, now = new Date()): Promise<QueuePage> {
  const { targets } = policy;
  const deletesAt = deletionDateExpr(policy.closedRetentionDays);
  let query = db
    .selectFrom('reports as r')
    .leftJoin('users as u', 'u.id', 'r.assignee_id')
    .select([
      'r.id',
      'r.created_at',
      'r.submitted_at',
      'r.status',
      'r.urgent',
      'r.categories',
      'r.community',
      'r.region',
      'r.assignee_id',
      'u.display_name as assignee_name',
      'r.labels',
      CREATED_KEY.as('created_key'),
      overdueExpr(targets, now).as('overdue'),
      deletesAt.as('deletes_at'),
      sql<boolean>`coalesce(${UNREAD}, false)`.as('unread'),
    ])
    // Pending reports (evidence still streaming in) are never shown to staff.
    // Literals, not parameters, so the planner can match partial indexes.
    .where(sql<SqlBool>`r.state = 'submitted'`);

  if (q.status === 'open') query = query.where(sql<SqlBool>`r.status <> 'closed'`);
  else if (q.status !== 'all') query = query.where('r.status', '=', q.status);
  // Containment (@>) rather than = any(): the form the GIN indexes answer.
  if (q.category) query = query.where(sql<SqlBool>`r.categories @> array[${q.category}]::text[]`);
  if (q.label) query = query.where(sql<SqlBool>`r.labels @> array[${q.label}]::text[]`);
  if (q.urgent !== null) query = query.where('r.urgent', '=', q.urgent);
  if (q.community) query = query.where('r.community', '=', q.community);
  if (q.region) query = query.where('r.region', '=', q.region);
  if (q.assignee === 'none') query = query.where('r.assignee_id', 'is', null);
  else if (q.assignee) query = query.where('r.assignee_id', '=', q.assignee);
  if (q.unread === true) query = query.where(UNREAD);
  else if (q.unread === false) query = query.where(sql<SqlBool>`not coalesce(${UNREAD}, false)`);
  if (q.overdue !== null) query = query.where(q.overdue ? overdueExpr(targets, now) : sql<SqlBool>`not ${overdueExpr(targets, now)}`);
  if (q.deleting !== null) {
    const due = sql<SqlBool>`coalesce(${deletesAt} <= ${iso(new Date(now.getTime() + RETENTION_NOTICE_DAYS * 86_400_000))}::timestamptz, false)`;
    query = query.where(q.deleting ? due : sql<SqlBool>`not ${due}`);
  }

  // A cursor from another sort order means nothing here: start again.
  const c = q.cursor && q.cursor.sort === q.sort ? q.cursor : null;
  const t = c ? sql`${c.createdAt}::timestamptz` : null;
  const id = c ? sql`${c.id}::uuid` : null;
  switch (q.sort) {
    case 'oldest':
      if (c) query = query.where(sql<SqlBool>`(r.created_at, r.id) > (${t}, ${id})`);
      query = query.orderBy('r.created_at', 'asc').orderBy('r.id', 'asc');
      break;
    case 'urgent':
      // Row comparison over (urgent, created_at, id), all descending: false < true.
      if (c) query = query.where(sql<SqlBool>`(r.urgent, r.created_at, r.id) < (${c.urgent}, ${t}, ${id})`);
      query = query.orderBy('r.urgent', 'desc').orderBy('r.created_at', 'desc').orderBy('r.id', 'desc');
      break;
    default:
      if (c) query = query.where(sql<SqlBool>`(r.created_at, r.id) < (${t}, ${id})`);
      query = query.orderBy('r.created_at', 'desc').orderBy('r.id', 'desc');
  }

  const found = await query.limit(limit + 1).execute();
  const more = found.length > limit;
  const page = more ? found.slice(0, limit) : found;
  const last = page[page.length - 1];
  return {
    rows: page.map((r) => ({
      id: r.id,
      createdAt: r.created_at,
      submittedAt: r.submitted_at,
      status: r.status,
      urgent: r.urgent,
      categories: r.categories,
      community: r.community,
      region: r.region,
      assigneeId: r.assignee_id,
      assigneeName: r.assignee_name,
      labels: r.labels,
      overdue: r.overdue,
      unread: r.unread,
      deletesAt: r.deletes_at,
    })),
    nextCursor: more && last ? encodeCursor({ sort: q.sort, createdAt: last.created_key, id: last.id, urgent: last.urgent }) : null,
  };
}

/** Closed cases that retention deletes within the notice period (for the queue's banner). */
export async function countDueForDeletion(db: Db, closedRetentionDays: number, now = new Date()): Promise<number> {
  const row = await db
    .selectFrom('reports as r')
    .select(sql<number>`count(*)::int`.as('n'))
    .where(sql<SqlBool>`r.status = 'closed'`)
    .where(
      sql<SqlBool>`${deletionDateExpr(closedRetentionDays)} <= ${iso(new Date(now.getTime() + RETENTION_NOTICE_DAYS * 86_400_000))}::timestamptz`,
    )
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export type StatusCounts = Record<CaseStatus, number> & { open: number; all: number };

/** Submitted cases per status for the tabs (statuses outside the workflow count towards open and all only). */
export async function countsByStatus(db: Db): Promise<StatusCounts> {
  const rows = await db
    .selectFrom('reports')
    .select(['status', sql<number>`count(*)::int`.as('n')])
    .where('state', '=', 'submitted')
    .groupBy('status')
    .execute();
  const counts: StatusCounts = { open: 0, all: 0, new: 0, triaged: 0, in_progress: 0, referred: 0, closed: 0 };
  for (const r of rows) {
    const n = Number(r.n);
    if ((CASE_STATUSES as readonly string[]).includes(r.status)) counts[r.status as CaseStatus] += n;
    if (r.status !== 'closed') counts.open += n;
    counts.all += n;
  }
  return counts;
}

/** Everyone who can hold cases (deactivated people too: their old cases stay assigned). */
export async function listAssignees(db: Db): Promise<{ id: string; name: string; active: boolean }[]> {
  const rows = await db
    .selectFrom('users')
    .select(['id', 'display_name', 'status'])
    .where(sql<SqlBool>`'caseworker' = any(roles)`)
    .orderBy('display_name')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ id: r.id, name: r.display_name, active: r.status === 'active' }));
}
