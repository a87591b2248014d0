import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

/**
 * Statistics read every submitted report of the chosen quarters (bench/stats.js:
 * two years of 1,000,000 reports). From these two indexes alone, without the
 * heap (about a kilobyte of ciphertext per row), they run as index-only scans:
 *
 * - reports_stats_facts: per quarter, every triage field the tables count.
 *   Same key and predicate as reports_stats, which it replaces.
 * - reports_stats_by_id: which referred reports fall in the period, merged
 *   in id order with referrals_report instead of hashing every referral.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('reports_stats').execute();
  await sql`create index reports_stats_facts on reports (submitted_at)
    include (categories, community, region, suspected_state, status, closing_outcome, first_response_at)
    where state = 'submitted'`.execute(db);
  await sql`create index reports_stats_by_id on reports (id) include (submitted_at) where state = 'submitted'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('reports_stats_by_id').execute();
  await db.schema.dropIndex('reports_stats_facts').execute();
  await sql`create index reports_stats on reports (submitted_at) where state = 'submitted'`.execute(db);
}
