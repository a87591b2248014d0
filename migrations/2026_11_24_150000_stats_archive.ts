import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

/**
 * When retention deletes a case, its plaintext triage fields are kept here
 * (and nothing else: no id, no text, no date finer than a quarter), so the
 * published statistics do not change when a case is deleted.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('stats_archive')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('quarter', 'date', (c) => c.notNull().check(sql`extract(day from quarter) = 1 and extract(month from quarter) in (1, 4, 7, 10)`))
    .addColumn('categories', sql`text[]`, (c) => c.notNull())
    .addColumn('community', 'text', (c) => c.notNull())
    .addColumn('region', 'text', (c) => c.notNull())
    .addColumn('suspected_state', 'text', (c) => c.notNull())
    .addColumn('urgent', 'boolean', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('closing_outcome', 'text')
    .addColumn('referred', 'boolean', (c) => c.notNull())
    .addColumn('first_response_days', 'integer')
    .execute();
  await db.schema.createIndex('stats_archive_quarter').on('stats_archive').column('quarter').execute();
  await sql`create index reports_stats on reports (submitted_at) where state = 'submitted'`.execute(db);
  // Retention: a caseworker may keep a closed case past the retention period until this date.
  await db.schema.alterTable('reports').addColumn('retain_until', 'timestamptz').execute();
  await sql`create index reports_retention on reports (closed_at) where status = 'closed'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('reports_retention').execute();
  await db.schema.alterTable('reports').dropColumn('retain_until').execute();
  await db.schema.dropIndex('reports_stats').execute();
  await db.schema.dropTable('stats_archive').execute();
}
