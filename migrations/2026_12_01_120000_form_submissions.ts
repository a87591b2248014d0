import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

/**
 * One submission per report form (a double click, a retry after a slow
 * answer). Each form carries a random key; a row here is found by a hash of
 * it, and once the report is filed it holds the report and the receipt
 * encrypted under a key derived from the form's key, which only that page
 * has, so the repeat shows the same receipt instead of filing a second
 * report. Rows live for hours, not days (housekeeping), and lose the receipt
 * as soon as the reporter has typed it back.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('form_submissions')
    .addColumn('key_hash', 'bytea', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('sending', 'sent')`))
    .addColumn('report_id', 'uuid', (c) => c.references('reports.id').onDelete('cascade'))
    .addColumn('receipt_sealed', 'bytea')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('form_submissions_created').on('form_submissions').column('created_at').execute();
  await db.schema.createIndex('form_submissions_report').on('form_submissions').column('report_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('form_submissions').execute();
}
