import express from 'express';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queuePage } from '../../server/cases/queue-page.js';
import { SORTS, decodeCursor, encodeCursor, type QueueSort } from '../../server/cases/queue-cursor.js';
import {
  CASE_STATUSES,
  DEFAULT_QUEUE_QUERY,
  STATUS_FILTERS,
  countsByStatus,
  listAssignees,
  listQueue,
  type QueueQuery,
  type Targets,
} from '../../server/cases/queue-queries.js';
import { mulberry32, seedCases, seedCaseworkers } from '../../server/demo/seed.js';
import { OUTCOMES } from '../../server/cases/vocabulary.js';
import { DecryptionError, decryptText, readySodium } from '../../server/crypto/index.js';
import { viewsDir } from '../../server/paths.js';
import { DEFAULT_LISTS } from '../../server/settings/lists.js';
import { CATEGORIES } from '../../server/reporting/taxonomy.js';
import { currentTeamKey, setupOrganisation } from '../../server/setup/service.js';
import { loadSettings } from '../../server/settings/settings.js';
import type { AppContext } from '../../server/web/context.js';
import { initI18n, translator } from '../../server/i18n/index.js';
import { testConfig } from '../helpers/app.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { readAsTeam, teamKey } from '../helpers/staff.js';

/** The queue's "present": seeded dates and overdue thresholds are relative to it. */
const NOW = new Date('2026-06-01T12:00:00Z');
const TARGETS: Targets = { triageHours: 48, urgentTriageHours: 12, replyDays: 7 };
const policy = (targets: Targets = TARGETS) => ({ targets, closedRetentionDays: 365 });
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(NOW.getTime() - ms);

let t: TestDb;
let recoveryKey: string;
let caseworkers: string[];
const pendingIds: string[] = [];
const tiedIds: string[] = [];

/**
 * Hand-made rows for the overdue and unread rules, each found again by its
 * own label. `status` defaults to triaged, `created` to 30 days ago.
 */
const CRAFTED: Record<
  string,
  {
    status?: string;
    urgent?: boolean;
    created?: number;
    reporter?: number | null;
    lastStaff?: number | null;
    seen?: number | null;
    overdue: boolean;
    unread: boolean;
  }
> = {
  'new-47h': { status: 'new', created: 47 * HOUR, lastStaff: null, seen: null, overdue: false, unread: false },
  'new-49h': { status: 'new', created: 49 * HOUR, lastStaff: null, seen: null, overdue: true, unread: false },
  'urgent-new-11h': { status: 'new', urgent: true, created: 11 * HOUR, lastStaff: null, seen: null, overdue: false, unread: false },
  'urgent-new-13h': { status: 'new', urgent: true, created: 13 * HOUR, lastStaff: null, seen: null, overdue: true, unread: false },
  'urgent-triaged-13h': { status: 'triaged', urgent: true, created: 13 * HOUR, lastStaff: 12 * HOUR, seen: 12 * HOUR, overdue: false, unread: false },
  'reporter-waiting-8d': { reporter: 8 * DAY, lastStaff: 20 * DAY, seen: 7 * DAY, overdue: true, unread: false },
  'reporter-waiting-6d': { reporter: 6 * DAY, lastStaff: 20 * DAY, seen: 5 * DAY, overdue: false, unread: false },
  'reporter-answered': { reporter: 8 * DAY, lastStaff: 5 * DAY, seen: 5 * DAY, overdue: false, unread: false },
  'reporter-first-word-8d': { reporter: 8 * DAY, lastStaff: null, seen: 8 * DAY + HOUR, created: 9 * DAY, overdue: true, unread: true },
  'no-staff-message-8d': { status: 'in_progress', created: 8 * DAY, lastStaff: null, seen: 7 * DAY, overdue: true, unread: false },
  'no-staff-message-6d': { status: 'in_progress', created: 6 * DAY, lastStaff: null, seen: 5 * DAY, overdue: false, unread: false },
  'closed-unanswered': { status: 'closed', reporter: 10 * DAY, lastStaff: null, seen: 20 * DAY, overdue: false, unread: true },
  'unread-never-seen': { status: 'new', created: 2 * HOUR, reporter: HOUR, lastStaff: null, seen: null, overdue: false, unread: true },
  'seen-after-update': { reporter: 2 * DAY, lastStaff: DAY, seen: HOUR, overdue: false, unread: false },
  'update-after-seen': { reporter: HOUR, lastStaff: DAY, seen: 2 * DAY, overdue: false, unread: true },
};

beforeAll(async () => {
  await readySodium();
  t = await createTestDb();
  const db = t.db;
  ({ recoveryKey } = await setupOrganisation(db, { orgName: 'Queue test' }));
  const teamKey = await currentTeamKey(db);
  caseworkers = await seedCaseworkers(db, 3, mulberry32(7));
  // Two years of history, and a busy last three weeks with many new cases.
  await seedCases(db, { count: 200, teamKey, now: NOW, random: mulberry32(42), assigneeIds: caseworkers });
  await seedCases(db, { count: 100, teamKey, now: NOW, startDate: ago(21 * DAY), random: mulberry32(43), assigneeIds: caseworkers });

  // Microsecond timestamps, as now() writes them: a millisecond cursor would skip rows.
  await sql`update reports set created_at = created_at + (floor(random() * 999) + 1) * interval '1 microsecond'`.execute(db);
  // A dozen rows with exactly the same created_at, urgency mixed, straddling page boundaries.
  const ids = (await db.selectFrom('reports').select('id').orderBy('id').execute()).map((r) => r.id);
  tiedIds.push(...ids.slice(0, 12));
  await sql`update reports set created_at = '2026-05-20T08:00:00.123456Z', urgent = (id::text < ${tiedIds[6]!})
            where id in (${sql.join(tiedIds)})`.execute(db);
  // Reports still uploading are never shown.
  pendingIds.push(...ids.slice(-4));
  await db.updateTable('reports').set({ state: 'pending' }).where('id', 'in', pendingIds).execute();

  const crafted = (
    await db.selectFrom('reports').select('id').where('state', '=', 'submitted').orderBy('id', 'desc').limit(Object.keys(CRAFTED).length).execute()
  ).map((r) => r.id);
  for (const [i, [name, c]] of Object.entries(CRAFTED).entries()) {
    const at = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : ago(ms));
    await db
      .updateTable('reports')
      .set({
        labels: [`flag-${name}`],
        status: c.status ?? 'triaged',
        urgent: c.urgent ?? false,
        created_at: ago(c.created ?? 30 * DAY),
        reporter_updated_at: at(c.reporter),
        last_staff_message_at: at(c.lastStaff === undefined ? 25 * DAY : c.lastStaff),
        staff_seen_at: at(c.seen === undefined ? 25 * DAY : c.seen),
      })
      .where('id', '=', crafted[i]!)
      .execute();
  }
});

afterAll(async () => {
  await t?.close();
});

// ---------------------------------------------------------------- the reference, in plain JS

type Ref = {
  id: string;
  state: string;
  status: string;
  categories: string[];
  urgent: boolean;
  community: string;
  region: string;
  assigneeId: string | null;
  labels: string[];
  created: bigint;
  reporterUpdated: bigint | null;
  staffSeen: bigint | null;
  lastStaff: bigint | null;
};

/** Every report, timestamps as exact microseconds since the epoch. */
async function reference(): Promise<Ref[]> {
  const us = (col: string) => sql.raw(`(extract(epoch from ${col}) * 1000000)::bigint::text`);
  const { rows } = await sql<{
    id: string;
    state: string;
    status: string;
    categories: string[];
    urgent: boolean;
    community: string;
    region: string;
    assignee_id: string | null;
    labels: string[];
    created: string;
    reporter_updated: string | null;
    staff_seen: string | null;
    last_staff: string | null;
  }>`select id, state, status, categories, urgent, community, region, assignee_id, labels,
       ${us('created_at')} as created, ${us('reporter_updated_at')} as reporter_updated,
       ${us('staff_seen_at')} as staff_seen, ${us('last_staff_message_at')} as last_staff
     from reports`.execute(t.db);
  const big = (v: string | null) => (v === null ? null : BigInt(v));
  return rows.map((r) => ({
    id: r.id,
    state: r.state,
    status: r.status,
    categories: r.categories,
    urgent: r.urgent,
    community: r.community,
    region: r.region,
    assigneeId: r.assignee_id,
    labels: r.labels,
    created: BigInt(r.created),
    reporterUpdated: big(r.reporter_updated),
    staffSeen: big(r.staff_seen),
    lastStaff: big(r.last_staff),
  }));
}

const US_HOUR = 3_600_000_000n;
const nowUs = BigInt(NOW.getTime()) * 1000n;

function overdueRef(r: Ref, targets = TARGETS): boolean {
  if (r.status === 'closed') return false;
  const triage = nowUs - BigInt(targets.triageHours) * US_HOUR;
  const urgentTriage = nowUs - BigInt(targets.urgentTriageHours) * US_HOUR;
  const reply = nowUs - BigInt(targets.replyDays) * 24n * US_HOUR;
  if (r.status === 'new' && (r.created < triage || (r.urgent && r.created < urgentTriage))) return true;
  if (r.reporterUpdated !== null && (r.lastStaff === null || r.reporterUpdated > r.lastStaff) && r.reporterUpdated < reply) return true;
  return r.lastStaff === null && r.created < reply;
}

const unreadRef = (r: Ref) => r.reporterUpdated !== null && (r.staffSeen === null || r.reporterUpdated > r.staffSeen);

function matches(r: Ref, q: QueueQuery): boolean {
  if (r.state !== 'submitted') return false;
  if (q.status === 'open' ? r.status === 'closed' : q.status !== 'all' && r.status !== q.status) return false;
  if (q.category && !r.categories.includes(q.category)) return false;
  if (q.label && !r.labels.includes(q.label)) return false;
  if (q.urgent !== null && r.urgent !== q.urgent) return false;
  if (q.community && r.community !== q.community) return false;
  if (q.region && r.region !== q.region) return false;
  if (q.assignee === 'none' ? r.assigneeId !== null : q.assignee && r.assigneeId !== q.assignee) return false;
  if (q.unread !== null && unreadRef(r) !== q.unread) return false;
  if (q.overdue !== null && overdueRef(r) !== q.overdue) return false;
  return true;
}

/**
 * The triage order (the default), written out: urgent open cases, then
 * overdue ones, then the other open ones, each by waiting (a case staff
 * wrote to last comes after those whose reporter is waiting; then by since
 * when, oldest first); closed cases last, newest first.
 */
function triageKey(r: Ref): { tier: number; idle: boolean; wait: bigint } {
  const tier = r.status === 'closed' ? 3 : r.urgent ? 0 : overdueRef(r) ? 1 : 2;
  const idle = r.lastStaff !== null && (r.reporterUpdated === null || r.reporterUpdated <= r.lastStaff);
  const wait =
    r.lastStaff === null
      ? r.reporterUpdated !== null && r.reporterUpdated < r.created
        ? r.reporterUpdated
        : r.created
      : r.reporterUpdated !== null && r.reporterUpdated > r.lastStaff
        ? r.reporterUpdated
        : r.lastStaff;
  return { tier, idle, wait };
}

function order(sort: QueueSort) {
  const byId = (a: Ref, b: Ref) => (a.id > b.id ? 1 : a.id < b.id ? -1 : 0);
  const desc = (a: Ref, b: Ref) => (a.created !== b.created ? (a.created > b.created ? -1 : 1) : -byId(a, b));
  if (sort === 'oldest') return (a: Ref, b: Ref) => -desc(a, b);
  if (sort === 'urgent') return (a: Ref, b: Ref) => (a.urgent !== b.urgent ? (a.urgent ? -1 : 1) : desc(a, b));
  if (sort === 'triage') {
    return (a: Ref, b: Ref) => {
      const x = triageKey(a);
      const y = triageKey(b);
      if (x.tier !== y.tier) return x.tier - y.tier;
      if (x.tier === 3) return desc(a, b);
      if (x.idle !== y.idle) return x.idle ? 1 : -1;
      if (x.wait !== y.wait) return x.wait < y.wait ? -1 : 1;
      return byId(a, b);
    };
  }
  return desc;
}

const expected = (refs: Ref[], q: QueueQuery) =>
  refs
    .filter((r) => matches(r, q))
    .sort(order(q.sort))
    .map((r) => r.id);

/** Follows the cursor to the end, checking every page's size on the way. */
async function walk(q: QueueQuery, limit: number, targets = TARGETS) {
  const rows = [];
  let cursor = null;
  for (let pages = 1; ; pages++) {
    const page = await listQueue(t.db, { ...q, cursor }, policy(targets), limit, NOW);
    rows.push(...page.rows);
    if (!page.nextCursor) {
      expect(page.rows.length).toBeLessThanOrEqual(limit);
      break;
    }
    expect(page.rows.length).toBe(limit);
    cursor = decodeCursor(page.nextCursor);
    expect(cursor).not.toBeNull();
    if (pages > 2000) throw new Error('the cursor does not advance');
  }
  return rows;
}

const Q = (o: Partial<QueueQuery> = {}): QueueQuery => ({ ...DEFAULT_QUEUE_QUERY, ...o });

// ---------------------------------------------------------------- tests

describe('seeded cases', () => {
  it('are varied, valid encrypted reports readable by the team', async () => {
    const refs = (await reference()).filter((r) => r.state === 'submitted');
    expect(refs.length).toBe(296);
    expect(new Set(refs.map((r) => r.status))).toEqual(new Set(CASE_STATUSES));
    expect(refs.every((r) => r.categories.length >= 1 && r.categories.length <= 3)).toBe(true);
    expect(refs.every((r) => r.categories.every((c) => (CATEGORIES as readonly string[]).includes(c)))).toBe(true);
    expect(refs.every((r) => DEFAULT_LISTS.community.includes(r.community) && DEFAULT_LISTS.region.includes(r.region))).toBe(true);
    const urgent = refs.filter((r) => r.urgent).length;
    expect(urgent).toBeGreaterThan(0);
    expect(urgent).toBeLessThan(refs.length * 0.2);
    expect(refs.some((r) => r.assigneeId === null)).toBe(true);
    expect(refs.some((r) => r.assigneeId !== null)).toBe(true);
    expect(refs.some((r) => r.labels.some((l) => !l.startsWith('flag-')))).toBe(true);
    expect(refs.some((r) => r.reporterUpdated !== null)).toBe(true);

    // Workflow columns in a plausible order (the hand-made rows aside).
    const odd = await sql<{
      id: string;
    }>`select id from reports where not (labels && array[${sql.join(Object.keys(CRAFTED).map((n) => `flag-${n}`))}]::text[]) and not (
        coalesce(greatest(created_at, triaged_at, first_response_at, last_staff_message_at, closed_at, reporter_updated_at, staff_seen_at), created_at) <= ${NOW.toISOString()}::timestamptz + interval '1 ms'
        and (status = 'new') = (triaged_at is null)
        and (status = 'closed') = (closed_at is not null) and (status = 'closed') = (closing_outcome is not null)
        and coalesce(first_response_at <= last_staff_message_at, (first_response_at is null) = (last_staff_message_at is null))
        and submitted_at is not null)`.execute(t.db);
    expect(odd.rows).toEqual([]);
    const outcomes = await t.db.selectFrom('reports').select('closing_outcome').distinct().where('closing_outcome', 'is not', null).execute();
    expect(outcomes.every((o) => (OUTCOMES as readonly string[]).includes(o.closing_outcome!))).toBe(true);

    const team = await teamKey(t.db, recoveryKey);
    const [a, b] = refs;
    const opened = await readAsTeam(t.db, team, a!.id);
    expect(opened.narrative.length).toBeGreaterThan(20);
    expect(Object.keys(opened.details).sort()).toEqual(
      ['channels', 'consent', 'followUp', 'links', 'ongoing', 'perpetrator', 'stateReason', 'targeted'].sort(),
    );
    // Bound to its row and field (P8), as service.ts binds them.
    const own = await t.db.selectFrom('reports').select('narrative').where('id', '=', a!.id).executeTakeFirstOrThrow();
    expect(decryptText(opened.dataKey, own.narrative, { table: 'reports', id: a!.id, field: 'narrative' })).toBe(opened.narrative);
    expect(() => decryptText(opened.dataKey, own.narrative, { table: 'reports', id: b!.id, field: 'narrative' })).toThrow(DecryptionError);
    expect(() => decryptText(opened.dataKey, own.narrative, { table: 'reports', id: a!.id, field: 'details' })).toThrow(DecryptionError);
    // No receipt for seeded rows, and one data key each.
    const keys = await t.db.selectFrom('reports').select(['receipt_lookup', 'data_key_wrapped', 'data_key_sealed']).execute();
    expect(keys.every((k) => k.receipt_lookup === null && k.data_key_wrapped === null)).toBe(true);
    expect(new Set(keys.map((k) => Buffer.from(k.data_key_sealed).toString('hex'))).size).toBe(keys.length);
  });
});

describe('listQueue', () => {
  it('returns plaintext triage fields only, never pending reports', async () => {
    const page = await listQueue(t.db, Q({ status: 'all' }), policy(), 300, NOW);
    expect(Object.keys(page.rows[0]!).sort()).toEqual(
      [
        'assigneeId',
        'assigneeName',
        'categories',
        'community',
        'createdAt',
        'deletesAt',
        'id',
        'labels',
        'overdue',
        'region',
        'status',
        'submittedAt',
        'unread',
        'urgent',
      ].sort(),
    );
    expect(page.rows).toHaveLength(296);
    expect(page.rows.some((r) => pendingIds.includes(r.id))).toBe(false);
    const names = new Map((await listAssignees(t.db)).map((a) => [a.id, a.name]));
    for (const r of page.rows) expect(r.assigneeName).toBe(r.assigneeId ? names.get(r.assigneeId) : null);
  });

  it('applies each filter exactly, alone and combined, with the right flags', async () => {
    const refs = await reference();
    const byId = new Map(refs.map((r) => [r.id, r]));
    const labels = [...new Set(refs.flatMap((r) => r.labels))];
    const communities = [...new Set(refs.map((r) => r.community))];
    const regions = [...new Set(refs.map((r) => r.region))];
    const queries: Partial<QueueQuery>[] = [
      ...STATUS_FILTERS.map((status) => ({ status })),
      ...CATEGORIES.map((category) => ({ status: 'all' as const, category })),
      ...communities.map((community) => ({ status: 'all' as const, community })),
      ...regions.map((region) => ({ region })),
      ...[...caseworkers, 'none'].map((assignee) => ({ status: 'all' as const, assignee })),
      ...labels.map((label) => ({ status: 'all' as const, label })),
      { urgent: true },
      { urgent: false, status: 'all' },
      { unread: true, status: 'all' },
      { unread: false },
      { overdue: true },
      { overdue: false, status: 'all' },
      { category: 'family', community: 'uyghur' },
      { urgent: true, overdue: true, sort: 'urgent' },
      { status: 'new', assignee: 'none', sort: 'urgent' },
      { status: 'all', region: 'london', unread: true, sort: 'oldest' },
      { status: 'closed', category: 'digital', overdue: false },
      { status: 'all', community: 'nobody', category: 'legal' },
    ];
    let nonEmpty = 0;
    for (const partial of queries) {
      const q = Q(partial);
      const want = expected(refs, q);
      const rows = await walk(q, 50);
      expect(
        rows.map((r) => r.id),
        JSON.stringify(partial),
      ).toEqual(want);
      for (const row of rows) {
        const ref = byId.get(row.id)!;
        expect(row.overdue, `${row.id} overdue`).toBe(overdueRef(ref));
        expect(row.unread, `${row.id} unread`).toBe(unreadRef(ref));
      }
      if (want.length > 0) nonEmpty++;
    }
    // The expectations are not vacuous: all but the deliberately empty query match something.
    expect(nonEmpty).toBe(queries.length - 1);
  });

  it('walks every row exactly once in every sort order, whatever the page size', async () => {
    const refs = await reference();
    for (const sort of SORTS) {
      const want = expected(refs, Q({ status: 'all', sort }));
      expect(want).toHaveLength(296);
      for (const limit of [1, 7, 50, 296, 1000]) {
        const ids = (await walk(Q({ status: 'all', sort }), limit)).map((r) => r.id);
        expect(new Set(ids).size, `${sort} / ${limit}: duplicates`).toBe(ids.length);
        expect(ids, `${sort} / ${limit}`).toEqual(want);
      }
    }
    // The tied rows really tie, and sit together in the middle of the order.
    const tied = refs.filter((r) => tiedIds.includes(r.id));
    expect(new Set(tied.map((r) => r.created)).size).toBe(1);
  });

  it('starts again from the first page for a cursor from another sort, and ends after the last row', async () => {
    const first = await listQueue(t.db, Q({ status: 'all', sort: 'oldest' }), policy(), 10, NOW);
    const newest = await listQueue(t.db, Q({ status: 'all', sort: 'newest' }), policy(), 10, NOW);
    const foreign = decodeCursor(newest.nextCursor!);
    const again = await listQueue(t.db, Q({ status: 'all', sort: 'oldest', cursor: foreign }), policy(), 10, NOW);
    expect(again.rows.map((r) => r.id)).toEqual(first.rows.map((r) => r.id));

    const beyond = { sort: 'newest' as const, createdAt: '1970-01-01T00:00:00.000000Z', id: '00000000-0000-4000-8000-000000000000', urgent: false };
    const end = await listQueue(t.db, Q({ status: 'all', sort: 'newest', cursor: decodeCursor(encodeCursor(beyond)) }), policy(), 10, NOW);
    expect(end).toEqual({ rows: [], nextCursor: null });
  });

  it('computes overdue and unread on hand-made rows', async () => {
    for (const [name, c] of Object.entries(CRAFTED)) {
      const { rows } = await listQueue(t.db, Q({ status: 'all', label: `flag-${name}` }), policy(), 50, NOW);
      expect(rows, name).toHaveLength(1);
      expect({ name, overdue: rows[0]!.overdue, unread: rows[0]!.unread }).toEqual({ name, overdue: c.overdue, unread: c.unread });
      const inOverdue = await listQueue(t.db, Q({ status: 'all', label: `flag-${name}`, overdue: true }), policy(), 50, NOW);
      expect(inOverdue.rows.length, `${name} in the overdue filter`).toBe(c.overdue ? 1 : 0);
      const inUnread = await listQueue(t.db, Q({ status: 'all', label: `flag-${name}`, unread: true }), policy(), 50, NOW);
      expect(inUnread.rows.length, `${name} in the unread filter`).toBe(c.unread ? 1 : 0);
    }
  });

  it('follows the configured targets', async () => {
    const looser: Targets = { triageHours: 72, urgentTriageHours: 24, replyDays: 9 };
    const get = async (name: string, targets: Targets) =>
      (await listQueue(t.db, Q({ status: 'all', label: `flag-${name}` }), policy(targets), 50, NOW)).rows[0]!.overdue;
    expect(await get('new-49h', looser)).toBe(false);
    expect(await get('urgent-new-13h', looser)).toBe(false);
    expect(await get('reporter-waiting-8d', looser)).toBe(false);
    expect(await get('no-staff-message-8d', looser)).toBe(false);
    const refs = await reference();
    const ids = (await walk(Q({ overdue: true, sort: 'newest' }), 50, looser)).map((r) => r.id);
    expect(ids).toEqual(
      refs
        .filter((r) => r.state === 'submitted' && r.status !== 'closed' && overdueRef(r, looser))
        .sort(order('newest'))
        .map((r) => r.id),
    );
  });
});

describe('countsByStatus, listAssignees', () => {
  it('count submitted cases per status', async () => {
    const refs = (await reference()).filter((r) => r.state === 'submitted');
    const want = Object.fromEntries(CASE_STATUSES.map((s) => [s, refs.filter((r) => r.status === s).length]));
    expect(await countsByStatus(t.db)).toEqual({
      ...want,
      open: refs.filter((r) => r.status !== 'closed').length,
      all: refs.length,
    });
  });

  it('list the caseworkers', async () => {
    const people = await listAssignees(t.db);
    expect(people.map((p) => p.id).sort()).toEqual([...caseworkers].sort());
    expect(people.every((p) => p.active && p.name.length > 0)).toBe(true);
  });
});

describe('GET /staff/cases', () => {
  let app: express.Express;
  beforeAll(async () => {
    await initI18n();
    const config = testConfig({ TRIAGE_TARGET_HOURS: '48' });
    const ctx = { config, db: t.db, settings: () => loadSettings(t.db, config) } as AppContext;
    // A caseworker whose access is approved: holds the team key (the queue refuses one who holds none).
    const { id: teamKeyId } = await currentTeamKey(t.db);
    const team = await teamKey(t.db, recoveryKey);
    app = express();
    app.set('view engine', 'ejs');
    app.set('views', viewsDir);
    app.set('query parser', 'simple');
    app.locals['assetVersion'] = '1';
    // Stands in for the staff session and caseworker guard.
    app.use((_req, res, next) => {
      res.locals['staff'] = {
        user: { id: caseworkers[0], email: 'a@example.org', displayName: 'Aylin Demir', roles: ['caseworker'] },
        privateKey: new Uint8Array(32),
        teamKeys: async () => new Map([[teamKeyId, team]]),
      };
      res.locals['csrfToken'] = 'test-token';
      res.locals['t'] = translator('en');
      next();
    });
    app.get('/staff/cases', queuePage(ctx));
  });

  const caseLinks = (html: string) => [...html.matchAll(/href="\/staff\/cases\/([0-9a-f-]{36})"><span class="case-ref">([0-9a-f]{8})</g)];

  it('renders the filter form, status counts and a page of cases, and pages on', async () => {
    const counts = await countsByStatus(t.db);
    const res = await request(app).get('/staff/cases');
    expect(res.status).toBe(200);
    for (const name of ['status', 'category', 'urgent', 'community', 'region', 'assignee', 'label', 'unread', 'overdue', 'sort']) {
      expect(res.text).toContain(`<label for="filter-${name}">`);
      expect(res.text).toContain(`<select id="filter-${name}" name="${name}">`);
    }
    expect(res.text).toContain(`<strong>Open (${counts.open})</strong>`);
    expect(res.text).toContain(`Closed (${counts.closed})`);
    expect(res.text).toMatch(/<caption id="queue-caption">Open cases, urgent first, then overdue, then the longest waiting<\/caption>/);
    const first = caseLinks(res.text);
    expect(first).toHaveLength(Math.min(50, counts.open));
    for (const m of first) expect(m[2]).toBe(m[1]!.slice(0, 8));

    const next = /<a href="([^"]+)" rel="next">Next page<\/a>/.exec(res.text)?.[1]?.replace(/&amp;/g, '&');
    expect(next).toMatch(/^\/staff\/cases\?cursor=/);
    const res2 = await request(app).get(next!);
    expect(res2.status).toBe(200);
    const second = caseLinks(res2.text).map((m) => m[1]);
    expect(second.length).toBeGreaterThan(0);
    expect(second.some((id) => first.some((m) => m[1] === id))).toBe(false);
    expect(res2.text).toContain('First page');
  });

  it('keeps filters in the next-page link and shows nothing it must not decrypt', async () => {
    const res = await request(app).get('/staff/cases?status=all&sort=oldest&urgent=no');
    expect(res.status).toBe(200);
    const next = /<a href="([^"]+)" rel="next">/.exec(res.text)?.[1]?.replace(/&amp;/g, '&');
    expect(next).toMatch(/^\/staff\/cases\?status=all&urgent=no&sort=oldest&cursor=/);
    expect(res.text).toContain('<option value="no" selected>Not urgent</option>');
    expect(res.text).toContain('<option value="oldest" selected>Oldest first</option>');
    // The queue never decrypts: a listed case's narrative is not on the page.
    const team = await teamKey(t.db, recoveryKey);
    const listed = caseLinks(res.text)[0]![1]!;
    const { narrative } = await readAsTeam(t.db, team, listed);
    expect(res.text).not.toContain(narrative.slice(0, 40));
  });

  it('filters by the administrator’s case labels and names them in English; a code not on the list is ignored', async () => {
    await t.db
      .insertInto('list_items')
      .values([
        { list: 'label', code: 'label_901', position: 0, labels: JSON.stringify({ en: 'Station visits' }) },
        { list: 'label', code: 'label_902', position: 1, labels: JSON.stringify({ en: 'Old office' }), retired_at: new Date() },
      ])
      .execute();
    const { id } = await t.db
      .selectFrom('reports')
      .select('id')
      .where('state', '=', 'submitted')
      .where('status', '<>', 'closed')
      .orderBy('id')
      .executeTakeFirstOrThrow();
    const before = await t.db.selectFrom('reports').select('labels').where('id', '=', id).executeTakeFirstOrThrow();
    await t.db
      .updateTable('reports')
      .set({ labels: ['label_901', 'label_902'] })
      .where('id', '=', id)
      .execute();
    try {
      const res = await request(app).get('/staff/cases?label=label_902');
      expect(res.status).toBe(200);
      expect(res.text).toContain('<option value="label_901">Station visits</option>');
      expect(res.text).toContain('<option value="label_902" selected>Old office (retired)</option>');
      expect(caseLinks(res.text).map((m) => m[1])).toEqual([id]);
      expect(res.text).toContain('<span class="tag">Station visits</span> <span class="tag">Old office</span>');
      // A free-text word, even one a row still carries, is not a label the filter knows: the filter resets.
      const typed = await request(app).get('/staff/cases?label=flag-new-47h');
      expect(typed.text).toContain('<option value="" selected>Any label</option>');
      expect(caseLinks(typed.text).length).toBeGreaterThan(1);
    } finally {
      await t.db.updateTable('reports').set({ labels: before.labels }).where('id', '=', id).execute();
      await t.db.deleteFrom('list_items').where('list', '=', 'label').execute();
    }
  });

  it('ignores bad parameters instead of failing', async () => {
    const bad = [
      '/staff/cases?status=bogus&category=nope&urgent=maybe&sort=drop',
      '/staff/cases?cursor=%25%25%25',
      '/staff/cases?cursor=' + Buffer.from('{"s":"newest","t":"x","i":"y"}').toString('base64url'),
      '/staff/cases?cursor=' +
        Buffer.from(JSON.stringify({ s: 'newest', t: '2026-02-30T10:20:30.123456Z', i: '1a2b3c4d-0000-4000-8000-00000000abcd' })).toString(
          'base64url',
        ),
      '/staff/cases?category=family&category=digital&label[]=x',
      '/staff/cases?assignee=me&region=atlantis&community=%00',
    ];
    for (const url of bad) {
      const res = await request(app).get(url);
      expect(res.status, url).toBe(200);
      expect(res.text).toContain('<option value="open" selected>Open</option>');
      expect(caseLinks(res.text).length, url).toBeGreaterThan(0);
    }
  });
});
