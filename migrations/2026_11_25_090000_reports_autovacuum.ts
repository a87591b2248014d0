import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

/**
 * Statistics read `reports` through two covering indexes (2026_11_24_220000)
 * and stay index-only only on pages the visibility map marks all-visible.
 * Every status change, assignment or first response updates a report and
 * clears its page's bit until the next vacuum. PostgreSQL's defaults wait
 * for 20% of the table to change (200,000 rows of a million) before
 * vacuuming, and meanwhile each statistics page view goes back to the heap
 * (about a kilobyte of ciphertext a row). Vacuum after 1% instead.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table reports set (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_insert_scale_factor = 0.01,
    autovacuum_analyze_scale_factor = 0.02
  )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table reports reset (
    autovacuum_vacuum_scale_factor,
    autovacuum_vacuum_insert_scale_factor,
    autovacuum_analyze_scale_factor
  )`.execute(db);
}
