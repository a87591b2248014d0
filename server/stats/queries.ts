import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db/index.js';

/**
 * The only SQL for statistics: aggregates over plaintext triage fields, from
 * live reports and from the archive that retention leaves behind (so deleting
 * a case does not change a published figure). No decryption (P6), no text.
 */
export type Period = { from: string; to: string }; // first days of the first and last quarter, inclusive

function facts(p: Period): RawBuilder<unknown> {
  return sql`(
    select date_trunc('quarter', r.submitted_at)::date as quarter, r.categories, r.community, r.region,
           r.suspected_state, r.urgent, r.status, r.closing_outcome,
           exists (select 1 from referrals f where f.report_id = r.id) as referred,
           case when r.first_response_at is null then null
                else floor(extract(epoch from (r.first_response_at - r.submitted_at)) / 86400)::int end as first_response_days
      from reports r
     where r.state = 'submitted'
       and r.submitted_at >= ${p.from}::date
       and r.submitted_at < (${p.to}::date + interval '3 months')
    union all
    select a.quarter, a.categories, a.community, a.region, a.suspected_state, a.urgent, a.status, a.closing_outcome,
           a.referred, a.first_response_days
      from stats_archive a
     where a.quarter >= ${p.from}::date and a.quarter <= ${p.to}::date
  )`;
}

export type PairCount = { row: string; col: string; n: number };

const pairs = async (db: Db, query: RawBuilder<PairCount>) =>
  (await query.execute(db)).rows.map((r) => ({ row: String(r.row), col: String(r.col), n: Number(r.n) }));


export function categoryByQuarter(db: Db, p: Period) {
  return pairs(db, sql<PairCount>`select c as row, to_char(f.quarter, 'YYYY-MM-DD') as col, count(*) as n
    from ${facts(p)} f, unnest(f.categories) c group by 1, 2`);
}

export function categoryByCommunity(db: Db, p: Period) {
  return pairs(db, sql<PairCount>`select c as row, f.community as col, count(*) as n
    from ${facts(p)} f, unnest(f.categories) c group by 1, 2`);
}

export function regionByQuarter(db: Db, p: Period) {
  return pairs(db, sql<PairCount>`select f.region as row, to_char(f.quarter, 'YYYY-MM-DD') as col, count(*) as n
    from ${facts(p)} f group by 1, 2`);
}

export function stateByCategory(db: Db, p: Period) {
  return pairs(db, sql<PairCount>`select f.suspected_state as row, c as col, count(*) as n
    from ${facts(p)} f, unnest(f.categories) c group by 1, 2`);
}

/** Status and referral outcome per quarter: the status (closed split by outcome), plus "referred to police". */
export function outcomeByQuarter(db: Db, p: Period) {
  return pairs(db, sql<PairCount>`select o as row, to_char(f.quarter, 'YYYY-MM-DD') as col, count(*) as n
    from ${facts(p)} f,
         unnest(array[case when f.status = 'closed' then 'closed:' || coalesce(f.closing_outcome, 'unknown') else f.status end]
                || case when f.referred then array['referred_to_police'] else array[]::text[] end) o
    group by 1, 2`);
}

/** Days to first response, per quarter: every value, for averages on bases of at least 25. */
export async function firstResponseDays(db: Db, p: Period): Promise<{ quarter: string; days: number[]; unanswered: number }[]> {
  const rows = (
    await sql<{ quarter: string; days: number[] | null; unanswered: number }>`select to_char(f.quarter, 'YYYY-MM-DD') as quarter,
        array_agg(f.first_response_days) filter (where f.first_response_days is not null) as days,
        count(*) filter (where f.first_response_days is null) as unanswered
      from ${facts(p)} f group by 1 order by 1`.execute(db)
  ).rows;
  return rows.map((r) => ({ quarter: r.quarter, days: (r.days ?? []).map(Number), unanswered: Number(r.unanswered) }));
}
