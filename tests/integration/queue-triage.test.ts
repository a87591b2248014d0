import { randomUUID } from 'node:crypto';
import { CompiledQuery, sql, type KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../server/cases/queue-cursor.js';
import { DEFAULT_QUEUE_QUERY, countQueue, findCases, listQueue, type QueueQuery, type Targets } from '../../server/cases/queue-queries.js';
import { newKeyPair, sealTo } from '../../server/crypto/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { insertReports } from '../helpers/reports.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

/**
 * The queue built for triage (issue 11): the default order (urgent, then
 * overdue, then the longest waiting; closed last) on hand-made cases whose
 * place is written out; the indexes that order reads; finding a case by its
 * short or full id, only among cases the caseworker can open; the count of
 * matching cases; and the caseworker whose access is still waiting.
 */

const NOW = new Date('2026-06-01T12:00:00Z');
const TARGETS: Targets = { triageHours: 48, urgentTriageHours: 12, replyDays: 7 };
const policy = { targets: TARGETS, closedRetentionDays: 365 };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (ms: number, from = NOW) => new Date(from.getTime() - ms);
const LABEL = 'triage-order-test';

let t: TestApp;
let worker: TestStaff;
let agent: Awaited<ReturnType<typeof signInStaff>>;

/** Each case's place in the triage order, and why. */
type Crafted = {
  status: string;
  urgent?: boolean;
  created: number;
  reporter?: number;
  lastStaff?: number;
};
const CASES: Record<string, Crafted> = {
  // 0. Urgent: the reporter waiting longest first, a case staff answered last after them.
  urgentWaiting3d: { status: 'in_progress', urgent: true, created: 20 * DAY, reporter: 3 * DAY, lastStaff: 4 * DAY },
  urgentNew1h: { status: 'new', urgent: true, created: HOUR },
  urgentAnswered: { status: 'triaged', urgent: true, created: 5 * DAY, reporter: 2 * DAY, lastStaff: DAY },
  // 1. Overdue: never answered for 10 days, a reply owed for 8, untriaged past 48 hours.
  neverAnswered10d: { status: 'triaged', created: 10 * DAY },
  replyOwed8d: { status: 'in_progress', created: 30 * DAY, reporter: 8 * DAY, lastStaff: 9 * DAY },
  untriaged3d: { status: 'new', created: 3 * DAY },
  // 2. The rest: waiting (since submission when nobody answered, even if the reporter wrote since), then quiet ones.
  unansweredSince5d: { status: 'triaged', created: 5 * DAY, reporter: DAY },
  replyOwed2d: { status: 'triaged', created: 6 * DAY, reporter: 2 * DAY, lastStaff: 3 * DAY },
  new10h: { status: 'new', created: 10 * HOUR },
  quietSince5d: { status: 'in_progress', created: 40 * DAY, reporter: 6 * DAY, lastStaff: 5 * DAY },
  quietSince1d: { status: 'in_progress', created: 40 * DAY, reporter: 2 * DAY, lastStaff: DAY },
  // 3. Closed, newest first.
  closed2d: { status: 'closed', created: 2 * DAY, lastStaff: DAY },
  closed20d: { status: 'closed', created: 20 * DAY, lastStaff: 10 * DAY },
};
const OPEN_ORDER = [
  'urgentWaiting3d',
  'urgentNew1h',
  'urgentAnswered',
  'neverAnswered10d',
  'replyOwed8d',
  'untriaged3d',
  'unansweredSince5d',
  'replyOwed2d',
  'new10h',
  'quietSince5d',
  'quietSince1d',
];
const ALL_ORDER = [...OPEN_ORDER, 'closed2d', 'closed20d'];
const ids: Record<string, string> = {};
const nameOf = (id: string) => Object.keys(ids).find((n) => ids[n] === id) ?? id;

/** Hand-made cases, relative to `from`, with the label that isolates them from the rest of the file's cases. */
async function craft(from: Date, label = LABEL): Promise<Record<string, string>> {
  const made: Record<string, string> = {};
  for (const [name, c] of Object.entries(CASES)) {
    const [id] = await insertReports(t, 1, { status: c.status });
    const at = (ms: number | undefined) => (ms === undefined ? null : ago(ms, from));
    await t.testDb.db
      .updateTable('reports')
      .set({
        labels: [label],
        urgent: c.urgent ?? false,
        created_at: ago(c.created, from),
        submitted_at: ago(c.created, from),
        reporter_updated_at: at(c.reporter),
        last_staff_message_at: at(c.lastStaff),
        triaged_at: c.status === 'new' ? null : ago(c.created - HOUR, from),
        closed_at: c.status === 'closed' ? at(c.lastStaff) : null,
        closing_outcome: c.status === 'closed' ? 'resolved' : null,
      })
      .where('id', '=', id!)
      .execute();
    made[name] = id!;
  }
  return made;
}

const Q = (o: Partial<QueueQuery> = {}): QueueQuery => ({ ...DEFAULT_QUEUE_QUERY, label: LABEL, ...o });

async function walk(q: QueueQuery, limit: number, nowOf: (page: number) => Date = () => NOW) {
  const seen: string[] = [];
  let cursor = null;
  for (let page = 0; page < 100; page++) {
    const p = await listQueue(t.testDb.db, { ...q, cursor }, policy, limit, nowOf(page));
    seen.push(...p.rows.map((r) => r.id));
    if (!p.nextCursor) return seen;
    cursor = decodeCursor(p.nextCursor);
  }
  throw new Error('the cursor does not advance');
}

beforeAll(async () => {
  t = await createTestApp();
  Object.assign(ids, await craft(NOW));
  worker = await addStaff(t, { roles: ['caseworker'] });
  agent = await signInStaff(t, worker);
});

afterAll(async () => {
  await t?.close();
});

describe('the default order', () => {
  it('is urgent first, then overdue, then the longest waiting, quiet cases after waiting ones, closed last', async () => {
    const page = await listQueue(t.testDb.db, Q({ status: 'all' }), policy, 50, NOW);
    expect(page.rows.map((r) => nameOf(r.id))).toEqual(ALL_ORDER);
    expect(page.nextCursor).toBeNull();
    // The flags agree with the tiers: the overdue tier is exactly the overdue cases that are not urgent.
    const overdue = page.rows.filter((r) => r.overdue && !r.urgent).map((r) => nameOf(r.id));
    expect(overdue).toEqual(['neverAnswered10d', 'replyOwed8d', 'untriaged3d']);
    // The open tab is the same order without the closed cases; it is the default query.
    const open = await listQueue(t.testDb.db, Q(), policy, 50, NOW);
    expect(open.rows.map((r) => nameOf(r.id))).toEqual(OPEN_ORDER);
    expect(DEFAULT_QUEUE_QUERY.sort).toBe('triage');
    const closed = await listQueue(t.testDb.db, Q({ status: 'closed' }), policy, 50, NOW);
    expect(closed.rows.map((r) => nameOf(r.id))).toEqual(['closed2d', 'closed20d']);
  });

  it('pages through every tier with the cursor, whatever the page size', async () => {
    for (const limit of [1, 2, 3, 4, 5, 7, 13]) {
      expect((await walk(Q({ status: 'all' }), limit)).map(nameOf), `page size ${limit}`).toEqual(ALL_ORDER);
      expect((await walk(Q(), limit)).map(nameOf), `open, page size ${limit}`).toEqual(OPEN_ORDER);
    }
    // Filters still apply within the order.
    expect((await walk(Q({ status: 'all', urgent: false }), 2)).map(nameOf)).toEqual(ALL_ORDER.filter((n) => !CASES[n]!.urgent));
    expect((await walk(Q({ status: 'new' }), 1)).map(nameOf)).toEqual(['urgentNew1h', 'untriaged3d', 'new10h']);
  });

  it('orders every page as of the first page, so a case falling overdue meanwhile is neither skipped nor shown twice', async () => {
    // 47 hours old and untriaged: overdue an hour after the first page. Pages are read 20 minutes apart.
    const [late] = await insertReports(t, 1, { status: 'new' });
    await t.testDb.db
      .updateTable('reports')
      .set({ labels: [LABEL], created_at: ago(47 * HOUR), submitted_at: ago(47 * HOUR) })
      .where('id', '=', late!)
      .execute();
    try {
      const later = (page: number) => new Date(NOW.getTime() + page * 20 * 60_000);
      const seen = await walk(Q(), 1, later);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toHaveLength(OPEN_ORDER.length + 1);
      // Read as of the first page: waiting since 47 hours, just before new10h.
      expect(seen.map(nameOf)).toEqual([...OPEN_ORDER.slice(0, 8), late, ...OPEN_ORDER.slice(8)]);
      // A page link older than 12 hours starts again from the first page.
      const first = await listQueue(t.testDb.db, Q(), policy, 2, NOW);
      const stale = await listQueue(t.testDb.db, { ...Q(), cursor: decodeCursor(first.nextCursor!) }, policy, 2, new Date(NOW.getTime() + 13 * HOUR));
      expect(stale.rows.map((r) => r.id)).toEqual(
        (await listQueue(t.testDb.db, Q(), policy, 2, new Date(NOW.getTime() + 13 * HOUR))).rows.map((r) => r.id),
      );
    } finally {
      await t.testDb.db.deleteFrom('reports').where('id', '=', late!).execute();
    }
  });

  it('keeps the other sort orders working', async () => {
    const newest = await listQueue(t.testDb.db, Q({ status: 'all', sort: 'newest' }), policy, 50, NOW);
    const created = (name: string) => CASES[name]!.created;
    expect(newest.rows.map((r) => nameOf(r.id))).toEqual([...ALL_ORDER].sort((a, b) => created(a) - created(b) || (ids[a]! < ids[b]! ? 1 : -1)));
    const oldest = await listQueue(t.testDb.db, Q({ status: 'all', sort: 'oldest' }), policy, 50, NOW);
    expect(oldest.rows.map((r) => r.id)).toEqual(newest.rows.map((r) => r.id).reverse());
    const urgent = await listQueue(t.testDb.db, Q({ status: 'all', sort: 'urgent' }), policy, 50, NOW);
    expect(urgent.rows.slice(0, 3).every((r) => r.urgent)).toBe(true);
  });

  it('reads each tier through an index, in index order (the queries the page runs, explained)', async () => {
    // Every statement listQueue sends, captured as compiled.
    const captured = new Map<string, readonly unknown[]>();
    const capture: KyselyPlugin = {
      transformQuery(args) {
        const c = t.testDb.db.getExecutor().compileQuery(args.node, args.queryId);
        captured.set(c.sql, c.parameters);
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    const db = t.testDb.db.withPlugin(capture);
    let cursor = null;
    for (;;) {
      const p = await listQueue(db, { ...Q({ status: 'all' }), cursor }, policy, 1, NOW);
      if (!p.nextCursor) break;
      cursor = decodeCursor(p.nextCursor);
    }
    const explain = (text: string, parameters: readonly unknown[], off: string[]) =>
      t.testDb.db.transaction().execute(async (trx) => {
        for (const setting of off) await sql`select set_config(${setting}, 'off', true)`.execute(trx);
        const res = await trx.executeQuery(CompiledQuery.raw(`explain (costs off) ${text}`, [...parameters]));
        return res.rows.map((r) => Object.values(r as Record<string, string>)[0]).join('\n');
      });
    const plans: string[] = [];
    for (const [text, parameters] of captured) {
      // With sequential scans, bitmaps and sorts priced out, a plan that still has none reads an index in its own order.
      const plan = await explain(text, parameters, ['enable_seqscan', 'enable_bitmapscan', 'enable_sort']);
      expect(plan, text).not.toMatch(/Seq Scan on reports/);
      plans.push(plan);
    }
    const used = (index: string) => plans.filter((p) => p.includes(`Index Scan using ${index} on reports`));
    for (const index of ['reports_triage_urgent', 'reports_triage_open', 'reports_triage_new', 'reports_status_queue']) {
      expect(used(index).length, index).toBeGreaterThan(0);
    }
    // One tier per statement, no sort over its rows (the union of tier 1 sorts only its two limited branches).
    for (const p of plans.filter((x) => !/HashAggregate|Unique/.test(x) && /reports_triage|reports_status_queue/.test(x))) {
      expect(p).not.toMatch(/\bSort\b/);
    }

    // The id lookup is a range on the uuid, read from an index of it.
    captured.clear();
    const prefix = ids['new10h']!.slice(0, 8);
    const range = { from: `${prefix}-0000-0000-0000-000000000000`, to: `${prefix}-ffff-ffff-ffff-ffffffffffff` };
    const found = await findCases(db, { ...DEFAULT_QUEUE_QUERY, status: 'all', ids: range, teamKeyIds: [t.team!.id] }, policy, 50, NOW);
    expect(found.rows.map((r) => r.id)).toEqual([ids['new10h']]);
    expect(captured.size).toBe(1);
    for (const [text, parameters] of captured) {
      const plan = await explain(text, parameters, ['enable_seqscan', 'enable_bitmapscan']);
      expect(plan).not.toMatch(/\bSort\b/);
      expect(plan).toMatch(/Index (Only )?Scan using \w+ on reports/);
      expect(plan).toMatch(/Index Cond: \(\(id >= '[0-9a-f-]{36}'::uuid\) AND \(id <= '[0-9a-f-]{36}'::uuid\)\)/);
    }
  });
});

describe('finding a case by id', () => {
  const find = (who: typeof agent, text: string) => who.get(`/staff/cases?id=${encodeURIComponent(text)}`).redirects(0);

  it('goes straight to the case for its short id or its full id, in any case and with spaces', async () => {
    const id = ids['urgentNew1h']!;
    for (const text of [id.slice(0, 8), id, id.toUpperCase(), ` ${id.slice(0, 4)} ${id.slice(4, 8).toUpperCase()} `]) {
      const res = await find(agent, text);
      expect(res.status, text).toBe(303);
      expect(res.headers['location'], text).toBe(`/staff/cases/${id}`);
    }
  });

  it('lists the cases when two share a short id, and says so', async () => {
    const made = await insertReports(t, 3);
    const twins = ['abcd1234-0000-4000-8000-000000000001', 'abcd1234-ffff-4000-8000-000000000002'];
    const neighbour = 'abcd1235-0000-4000-8000-000000000003';
    for (const [i, id] of [...twins, neighbour].entries()) await t.testDb.db.updateTable('reports').set({ id }).where('id', '=', made[i]!).execute();
    try {
      const res = await find(agent, 'abcd1234');
      expect(res.status).toBe(200);
      expect(res.text).toContain('2 cases have an id that starts with abcd1234.');
      expect(res.text).toContain('2 cases match');
      const listed = [...res.text.matchAll(/href="\/staff\/cases\/([0-9a-f-]{36})"><span class="case-ref">/g)].map((m) => m[1]);
      expect(listed.sort()).toEqual(twins);
      expect(res.text).toContain(`value="abcd1234"`);
      // A full id is one case, even next to its twin.
      expect((await find(agent, twins[1]!)).headers['location']).toBe(`/staff/cases/${twins[1]}`);
    } finally {
      await t.testDb.db
        .deleteFrom('reports')
        .where('id', 'in', [...twins, neighbour])
        .execute();
    }
  });

  it('finds no case the caseworker cannot open: a restricted case reads as no such case, for its short and full id', async () => {
    // A second team key this caseworker does not hold, and a case sealed to it; a colleague holds both keys.
    const other = newKeyPair();
    const [{ id: keyId }] = [
      await t.testDb.db
        .insertInto('team_keys')
        .values({ public_key: other.publicKey, secret_sealed_to_recovery: new Uint8Array(80), retired_at: new Date() })
        .returning('id')
        .executeTakeFirstOrThrow(),
    ];
    const [restricted, visibleTwin] = await insertReports(t, 2);
    const restrictedId = `facade01-${randomUUID().slice(9)}`;
    const twinId = `facade02-${randomUUID().slice(9)}`;
    await t.testDb.db.updateTable('reports').set({ id: restrictedId, team_key_id: keyId }).where('id', '=', restricted!).execute();
    await t.testDb.db.updateTable('reports').set({ id: twinId }).where('id', '=', visibleTwin!).execute();
    const colleague = await addStaff(t, { roles: ['caseworker'] });
    const { public_key } = await t.testDb.db.selectFrom('users').select('public_key').where('id', '=', colleague.id).executeTakeFirstOrThrow();
    await t.testDb.db
      .insertInto('key_grants')
      .values({
        user_id: colleague.id,
        team_key_id: keyId,
        sealed_secret: sealTo(other.privateKey, public_key),
        approved_by: null,
        sealed_at: new Date(),
      })
      .execute();
    const colleagueAgent = await signInStaff(t, colleague);
    try {
      for (const text of [restrictedId, restrictedId.slice(0, 8), restrictedId.toUpperCase()]) {
        const res = await find(agent, text);
        expect(res.status, text).toBe(200);
        expect(res.text, text).toContain('No case you can open has that id.');
        expect(res.text, text).not.toContain(`/staff/cases/${restrictedId}`);
      }
      // Exactly as for an id nobody has.
      const unknown = await find(agent, 'facade03');
      expect(unknown.text).toContain('No case you can open has that id.');
      // The colleague who holds the key is taken to it (the search itself is not what hides it).
      expect((await find(colleagueAgent, restrictedId.slice(0, 8))).headers['location']).toBe(`/staff/cases/${restrictedId}`);
      // The queue's listing itself is unchanged: a search is what is limited to one's keys.
      expect((await find(agent, twinId.slice(0, 8))).headers['location']).toBe(`/staff/cases/${twinId}`);
    } finally {
      await t.testDb.db.deleteFrom('reports').where('id', 'in', [restrictedId, twinId]).execute();
      await t.testDb.db.deleteFrom('key_grants').where('team_key_id', '=', keyId).execute();
      await t.testDb.db.deleteFrom('team_keys').where('id', '=', keyId).execute();
    }
  });

  it('answers anything that is not an id with a message on the page, never an error', async () => {
    const texts = ['hello', '785b681', '785b6810a', "' or 1=1 --", '%', 'x'.repeat(150), '785b6810-0000', '\u202e785b6810', '__proto__'];
    for (const text of texts) {
      const res = await find(agent, text);
      expect(res.status, text).toBe(200);
      expect(res.text, text).toContain('That is not a case id.');
      expect(res.text, text).not.toContain('<table class="queue">');
    }
    for (const raw of ['id=%00', 'id[]=785b6810', 'id=a&id=b', 'id[__proto__]=x']) {
      const res = await agent.get(`/staff/cases?${raw}`).redirects(0);
      expect(res.status, raw).toBe(200);
    }
  });
});

describe('the count of matching cases', () => {
  it('counts what the filters match, and stops at more than 1,000', async () => {
    const db = t.testDb.db;
    const open = await countQueue(db, { ...DEFAULT_QUEUE_QUERY }, policy, 1000, new Date());
    const all = await db
      .selectFrom('reports')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('state', '=', 'submitted')
      .where('status', '<>', 'closed')
      .executeTakeFirstOrThrow();
    expect(open).toBe(all.n);
    const res = await agent.get('/staff/cases');
    expect(res.status).toBe(200);
    expect(res.text).toContain(`<p class="queue-count" id="queue-count">${open} cases match</p>`);
    const urgentOnly = await agent.get('/staff/cases?urgent=yes');
    const urgentCount = (
      await db
        .selectFrom('reports')
        .select(sql<number>`count(*)::int`.as('n'))
        .where('urgent', '=', true)
        .where('status', '<>', 'closed')
        .executeTakeFirstOrThrow()
    ).n;
    expect(urgentCount).toBeGreaterThan(0);
    expect(urgentOnly.text).toContain(`>${urgentCount} cases match</p>`);

    const many = await insertReports(t, 1001, { region: 'wales' });
    try {
      expect(await countQueue(db, { ...DEFAULT_QUEUE_QUERY, region: 'wales' }, policy, 1000, new Date())).toBe(1001);
      const big = await agent.get('/staff/cases?region=wales');
      expect(big.text).toContain('>More than 1,000 cases match</p>');
      await db.deleteFrom('reports').where('id', '=', many[0]!).execute();
      expect((await agent.get('/staff/cases?region=wales')).text).toContain('>1,000 cases match</p>');
    } finally {
      await db.deleteFrom('reports').where('id', 'in', many).execute();
    }
  });
});

describe('a caseworker whose access is waiting for approval', () => {
  it('is told so on the queue and on every case address (403), the same whether the case exists or not', async () => {
    const waiting = await addStaff(t, { roles: ['caseworker'], approved: false });
    const a = await signInStaff(t, waiting);
    const real = ids['urgentNew1h']!;
    const pages = [`/staff/cases`, `/staff/cases?id=${real}`, `/staff/cases/${real}`, `/staff/cases/${randomUUID()}`, '/staff/cases/not-a-case'];
    const bodies: string[] = [];
    for (const path of pages) {
      const res = await a.get(path).redirects(0);
      expect(res.status, path).toBe(403);
      expect(res.text, path).toContain('Your access is waiting for approval');
      expect(res.text, path).toContain('Your access to cases is waiting for a colleague to approve it.');
      expect(res.text, path).not.toMatch(/not found|does not exist/i);
      if (path.startsWith('/staff/cases/')) bodies.push(res.text.replace(/name="_csrf" value="[^"]+"/g, ''));
    }
    expect(new Set(bodies).size, 'an existing and a missing case read the same').toBe(1);
    const token = await staffCsrf(a, '/staff/account');
    const post = await a.post(`/staff/cases/${real}/notes`).type('form').send({ _csrf: token, note: 'hello' });
    expect(post.status).toBe(403);
    expect(await t.testDb.db.selectFrom('case_notes').select('id').where('report_id', '=', real).execute()).toEqual([]);

    // Once a colleague approves (the grant is sealed), the queue opens.
    await t.testDb.db
      .insertInto('key_grants')
      .values({
        user_id: waiting.id,
        team_key_id: t.team!.id,
        sealed_secret: sealTo(
          t.team!.keyPair.privateKey,
          (await t.testDb.db.selectFrom('users').select('public_key').where('id', '=', waiting.id).executeTakeFirstOrThrow()).public_key,
        ),
        approved_by: worker.id,
        sealed_at: new Date(),
      })
      .execute();
    expect((await a.get('/staff/cases')).status).toBe(200);
  });
});

describe('queue cursor for the triage order', () => {
  it('round-trips', () => {
    const c = { sort: 'triage' as const, at: NOW.toISOString(), tier: 1 as const, idle: false, key: '2026-05-01T10:00:00.123456Z', id: randomUUID() };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
  });
});
