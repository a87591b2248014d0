import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

/**
 * Whether a live report has been referred, on the report itself, so the
 * statistics count referrals in the same index-only pass as every other
 * field. Counting them by joining referrals read the id index of every
 * report in the period in random heap order (bench/stats.js: 0.75 s of CPU
 * for two years of 1,000,000 reports, a third of the whole build).
 *
 * A trigger on referrals keeps it true exactly when a referral exists,
 * whoever writes them (the app, seeding, a restore). Plaintext, like the
 * referrals table it mirrors.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('reports')
    .addColumn('referred', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await sql`update reports r set referred = true where exists (select 1 from referrals f where f.report_id = r.id)`.execute(db);
  await sql`create function reports_referred_sync() returns trigger language plpgsql as $$
    begin
      if tg_op in ('UPDATE', 'DELETE') then
        update reports set referred = exists (select 1 from referrals f where f.report_id = old.report_id)
         where id = old.report_id;
      end if;
      if tg_op in ('INSERT', 'UPDATE') then
        update reports set referred = true where id = new.report_id and not referred;
      end if;
      return null;
    end $$`.execute(db);
  await sql`create trigger referrals_sync_reports after insert or update of report_id or delete on referrals
    for each row execute function reports_referred_sync()`.execute(db);

  await db.schema.dropIndex('reports_stats_facts').execute();
  await db.schema.dropIndex('reports_stats_by_id').execute();
  await sql`create index reports_stats_facts on reports (submitted_at)
    include (categories, community, region, suspected_state, status, closing_outcome, first_response_at, referred)
    where state = 'submitted'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('reports_stats_facts').execute();
  await sql`create index reports_stats_facts on reports (submitted_at)
    include (categories, community, region, suspected_state, status, closing_outcome, first_response_at)
    where state = 'submitted'`.execute(db);
  await sql`create index reports_stats_by_id on reports (id) include (submitted_at) where state = 'submitted'`.execute(db);
  await sql`drop trigger referrals_sync_reports on referrals`.execute(db);
  await sql`drop function reports_referred_sync()`.execute(db);
  await db.schema.alterTable('reports').dropColumn('referred').execute();
}
