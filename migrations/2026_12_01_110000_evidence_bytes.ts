import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

/**
 * The evidence bytes each report holds, on the report itself, so an upload
 * reserves its bytes with one conditional UPDATE before storing them
 * (`evidence_bytes + n <= limit`). Summing the stored chunks and then
 * inserting let parallel uploads each see the same remaining allowance and
 * together pass the per-report limit.
 *
 * Counts ciphertext bytes (what the chunks hold), like the sum it replaces.
 * Backfilled from the chunks already stored, whatever their file's state:
 * every chunk in the table is counted until its row is deleted.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('reports')
    .addColumn('evidence_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`update reports r set evidence_bytes = s.bytes
    from (select e.report_id, sum(octet_length(c.data)) as bytes
            from evidence e join evidence_chunks c on c.evidence_id = e.id
           group by e.report_id) s
   where r.id = s.report_id`.execute(db);
  await sql`alter table reports add constraint reports_evidence_bytes_not_negative check (evidence_bytes >= 0)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('reports').dropColumn('evidence_bytes').execute();
}
