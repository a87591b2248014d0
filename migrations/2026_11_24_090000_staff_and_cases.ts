import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('roles', sql`text[]`, (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('active', 'deactivated')`))
    // One Argon2id derivation per sign-in yields both the verifier (stored)
    // and the key that wraps the private key and the TOTP secret (never stored).
    .addColumn('password_salt', 'bytea', (c) => c.notNull())
    .addColumn('password_verifier', 'bytea', (c) => c.notNull())
    .addColumn('public_key', 'bytea', (c) => c.notNull())
    .addColumn('private_key_wrapped', 'bytea', (c) => c.notNull())
    .addColumn('totp_secret_wrapped', 'bytea')
    .addColumn('totp_last_step', 'bigint')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('password_changed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('deactivated_at', 'timestamptz')
    .execute();

  // P3: the team private key sealed to each approved caseworker's public key.
  // 'approved' rows without a seal wait for any signed-in caseworker to seal
  // them (an administrator who is not a caseworker can approve but holds no key).
  await db.schema
    .createTable('key_grants')
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('team_key_id', 'integer', (c) => c.notNull().references('team_keys.id').onDelete('cascade'))
    .addColumn('sealed_secret', 'bytea')
    .addColumn('approved_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('approved_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('sealed_at', 'timestamptz')
    .addPrimaryKeyConstraint('key_grants_pk', ['user_id', 'team_key_id'])
    .execute();

  await db.schema
    .createTable('invitations')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('token_hash', 'bytea', (c) => c.notNull().unique())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('roles', sql`text[]`, (c) => c.notNull())
    .addColumn('invited_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();

  await db.schema
    .alterTable('sessions')
    .addColumn('user_id', 'uuid', (c) => c.references('users.id').onDelete('cascade'))
    .execute();
  await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();

  // Case work on the reports table: plaintext workflow metadata only.
  await db.schema
    .alterTable('reports')
    .addColumn('assignee_id', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('labels', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('closing_outcome', 'text')
    .addColumn('restricted', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('triaged_at', 'timestamptz')
    .addColumn('closed_at', 'timestamptz')
    .addColumn('first_response_at', 'timestamptz')
    .addColumn('last_staff_message_at', 'timestamptz')
    .addColumn('staff_seen_at', 'timestamptz')
    .execute();
  // Queue indexes: keyset pages over (sort key, created_at, id) of submitted
  // reports stay under a few ms at 100,000 cases (bench/queue.js).
  await db.schema.createIndex('reports_queue').on('reports').columns(['state', 'created_at desc', 'id desc']).execute();
  await sql`create index reports_status_queue on reports (status, created_at desc, id desc) where state = 'submitted'`.execute(db);
  await sql`create index reports_urgent_queue on reports (urgent desc, created_at desc, id desc) where state = 'submitted'`.execute(db);
  await sql`create index reports_community_queue on reports (community, created_at desc, id desc) where state = 'submitted'`.execute(db);
  await sql`create index reports_region_queue on reports (region, created_at desc, id desc) where state = 'submitted'`.execute(db);
  await sql`create index reports_labels_list on reports (labels) where state = 'submitted' and labels <> '{}'`.execute(db);
  await db.schema.createIndex('reports_assignee').on('reports').columns(['assignee_id', 'created_at desc']).execute();
  await sql`create index reports_categories on reports using gin (categories)`.execute(db);
  await sql`create index reports_labels on reports using gin (labels)`.execute(db);

  await db.schema
    .createTable('case_notes')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('report_id', 'uuid', (c) => c.notNull().references('reports.id').onDelete('cascade'))
    .addColumn('author_id', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('body', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('case_notes_report').on('case_notes').columns(['report_id', 'created_at']).execute();

  await db.schema
    .createTable('case_links')
    .addColumn('report_id', 'uuid', (c) => c.notNull().references('reports.id').onDelete('cascade'))
    .addColumn('linked_id', 'uuid', (c) => c.notNull().references('reports.id').onDelete('cascade'))
    .addColumn('created_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('case_links_pk', ['report_id', 'linked_id'])
    .execute();

  await db.schema
    .createTable('referrals')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('report_id', 'uuid', (c) => c.notNull().references('reports.id').onDelete('cascade'))
    .addColumn('destination', 'text', (c) => c.notNull())
    .addColumn('referred_on', 'date', (c) => c.notNull())
    .addColumn('consent_override', 'boolean', (c) => c.notNull())
    // Encrypted JSON: crime reference number, override reason, chosen note ids.
    .addColumn('details', 'bytea', (c) => c.notNull())
    .addColumn('created_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('referrals_report').on('referrals').column('report_id').execute();

  await db.schema
    .alterTable('messages')
    .addColumn('author_id', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .execute();

  // Append-only, hash-chained audit log. seq has no gaps, so a deleted entry
  // shows; each hash covers the previous one, so an edited or inserted entry shows.
  await db.schema
    .createTable('audit_log')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('actor_id', 'uuid')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('case_id', 'uuid')
    .addColumn('subject_user_id', 'uuid')
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('prev_hash', 'bytea', (c) => c.notNull())
    .addColumn('hash', 'bytea', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_case').on('audit_log').columns(['case_id', 'seq']).execute();
  await db.schema.createIndex('audit_actor').on('audit_log').columns(['actor_id', 'seq']).execute();
  await db.schema.createIndex('audit_action').on('audit_log').columns(['action', 'seq']).execute();
  await sql`
    create function audit_log_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_log is append-only';
    end $$`.execute(db);
  await sql`
    create trigger audit_log_no_change before update or delete on audit_log
    for each row execute function audit_log_append_only()`.execute(db);
  await sql`
    create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function audit_log_append_only()`.execute(db);

  // Background jobs (team-key rotation) with a lease, so one instance runs each.
  await db.schema
    .createTable('jobs')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('running', 'done', 'failed')`))
    .addColumn('started_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('progress', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('jobs').execute();
  await sql`drop trigger audit_log_no_truncate on audit_log`.execute(db);
  await sql`drop trigger audit_log_no_change on audit_log`.execute(db);
  await sql`drop function audit_log_append_only()`.execute(db);
  await db.schema.dropTable('audit_log').execute();
  await db.schema.alterTable('messages').dropColumn('author_id').execute();
  await db.schema.dropTable('referrals').execute();
  await db.schema.dropTable('case_links').execute();
  await db.schema.dropTable('case_notes').execute();
  for (const index of [
    'reports_labels',
    'reports_categories',
    'reports_assignee',
    'reports_labels_list',
    'reports_region_queue',
    'reports_community_queue',
    'reports_urgent_queue',
    'reports_status_queue',
    'reports_queue',
  ]) {
    await db.schema.dropIndex(index).execute();
  }
  await db.schema
    .alterTable('reports')
    .dropColumn('assignee_id')
    .dropColumn('labels')
    .dropColumn('closing_outcome')
    .dropColumn('restricted')
    .dropColumn('triaged_at')
    .dropColumn('closed_at')
    .dropColumn('first_response_at')
    .dropColumn('last_staff_message_at')
    .dropColumn('staff_seen_at')
    .execute();
  await db.schema.dropIndex('sessions_user').execute();
  await db.schema.alterTable('sessions').dropColumn('user_id').execute();
  await db.schema.dropTable('invitations').execute();
  await db.schema.dropTable('key_grants').execute();
  await db.schema.dropTable('users').execute();
}
