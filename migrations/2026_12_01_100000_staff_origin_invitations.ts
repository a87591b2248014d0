import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

/**
 * Where each staff account came from, and one open invitation per address.
 *
 * - users.created_via / invited_by / invited_at: how the account came to
 *   exist, shown to whoever approves its access to cases. Backfilled from
 *   the audit log (staff.created via cli or setup; staff.invitation_accepted)
 *   and from the invitation last used for that address before the account
 *   was made (the old acceptance marked it used, then created the account).
 * - invitations.revoked_at and a partial unique index: at most one open
 *   (unused, unrevoked) invitation per address, so two links can never both
 *   create the account. Older duplicates are revoked, keeping the newest.
 *   The index includes expired invitations (now() cannot appear in an index
 *   predicate); a new invitation revokes an expired one like any other.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('created_via', 'text', (c) =>
      c
        .notNull()
        .defaultTo('unknown')
        .check(sql`created_via in ('setup', 'cli', 'invitation', 'seed', 'unknown')`),
    )
    .addColumn('invited_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('invited_at', 'timestamptz')
    .execute();
  await sql`update users u set created_via = a.details->>'via'
    from audit_log a
    where a.action = 'staff.created' and a.subject_user_id = u.id and a.details->>'via' in ('cli', 'setup')`.execute(db);
  await sql`update users u set created_via = 'invitation', invited_by = i.invited_by, invited_at = i.created_at
    from (select u2.id as user_id, inv.invited_by, inv.created_at
            from users u2
            cross join lateral (
              select invited_by, created_at from invitations
               where email = u2.email and used_at is not null and used_at <= u2.created_at
               order by used_at desc limit 1) inv) i
    where i.user_id = u.id
      and exists (select 1 from audit_log a where a.action = 'staff.invitation_accepted' and a.subject_user_id = u.id)`.execute(db);

  await db.schema.alterTable('invitations').addColumn('revoked_at', 'timestamptz').execute();
  await sql`update invitations i set revoked_at = now()
    where used_at is null and exists (
      select 1 from invitations j
       where j.email = i.email and j.used_at is null and (j.created_at, j.id) > (i.created_at, i.id))`.execute(db);
  await sql`create unique index invitations_one_open_per_email on invitations (email)
    where used_at is null and revoked_at is null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('invitations_one_open_per_email').execute();
  await db.schema.alterTable('invitations').dropColumn('revoked_at').execute();
  await db.schema.alterTable('users').dropColumn('invited_at').dropColumn('invited_by').dropColumn('created_via').execute();
}
