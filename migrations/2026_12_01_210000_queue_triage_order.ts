import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

/**
 * The queue's default order (issue 11): urgent cases first, then overdue
 * ones, then the other open cases, each by how long the reporter has been
 * waiting, oldest first; closed cases last. "Waiting" is an expression of
 * the row alone:
 *
 * - idle: staff wrote last (the reporter has not written since the last
 *   staff message); a case nobody from staff has written to is never idle.
 * - key: when the reporter started waiting — since submission (or their
 *   first word, if earlier) when staff never wrote; since their last update
 *   when it came after the last staff message; for an idle case, the last
 *   staff message (quiet since then).
 *
 * Overdue depends on the clock, so it cannot be in an index; it does not
 * need to be: a waiting case is overdue for a reply exactly when its key is
 * older than the reply target, so those are the head of (idle, key, id) of
 * the open cases and the queue reads them as a range. Two small indexes in
 * the same order hold the rest it needs apart: the urgent open cases, and
 * the new ones (which are overdue past the triage target).
 * server/cases/queue-queries.ts writes the same expressions, so the planner
 * matches them.
 */
const IDLE = sql.raw(`(coalesce(reporter_updated_at <= last_staff_message_at, last_staff_message_at is not null))`);
const KEY = sql.raw(`(case when last_staff_message_at is null then least(created_at, reporter_updated_at)
  when reporter_updated_at > last_staff_message_at then reporter_updated_at
  else last_staff_message_at end)`);

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index reports_triage_open on reports (${IDLE}, ${KEY}, id)
    where state = 'submitted' and status <> 'closed'`.execute(db);
  await sql`create index reports_triage_urgent on reports (${IDLE}, ${KEY}, id)
    where state = 'submitted' and status <> 'closed' and urgent`.execute(db);
  await sql`create index reports_triage_new on reports (${IDLE}, ${KEY}, id)
    where state = 'submitted' and status = 'new' and not urgent`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('reports_triage_new').execute();
  await db.schema.dropIndex('reports_triage_urgent').execute();
  await db.schema.dropIndex('reports_triage_open').execute();
}
