import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db/index.js';

/**
 * The only SQL for statistics: aggregates over plaintext triage fields, from
 * live reports and from the archive that retention leaves behind (so deleting
 * a case does not change a published figure). No decryption (P6), no text.
 *
 * Built for speed (bench/stats.js: two years of 1,000,000 reports on two
 * cores). Each quarter's reports are read once, from the covering index
 * reports_stats_facts (index-only, never the heap of ciphertext), and one
 * GROUPING SETS pass counts everything for that quarter. The quarters run as
 * separate statements, a few at a time, because PostgreSQL does not spread
 * GROUPING SETS over several cores itself; within a quarter the quarter is a
 * constant, so the planner's estimates come from column statistics and it
 * hashes. Their small results are summed here.
 */
export type Period = { from: string; to: string }; // first days of the first and last quarter, inclusive

export type PairCount = { row: string; col: string; n: number };
export type FirstResponse = { quarter: string; answered: number; daySum: number; unanswered: number };
export type Aggregates = {
  categoryByQuarter: PairCount[];
  categoryByCommunity: PairCount[];
  regionByQuarter: PairCount[];
  stateByCategory: PairCount[];
  /** The status (closed split by outcome), plus "referred_to_police" (a referral exists, any status). */
  outcomeByQuarter: PairCount[];
  /** Days to first response (whole days, rounded down) per quarter: how many, their sum, and reports without one. */
  firstResponse: FirstResponse[];
};

/** Statements in flight at once: enough to use a few database cores, few enough to leave the pool to other requests. */
const CONCURRENT_STATEMENTS = 3;

/**
 * One row per report of one quarter: the triage fields, whether it was
 * referred, and whole days to first response (date_part, a double, rather
 * than extract, a numeric, for speed: the floor is the same for any interval
 * under millennia).
 */
function quarterOfReports(quarter: string): RawBuilder<unknown> {
  return sql`(
    select ${quarter}::date as quarter, r.categories, r.community, r.region, r.suspected_state, r.status, r.closing_outcome,
           r.referred,
           floor(date_part('epoch', r.first_response_at - r.submitted_at) / 86400)::int as first_response_days
      from reports r
     where r.state = 'submitted'
       and r.submitted_at >= ${quarter}::date
       and r.submitted_at < (${quarter}::date + interval '3 months')
  )`;
}

function archivedInPeriod(p: Period): RawBuilder<unknown> {
  return sql`(
    select a.quarter, a.categories, a.community, a.region, a.suspected_state, a.status, a.closing_outcome,
           a.referred, a.first_response_days
      from stats_archive a
     where a.quarter >= ${p.from}::date and a.quarter <= ${p.to}::date
  )`;
}

type Tally = { kind: string; row: string | null; col: string | null; n: number };

/**
 * Every count the tables need from `facts`, as (kind, row, col, n): one pass
 * (GROUPING SETS) over the facts, then the categories unnested over that
 * small result. A report with several categories counts once in each.
 */
function tally(facts: RawBuilder<unknown>): RawBuilder<Tally> {
  return sql<Tally>`
    with g as materialized (
      select grouping(f.categories) = 0 as by_category,
             f.quarter, f.categories, f.community, f.suspected_state, f.region, f.status, f.closing_outcome,
             count(*) as n,
             count(*) filter (where f.referred) as referred,
             count(f.first_response_days) as answered,
             coalesce(sum(f.first_response_days), 0) as day_sum
        from ${facts} f
       group by grouping sets ((f.quarter, f.categories, f.community, f.suspected_state),
                               (f.quarter, f.region, f.status, f.closing_outcome))
    )
    select case when grouping(category, quarter) = 0 then 'category-quarter'
                when grouping(category, community) = 0 then 'category-community'
                else 'state-category' end as kind,
           case when grouping(suspected_state) = 0 then suspected_state else category end as row,
           case when grouping(quarter) = 0 then to_char(quarter, 'YYYY-MM-DD')
                when grouping(community) = 0 then community
                else category end as col,
           sum(n) as n
      from g, unnest(g.categories) category
     where g.by_category
     group by grouping sets ((category, quarter), (category, community), (suspected_state, category))
    union all
    select 'region-quarter', region, to_char(quarter, 'YYYY-MM-DD'), sum(n) from g where not by_category group by 2, 3
    union all
    select 'outcome-quarter', case when status = 'closed' then 'closed:' || coalesce(closing_outcome, 'unknown') else status end,
           to_char(quarter, 'YYYY-MM-DD'), sum(n)
      from g where not by_category group by 2, 3
    union all
    select t.kind, to_char(g.quarter, 'YYYY-MM-DD'), null, sum(t.n)
      from g, lateral (values ('referred', g.referred), ('answered', g.answered), ('day-sum', g.day_sum), ('reports', g.n)) t(kind, n)
     where not g.by_category
     group by 1, 2`;
}

/**
 * Runs `statement` without JIT (compiling these plans costs more than it
 * saves, up to a second) and without parallel workers (the statements
 * already run side by side).
 */
function runAlone<T>(db: Db, statement: RawBuilder<T>): Promise<T[]> {
  return db.transaction().execute(async (trx) => {
    await sql`select set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)`.execute(trx);
    return (await statement.execute(trx)).rows;
  });
}

/** Like Promise.all(items.map(fn)), with at most `size` calls in flight. */
async function mapConcurrently<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  return out;
}

/** Sums (row, col) counts, keeping first-seen order. */
class Counts {
  private readonly map = new Map<string, PairCount>();
  add(row: string, col: string, n: number) {
    const key = `${row}\u0000${col}`;
    const c = this.map.get(key);
    if (c) c.n += n;
    else this.map.set(key, { row, col, n });
  }
  list(): PairCount[] {
    return [...this.map.values()];
  }
}

/** Every aggregate of the statistics tables for the quarters `quarters` (their first days, in `p`). */
export async function aggregates(db: Db, p: Period, quarters: string[]): Promise<Aggregates> {
  const statements = [...quarters.map((q) => tally(quarterOfReports(q))), tally(archivedInPeriod(p))];
  const results = await mapConcurrently(statements, CONCURRENT_STATEMENTS, (s) => runAlone(db, s));

  const byKind = new Map<string, Counts>();
  for (const rows of results) {
    for (const r of rows) {
      if (!byKind.has(r.kind)) byKind.set(r.kind, new Counts());
      byKind.get(r.kind)!.add(String(r.row), String(r.col), Number(r.n));
    }
  }
  const pairs = (kind: string) => byKind.get(kind)?.list() ?? [];
  const perQuarter = (kind: string) => new Map(pairs(kind).map((c) => [c.row, c.n]));
  const referred = perQuarter('referred');
  const answered = perQuarter('answered');
  const daySum = perQuarter('day-sum');
  const reports = perQuarter('reports');

  const outcomes = new Counts();
  for (const c of pairs('outcome-quarter')) outcomes.add(c.row, c.col, c.n);
  for (const [quarter, n] of referred) if (n > 0) outcomes.add('referred_to_police', quarter, n);

  return {
    categoryByQuarter: pairs('category-quarter'),
    categoryByCommunity: pairs('category-community'),
    regionByQuarter: pairs('region-quarter'),
    stateByCategory: pairs('state-category'),
    outcomeByQuarter: outcomes.list(),
    firstResponse: [...reports.keys()].sort().map((quarter) => ({
      quarter,
      answered: answered.get(quarter) ?? 0,
      daySum: daySum.get(quarter) ?? 0,
      unanswered: (reports.get(quarter) ?? 0) - (answered.get(quarter) ?? 0),
    })),
  };
}
