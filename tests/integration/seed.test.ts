import { sql, type SqlBool } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit } from '../../server/audit/log.js';
import { verifyAuditChain } from '../../server/audit/verify.js';
import { seedDemo, SeedRefused, type DemoSummary } from '../../server/demo/seed-demo.js';
import { mulberry32 } from '../../server/demo/seed.js';
import * as words from '../../server/demo/seed-words.js';
import { runHousekeeping } from '../../server/housekeeping.js';
import { purge } from '../../server/retention/purge.js';
import { deletionDateExpr } from '../../server/retention/queries.js';
import { currentTeamKey } from '../../server/setup/service.js';
import { archiveFactsForStatistics, archiveForStatistics } from '../../server/stats/archive-queries.js';
import { aggregates } from '../../server/stats/queries.js';
import { quartersBetween } from '../../server/stats/tables.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { contains, dumpAllTables } from '../helpers/dump.js';

/**
 * `harbour seed --demo` (seedDemo): two years of fictional work that the
 * first housekeeping runs leave alone, with its older past in the statistics
 * archive, referral records on every referred case, a verifiable audit chain,
 * and nothing readable without the team key.
 */
const DAY = 86_400_000;
let t: TestApp;
let summary: DemoSummary;

const count = async (table: 'reports' | 'messages' | 'case_notes' | 'referrals' | 'stats_archive' | 'audit_log' | 'users') =>
  Number(
    (
      await t.testDb.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );
const counts = async () => ({
  reports: await count('reports'),
  messages: await count('messages'),
  notes: await count('case_notes'),
  referrals: await count('referrals'),
  archive: await count('stats_archive'),
});

/** Closed cases retention would delete before `days` from now. */
async function dueWithin(app: TestApp, retentionDays: number, days: number): Promise<number> {
  const row = await app.testDb.db
    .selectFrom('reports as r')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('r.status', '=', 'closed')
    .where(sql<SqlBool>`${deletionDateExpr(retentionDays)} < now() + make_interval(days => ${days})`)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

beforeAll(async () => {
  t = await createTestApp();
  summary = await seedDemo(t.testDb.db, {
    count: 120,
    teamKey: await currentTeamKey(t.testDb.db),
    closedRetentionDays: 365,
    random: mulberry32(2026),
  });
});
afterAll(async () => {
  await t?.close();
});

describe('seed --demo and retention', () => {
  it('makes the cases asked for, the older ones archived; housekeeping and purge then delete nothing', async () => {
    const before = await counts();
    expect(summary.live).toBe(120);
    expect(before.reports).toBe(120);
    expect(summary.archived).toBeGreaterThan(20);
    expect(before.archive).toBe(summary.archived);
    expect({ messages: before.messages, notes: before.notes, referrals: before.referrals }).toEqual({
      messages: summary.messages,
      notes: summary.notes,
      referrals: summary.referrals,
    });
    expect(await dueWithin(t, 365, 30)).toBe(0); // not on the first run, nor in the next 30 days

    await runHousekeeping(t.testDb.db, t.config);
    expect(await purge(t.testDb.db, { closedRetentionDays: 365 })).toEqual({ ran: true, due: [], deleted: 0 });
    expect(await counts()).toEqual(before);
    // Two years of work: closed cases from the last year, open ones from any time.
    const oldest = await t.testDb.db
      .selectFrom('reports')
      .select((eb) => eb.fn.min('created_at').as('at'))
      .executeTakeFirstOrThrow();
    expect(Date.now() - new Date(oldest.at!).getTime()).toBeGreaterThan(400 * DAY);
  });

  it.each([30, 3650])('follows the retention setting in force (%i days)', async (days) => {
    const other = await createTestApp();
    try {
      const s = await seedDemo(other.testDb.db, { count: 40, teamKey: await currentTeamKey(other.testDb.db), closedRetentionDays: days });
      expect(await dueWithin(other, days, Math.min(30, days / 2))).toBe(0);
      expect((await purge(other.testDb.db, { closedRetentionDays: days })).deleted).toBe(0);
      if (days === 3650)
        expect(s.archived).toBe(0); // nothing two years old is past ten years
      else expect(s.archived).toBeGreaterThan(s.live); // most of two years is long gone
      expect((await verifyAuditChain(other.testDb.db)).ok).toBe(true);
    } finally {
      await other.close();
    }
  });
});

describe('seed --demo looks like real work', () => {
  it('every referred case, and every case closed as referred to police, has its referral record', async () => {
    const db = t.testDb.db;
    const referred = await db
      .selectFrom('reports as r')
      .select(['r.id', 'r.referred', 'r.triaged_at', 'r.closed_at'])
      .where((eb) => eb.or([eb('r.status', '=', 'referred'), eb('r.closing_outcome', '=', 'referred_to_police')]))
      .execute();
    expect(referred.length).toBeGreaterThan(5);
    for (const c of referred) {
      expect(c.referred).toBe(true);
      const refs = await db.selectFrom('referrals').selectAll().where('report_id', '=', c.id).execute();
      expect(refs).toHaveLength(1);
      expect(refs[0]!.created_at.getTime()).toBeGreaterThanOrEqual(c.triaged_at!.getTime());
      if (c.closed_at) expect(refs[0]!.created_at.getTime()).toBeLessThanOrEqual(c.closed_at.getTime());
    }
    // And no referral anywhere else.
    expect(await count('referrals')).toBe(referred.length);
  });

  it('the stored rows agree with each other: messages, first response, last reply, reporter activity, history', async () => {
    const mismatches = await sql<{ id: string }>`
      select r.id from reports r
       where r.first_response_at is distinct from (select min(m.created_at) from messages m where m.report_id = r.id and m.author = 'staff')
          or r.last_staff_message_at is distinct from (select max(m.created_at) from messages m where m.report_id = r.id and m.author = 'staff')
          or r.reporter_updated_at is distinct from (select max(m.created_at) from messages m where m.report_id = r.id and m.author = 'reporter')
          or r.triaged_at is distinct from (select min(a.at) from audit_log a where a.case_id = r.id and a.action = 'case.status_changed')
          or r.staff_seen_at is distinct from (select max(a.at) from audit_log a where a.case_id = r.id and a.action = 'case.viewed')
          or (r.closed_at is not null and not exists (select 1 from audit_log a where a.case_id = r.id and a.at = r.closed_at
                and a.action = 'case.status_changed' and a.details->>'to' = 'closed' and a.details->>'outcome' = r.closing_outcome))
          or exists (select 1 from messages m where m.report_id = r.id and (m.created_at < r.created_at or m.created_at > now()))
          or exists (select 1 from case_notes n where n.report_id = r.id and (n.created_at < r.created_at or n.created_at > now()))`.execute(
      t.testDb.db,
    );
    expect(mismatches.rows).toEqual([]);
    const actors = await sql<{ n: number }>`
      select count(*)::int as n from audit_log a where a.case_id is not null
         and not exists (select 1 from users u where u.id = a.actor_id and u.email like '%@seed.invalid')`.execute(t.testDb.db);
    expect(actors.rows[0]!.n).toBe(0); // every step taken by a fictional caseworker
  });

  it('appends a history that `harbour audit verify` accepts, in time order, and real entries chain on after it', async () => {
    const db = t.testDb.db;
    const entries = await db.selectFrom('audit_log').select(['seq', 'at', 'action']).orderBy('seq').execute();
    expect(entries.length).toBe(summary.historyEntries);
    const seeded = entries.map((e) => e.at.getTime());
    expect(seeded.slice(1).every((at, i) => at >= seeded[i]!)).toBe(true);
    expect(new Set(entries.map((e) => e.action))).toEqual(
      new Set([
        'staff.created',
        'case.viewed',
        'case.status_changed',
        'case.assigned',
        'case.labels_changed',
        'case.note_added',
        'case.message_sent',
        'case.referred',
        'retention.purged',
      ]),
    );
    const purged = await db
      .selectFrom('audit_log')
      .select(sql<number>`sum((details->>'deleted')::int)`.as('n'))
      .where('action', '=', 'retention.purged')
      .executeTakeFirstOrThrow();
    expect(Number(purged.n)).toBe(summary.archived); // each archived case was deleted by a recorded purge
    await Promise.all(Array.from({ length: 16 }, () => audit(db, { action: 'stats.viewed' })));
    const result = await verifyAuditChain(db);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.checked).toBe(summary.historyEntries + 16);
  });

  it('the statistics include the archived quarters: every quarter counts its live and its deleted reports', async () => {
    const db = t.testDb.db;
    const now = new Date();
    const first = (d: Date) => `${d.getUTCFullYear()}-${String(Math.floor(d.getUTCMonth() / 3) * 3 + 1).padStart(2, '0')}-01`;
    const period = { from: first(new Date(now.getTime() - 735 * DAY)), to: first(now) };
    const quarters = quartersBetween(period.from, period.to);
    const agg = await aggregates(db, period, quarters);
    const reported = new Map(agg.firstResponse.map((f) => [f.quarter, f.answered + f.unanswered]));
    const live = await sql<{ q: string; n: number }>`
      select to_char(date_trunc('quarter', submitted_at), 'YYYY-MM-DD') as q, count(*)::int as n from reports group by 1`.execute(db);
    const archived = await sql<{
      q: string;
      n: number;
    }>`select to_char(quarter, 'YYYY-MM-DD') as q, count(*)::int as n from stats_archive group by 1`.execute(db);
    const expected = new Map<string, number>();
    for (const { q, n } of [...live.rows, ...archived.rows]) expected.set(q, (expected.get(q) ?? 0) + n);
    expect(Object.fromEntries(reported)).toEqual(Object.fromEntries(expected));
    expect([...reported.values()].reduce((a, b) => a + b, 0)).toBe(summary.live + summary.archived);
    // The oldest quarters are there although retention deleted most of their cases.
    const oldest = [...archived.rows].sort((a, b) => (a.q < b.q ? -1 : 1))[0]!;
    expect(oldest.q <= first(new Date(now.getTime() - 540 * DAY))).toBe(true);
  });

  it('archives exactly the row archiveForStatistics writes when retention deletes a case', async () => {
    const db = t.testDb.db;
    const rows = await db.selectFrom('reports').selectAll().where('status', '=', 'closed').orderBy('first_response_at').execute();
    const pair = [rows.find((r) => r.first_response_at === null) ?? rows[0]!, rows.find((r) => r.first_response_at !== null)!];
    const archivedBoth = await db
      .transaction()
      .execute(async (trx) => {
        const before = Number(
          (
            await trx
              .selectFrom('stats_archive')
              .select(sql<number>`max(id)`.as('m'))
              .executeTakeFirstOrThrow()
          ).m,
        );
        for (const r of pair) {
          await archiveForStatistics(trx, r.id);
          const { categories, community, region, suspected_state, urgent, status, closing_outcome, referred, first_response_at } = r;
          const facts = { categories, community, region, suspected_state, urgent, status, closing_outcome, referred, first_response_at };
          await archiveFactsForStatistics(trx, [{ ...facts, submitted_at: r.submitted_at! }]);
        }
        const out = await trx.selectFrom('stats_archive').selectAll().where('id', '>', before).orderBy('id').execute();
        throw Object.assign(new Error('roll back'), { out });
      })
      .catch((e: { out?: Record<string, unknown>[] }) => e.out!);
    const withoutId = archivedBoth.map(({ id: _id, ...rest }: Record<string, unknown>) => rest);
    expect(withoutId).toHaveLength(4);
    expect(withoutId[1]).toEqual(withoutId[0]);
    expect(withoutId[3]).toEqual(withoutId[2]);
  });

  it('stores nothing a person could read: every text the story uses is encrypted', async () => {
    const dump = await dumpAllTables(t.testDb.db);
    const texts = Object.values(words).flat();
    expect(texts.length).toBeGreaterThan(30);
    for (const text of texts) expect(contains(dump, text.slice(0, 40)), text).toBe(false);
  });
});

describe('seed --demo refuses anything but a fresh installation', () => {
  it('refuses a second seed and an installation whose reports retention has already deleted, writing nothing', async () => {
    const before = { ...(await counts()), audit: await count('audit_log'), users: await count('users') };
    const teamKey = await currentTeamKey(t.testDb.db);
    await expect(seedDemo(t.testDb.db, { count: 5, teamKey, closedRetentionDays: 365 })).rejects.toThrow(/already has reports/);
    expect({ ...(await counts()), audit: await count('audit_log'), users: await count('users') }).toEqual(before);

    const other = await createTestApp();
    try {
      await other.testDb.db
        .insertInto('stats_archive')
        .values({
          quarter: '2025-01-01',
          categories: ['threats'],
          community: 'uyghur',
          region: 'london',
          suspected_state: 'china',
          urgent: false,
          status: 'closed',
          closing_outcome: 'resolved',
          referred: false,
          first_response_days: 2,
        })
        .execute();
      const users = await other.testDb.db.selectFrom('users').select('id').execute();
      const err = await seedDemo(other.testDb.db, { count: 5, teamKey: await currentTeamKey(other.testDb.db), closedRetentionDays: 365 }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SeedRefused);
      expect(String(err)).toMatch(/statistics of deleted reports/);
      expect(await other.testDb.db.selectFrom('users').select('id').execute()).toEqual(users);
    } finally {
      await other.close();
    }
  });

  it('of several seeds at once, one fills the installation and the others are refused', async () => {
    const other = await createTestApp();
    try {
      const teamKey = await currentTeamKey(other.testDb.db);
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, () => seedDemo(other.testDb.db, { count: 10, teamKey, closedRetentionDays: 365 })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter((x) => x.status === 'rejected')) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(SeedRefused);
      expect(
        Number(
          (
            await other.testDb.db
              .selectFrom('reports')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        ),
      ).toBe(10);
      expect(
        Number(
          (
            await other.testDb.db
              .selectFrom('users')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('email', 'like', '%@seed.invalid')
              .executeTakeFirstOrThrow()
          ).n,
        ),
      ).toBe(3);
      expect((await verifyAuditChain(other.testDb.db)).ok).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('refuses a count that is not a whole number of at least one', async () => {
    const teamKey = await currentTeamKey(t.testDb.db);
    for (const n of [0, -1, 1.5, Number.NaN])
      await expect(seedDemo(t.testDb.db, { count: n, teamKey, closedRetentionDays: 365 })).rejects.toThrow(/count/);
  });
});
