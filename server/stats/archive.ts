import { sql } from 'kysely';
import type { Db } from '../db/index.js';

/**
 * Before retention deletes a case, its plaintext triage fields go to the
 * statistics archive (no id, no text, the quarter only), in the caller's
 * transaction, so published figures stay the same after the deletion.
 */
export async function archiveForStatistics(db: Db, reportId: string): Promise<void> {
  await sql`
    insert into stats_archive (quarter, categories, community, region, suspected_state, urgent, status, closing_outcome, referred, first_response_days)
    select date_trunc('quarter', r.submitted_at)::date, r.categories, r.community, r.region, r.suspected_state, r.urgent,
           r.status, r.closing_outcome, r.referred,
           case when r.first_response_at is null then null
                else floor(extract(epoch from (r.first_response_at - r.submitted_at)) / 86400)::int end
      from reports r
     where r.id = ${reportId} and r.state = 'submitted'`.execute(db);
}
