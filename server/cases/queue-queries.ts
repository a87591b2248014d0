import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import { RETENTION_NOTICE_DAYS } from '../retention/purge.js';
import { deletionDateExpr } from '../retention/queries.js';
import { CLOSED_TIER, encodeCursor, type PlainCursor, type QueueCursor, type QueueSort, type TriageCursor, type TriageTier } from './queue-cursor.js';
import { STATUSES } from './vocabulary.js';

/**
 * The caseworker queue: the only SQL for it. It reads plaintext triage and
 * workflow columns only (P1); nothing here selects or decrypts a ciphertext.
 *
 * Paging is keyset (no OFFSET): each page starts strictly after the previous
 * page's last row in the sort order, so page 500 costs what page 1 costs.
 * Every sort ends with the id, which makes the order total and the cursor
 * (queue-cursor.ts) unambiguous when created_at values tie.
 *
 * The default order, 'triage', is for deciding what to do next: urgent
 * cases first, then overdue ones, then the other open cases, each by how
 * long the reporter has been waiting (oldest first), and closed cases last
 * (newest first). See triagePage below and migration 2026_12_01_210000.
 */

export { decodeCursor } from './queue-cursor.js';

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
  /** Finding a case by id: ids between these two (one full id, or every id starting with a short id's 8 characters). */
  ids: IdRange | null;
  /** Only cases sealed to these team keys (the ones the caseworker holds); null for no such limit. */
  teamKeyIds: readonly number[] | null;
};

/** Inclusive bounds on the uuid: the primary key's own order, so the lookup is an index range. */
export type IdRange = { from: string; to: string };

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
  sort: 'triage',
  cursor: null,
  ids: null,
  teamKeyIds: null,
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

/** A timestamp as exact UTC text with microseconds: a JS Date keeps only milliseconds, which would skip rows. */
const micro = (t: RawBuilder<unknown>) => sql<string>`to_char(${t} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const CREATED_KEY = micro(sql`r.created_at`);

/**
 * Waiting, as the triage order reads it (the same expressions as the
 * indexes reports_triage_open, reports_triage_urgent and reports_triage_new,
 * migration 2026_12_01_210000, so the planner matches them):
 * - IDLE: staff wrote last, the reporter has not written since; a case no
 *   staff member ever wrote to is never idle.
 * - WAIT: since when the reporter has been waiting: since submission (or
 *   their first word, if earlier) when staff never wrote; since their last
 *   update when it came after the last staff message. For an idle case, the
 *   last staff message: it has been quiet since.
 * For a waiting case, "overdue for a reply" (overdueExpr) is exactly WAIT
 * older than the reply target: the overdue cases are the head of the index.
 */
const IDLE = sql<boolean>`(coalesce(r.reporter_updated_at <= r.last_staff_message_at, r.last_staff_message_at is not null))`;
const WAIT = sql<Date>`(case when r.last_staff_message_at is null then least(r.created_at, r.reporter_updated_at)
  when r.reporter_updated_at > r.last_staff_message_at then r.reporter_updated_at
  else r.last_staff_message_at end)`;

/** A triage page link older than this starts again from the first page: its order and flags would be stale. */
export const TRIAGE_CURSOR_HOURS = 12;

// ---------------------------------------------------------------- queue

const base = (db: Db) => db.selectFrom('reports as r');
type Base = ReturnType<typeof base>;

/** Every filter of the query (not the sort or the cursor): the page and its count read the same rows. */
function filtered(db: Db, q: QueueQuery, policy: QueuePolicy, now: Date): Base {
  const { targets } = policy;
  const deletesAt = deletionDateExpr(policy.closedRetentionDays);
  // Pending reports (evidence still streaming in) are never shown to staff.
  // Literals, not parameters, so the planner can match partial indexes.
  let query = base(db).where(sql<SqlBool>`r.state = 'submitted'`);

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
  // A range on the primary key: ids starting 785b6810 lie between 785b6810-0000-… and 785b6810-ffff-….
  if (q.ids) query = query.where(sql<SqlBool>`r.id between ${q.ids.from}::uuid and ${q.ids.to}::uuid`);
  if (q.teamKeyIds) query = q.teamKeyIds.length ? query.where('r.team_key_id', 'in', [...q.teamKeyIds]) : query.where(sql<SqlBool>`false`);
  return query;
}

/** The columns a queue row shows, and every sort key. */
function withColumns(query: Base, policy: QueuePolicy, now: Date) {
  return query
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
      IDLE.as('wait_idle'),
      WAIT.as('wait_at'),
      micro(WAIT).as('wait_key'),
      overdueExpr(policy.targets, now).as('overdue'),
      deletionDateExpr(policy.closedRetentionDays).as('deletes_at'),
      sql<boolean>`coalesce(${UNREAD}, false)`.as('unread'),
    ]);
}

type Found = Awaited<ReturnType<ReturnType<typeof withColumns>['execute']>>[number];

function toRow(r: Found): QueueRow {
  return {
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
  };
}

/**
 * One page of the queue (at most `limit` rows) and the cursor of the next
 * page, null on the last page. `now` is a parameter so overdue is testable.
 */
export async function listQueue(db: Db, q: QueueQuery, policy: QueuePolicy, limit = 50, now = new Date()): Promise<QueuePage> {
  if (q.sort === 'triage') return triagePage(db, q, policy, limit, now);
  const query = withColumns(filtered(db, q, policy, now), policy, now);
  // A cursor from another sort order means nothing here: start again.
  const c = q.cursor && q.cursor.sort === q.sort ? (q.cursor as PlainCursor) : null;
  const found = await plainOrder(query, q.sort, c)
    .limit(limit + 1)
    .execute();
  const more = found.length > limit;
  const page = more ? found.slice(0, limit) : found;
  const last = page[page.length - 1];
  return {
    rows: page.map(toRow),
    nextCursor:
      more && last ? encodeCursor({ sort: q.sort as PlainCursor['sort'], createdAt: last.created_key, id: last.id, urgent: last.urgent }) : null,
  };
}

function plainOrder(query: ReturnType<typeof withColumns>, sort: QueueSort, c: PlainCursor | null) {
  const t = c ? sql`${c.createdAt}::timestamptz` : null;
  const id = c ? sql`${c.id}::uuid` : null;
  switch (sort) {
    case 'oldest':
      if (c) query = query.where(sql<SqlBool>`(r.created_at, r.id) > (${t}, ${id})`);
      return query.orderBy('r.created_at', 'asc').orderBy('r.id', 'asc');
    case 'urgent':
      // Row comparison over (urgent, created_at, id), all descending: false < true.
      if (c) query = query.where(sql<SqlBool>`(r.urgent, r.created_at, r.id) < (${c.urgent}, ${t}, ${id})`);
      return query.orderBy('r.urgent', 'desc').orderBy('r.created_at', 'desc').orderBy('r.id', 'desc');
    default:
      if (c) query = query.where(sql<SqlBool>`(r.created_at, r.id) < (${t}, ${id})`);
      return query.orderBy('r.created_at', 'desc').orderBy('r.id', 'desc');
  }
}

/** The triage tiers a status filter can hold. */
function tiersFor(status: StatusFilter): TriageTier[] {
  if (status === 'closed') return [CLOSED_TIER];
  if (status === 'all') return [0, 1, 2, CLOSED_TIER];
  return [0, 1, 2];
}

/** A Date as the cursor's microsecond text (lexically ordered like the instants). */
const microText = (d: Date) => `${d.toISOString().slice(0, 23)}000Z`;

/**
 * The triage order, as keyset pages over four tiers, each read through an
 * index in its own order (a page takes the rest of one tier, then the next):
 *
 * 0. Urgent open cases, by (IDLE, WAIT, id): reports_triage_urgent.
 * 1. Overdue open cases that are not urgent, same order, from two indexes
 *    merged by UNION (each branch limited first): the cases overdue for a
 *    reply are the range "not idle, WAIT older than the reply target" of
 *    reports_triage_open; new cases past the triage target come from
 *    reports_triage_new.
 * 2. The other open cases, same order: reports_triage_open from the reply
 *    target on, less the urgent and the new-and-late ones it meets.
 * 3. Closed cases, newest first: reports_status_queue.
 *
 * Overdue depends on the clock: the first page's instant goes into the
 * cursor and orders (and flags) every later page, so paging neither skips
 * nor repeats a case that falls overdue meanwhile.
 */
async function triagePage(db: Db, q: QueueQuery, policy: QueuePolicy, limit: number, now: Date): Promise<QueuePage> {
  let c: TriageCursor | null = q.cursor && q.cursor.sort === 'triage' ? q.cursor : null;
  const cursorAt = c ? Date.parse(c.at) : NaN;
  if (c && !(cursorAt <= now.getTime() + 60_000 && cursorAt >= now.getTime() - TRIAGE_CURSOR_HOURS * 3_600_000)) c = null;
  const at = c ? new Date(cursorAt) : now;
  const { targets } = policy;
  const replyCutoff = new Date(at.getTime() - targets.replyDays * 86_400_000);
  const triageCutoff = new Date(at.getTime() - targets.triageHours * 3_600_000);
  const reply = sql`${iso(replyCutoff)}::timestamptz`;
  const lateNew = sql<SqlBool>`(r.status = 'new' and r.created_at < ${iso(triageCutoff)}::timestamptz)`;
  const rows = () => withColumns(filtered(db, q, policy, at), policy, at);
  const after = (cur: TriageCursor) => sql<SqlBool>`(${IDLE}, ${WAIT}, r.id) > (${cur.idle}, ${cur.key}::timestamptz, ${cur.id}::uuid)`;
  const ordered = (query: ReturnType<typeof rows>, cur: TriageCursor | null, want: number) =>
    (cur ? query.where(after(cur)) : query).orderBy(IDLE).orderBy(WAIT).orderBy('r.id').limit(want);

  async function tier(n: TriageTier, want: number, cur: TriageCursor | null): Promise<Found[]> {
    switch (n) {
      case 0:
        return ordered(rows().where(sql<SqlBool>`r.status <> 'closed' and r.urgent`), cur, want).execute();
      case 1: {
        const forReply = rows()
          .where(sql<SqlBool>`r.status <> 'closed'`)
          .where(sql<SqlBool>`not ${IDLE}`)
          .where(sql<SqlBool>`${WAIT} < ${reply}`)
          .where(sql<SqlBool>`not r.urgent`);
        const untriaged = rows()
          .where(sql<SqlBool>`r.status = 'new' and not r.urgent`)
          .where(lateNew);
        // UNION drops a case both branches found (new and overdue both ways); its rows are equal column for column.
        const { rows: found } = await sql<Found>`select * from ${ordered(forReply, cur, want)} as a
          union select * from ${ordered(untriaged, cur, want)} as b
          order by wait_idle, wait_at, id limit ${want}`.execute(db);
        return found;
      }
      case 2: {
        // Everything from (not idle, the reply target) on is open and not overdue for a reply.
        const fromKey = microText(replyCutoff);
        const start = cur && (cur.idle || cur.key >= fromKey) ? cur : null;
        let rest = rows()
          .where(sql<SqlBool>`r.status <> 'closed'`)
          .where(sql<SqlBool>`not r.urgent and not ${lateNew}`);
        if (!start) rest = rest.where(sql<SqlBool>`(${IDLE}, ${WAIT}) >= (false, ${reply})`);
        return ordered(rest, start, want).execute();
      }
      default: {
        let closed = rows().where(sql<SqlBool>`r.status = 'closed'`);
        if (cur) closed = closed.where(sql<SqlBool>`(r.created_at, r.id) < (${cur.key}::timestamptz, ${cur.id}::uuid)`);
        return closed.orderBy('r.created_at', 'desc').orderBy('r.id', 'desc').limit(want).execute();
      }
    }
  }

  const want = limit + 1;
  const found: { row: Found; tier: TriageTier }[] = [];
  for (const n of tiersFor(q.status)) {
    if (c && n < c.tier) continue;
    const more = await tier(n, want - found.length, c && n === c.tier ? c : null);
    found.push(...more.map((row) => ({ row, tier: n })));
    if (found.length >= want) break;
  }
  const more = found.length > limit;
  const page = more ? found.slice(0, limit) : found;
  const last = page[page.length - 1];
  const closed = last?.tier === CLOSED_TIER;
  return {
    rows: page.map((f) => toRow(f.row)),
    nextCursor:
      more && last
        ? encodeCursor({
            sort: 'triage',
            at: at.toISOString(),
            tier: last.tier,
            idle: closed ? false : last.row.wait_idle,
            key: closed ? last.row.created_key : last.row.wait_key,
            id: last.row.id,
          })
        : null,
  };
}

/**
 * The cases an id search finds (q.ids, within q.teamKeyIds), in id order:
 * the range is read from the primary key, which is also the order, so the
 * lookup costs a few index entries however large the queue. An 8-character
 * short id is shared by one case in four billion: no paging.
 */
export async function findCases(db: Db, q: QueueQuery, policy: QueuePolicy, limit = 50, now = new Date()): Promise<QueuePage> {
  if (!q.ids) return { rows: [], nextCursor: null };
  const found = await withColumns(filtered(db, q, policy, now), policy, now)
    .orderBy('r.id')
    .limit(limit)
    .execute();
  return { rows: found.map(toRow), nextCursor: null };
}

/**
 * How many cases the filters match, counted up to `cap` + 1 (a count that
 * stops early costs at most cap + 1 index entries, however large the queue).
 */
export async function countQueue(db: Db, q: QueueQuery, policy: QueuePolicy, cap = 1000, now = new Date()): Promise<number> {
  const matching = filtered(db, q, policy, now)
    .select(sql<number>`1`.as('one'))
    .limit(cap + 1);
  const row = await db
    .selectFrom(matching.as('m'))
    .select(sql<number>`count(*)::int`.as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
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
