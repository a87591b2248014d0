import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

/**
 * Access to cases is granted only by an explicit confirmation from a
 * caseworker who holds the team key, never as a side effect of a page view.
 *
 * - users.access_requested_by / _at: an administrator's request that a
 *   caseworker confirm someone's access. Nothing is sealed by it.
 * - key_grants holds only sealed grants. The unsealed rows an
 *   administrator's approval used to leave (sealed by the next caseworker's
 *   page view) become requests, and sealed_secret / sealed_at become NOT
 *   NULL, so the database itself has no "waiting to be sealed" state.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('access_requested_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('access_requested_at', 'timestamptz')
    .execute();
  await sql`update users u set access_requested_by = g.approved_by, access_requested_at = g.approved_at
    from (select distinct on (user_id) user_id, approved_by, approved_at
            from key_grants where sealed_secret is null order by user_id, approved_at) g
    where g.user_id = u.id`.execute(db);
  await sql`delete from key_grants where sealed_secret is null`.execute(db);
  await sql`update key_grants set sealed_at = approved_at where sealed_at is null`.execute(db);
  await db.schema
    .alterTable('key_grants')
    .alterColumn('sealed_secret', (c) => c.setNotNull())
    .execute();
  await db.schema
    .alterTable('key_grants')
    .alterColumn('sealed_at', (c) => c.setNotNull())
    .execute();
}

/**
 * Down drops the request columns. It does not turn requests back into
 * unsealed grants: the code before this migration would seal those on the
 * next caseworker's page view, which is the fault this migration removes.
 */
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('key_grants')
    .alterColumn('sealed_at', (c) => c.dropNotNull())
    .execute();
  await db.schema
    .alterTable('key_grants')
    .alterColumn('sealed_secret', (c) => c.dropNotNull())
    .execute();
  await db.schema.alterTable('users').dropColumn('access_requested_at').dropColumn('access_requested_by').execute();
}
