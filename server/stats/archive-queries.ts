import { sql } from 'kysely';
import { assertTransaction, type Db } from '../db/index.js';
import type { ReportRow } from '../db/schema.js';

/**
 * Before retention deletes a case, its plaintext triage fields go to the
 * statistics archive (no id, no text, the quarter only), in the caller's
 * transaction, so published figures stay the same after the deletion.
 */
const COLUMNS = sql`quarter, categories, community, region, suspected_state, urgent, status, closing_outcome, referred, first_response_days`;

/** What the archive keeps of a report `r`, in COLUMNS order: one definition for every writer. */
const ARCHIVED = sql`date_trunc('quarter', r.submitted_at)::date, r.categories, r.community, r.region, r.suspected_state, r.urgent,
           r.status, r.closing_outcome, r.referred,
           case when r.first_response_at is null then null
                else floor(extract(epoch from (r.first_response_at - r.submitted_at)) / 86400)::int end`;

export async function archiveForStatistics(db: Db, reportId: string): Promise<void> {
  assertTransaction(db); // archived with the deletion, or not at all
  await sql`
    insert into stats_archive (${COLUMNS})
    select ${ARCHIVED}
      from reports r
     where r.id = ${reportId} and r.state = 'submitted'`.execute(db);
}

/** The fields of a report that the archive reads. */
export type ArchivedFacts = Pick<
  ReportRow,
  'categories' | 'community' | 'region' | 'suspected_state' | 'urgent' | 'status' | 'closing_outcome' | 'referred'
> & { submitted_at: Date; first_response_at: Date | null };

/**
 * Archives reports that retention deleted before they were ever stored here:
 * the fictional past of `harbour seed --demo`. Each row is exactly what
 * archiveForStatistics writes for a report with these fields (the same
 * expressions, in the same session time zone).
 */
export async function archiveFactsForStatistics(db: Db, facts: readonly ArchivedFacts[]): Promise<void> {
  assertTransaction(db);
  const BATCH = 5000; // one JSON parameter per statement, a few MB at most
  for (let from = 0; from < facts.length; from += BATCH) {
    const json = JSON.stringify(facts.slice(from, from + BATCH));
    await sql`
      insert into stats_archive (${COLUMNS})
      select ${ARCHIVED}
        from jsonb_to_recordset(${json}::jsonb) as r(submitted_at timestamptz, categories text[], community text, region text,
             suspected_state text, urgent boolean, status text, closing_outcome text, referred boolean, first_response_at timestamptz)`.execute(db);
  }
}
