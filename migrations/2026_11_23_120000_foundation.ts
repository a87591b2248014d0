import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // One row: the organisation and its public keys. Secret halves exist here
  // only sealed (to the recovery key now, to caseworkers later).
  await db.schema
    .createTable('installation')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('org_name', 'text', (c) => c.notNull())
    .addColumn('recovery_public_key', 'bytea', (c) => c.notNull())
    .addColumn('receipt_salt', 'bytea', (c) => c.notNull())
    .addColumn('csrf_secret', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('team_keys')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('public_key', 'bytea', (c) => c.notNull())
    .addColumn('secret_sealed_to_recovery', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('retired_at', 'timestamptz')
    .execute();

  // Configurable lists (regions, communities, suspected states). Reports keep
  // the code, so renaming or retiring a value never breaks an old report.
  await db.schema
    .createTable('list_items')
    .addColumn('list', 'text', (c) => c.notNull())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('labels', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('retired_at', 'timestamptz')
    .addPrimaryKeyConstraint('list_items_pk', ['list', 'code'])
    .execute();

  await db.schema
    .createTable('reports')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    // 'pending' while evidence streams in; never shown to staff, swept if abandoned.
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending', 'submitted')`))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('new'))
    // Plaintext triage fields (P1 allows exactly these):
    .addColumn('categories', sql`text[]`, (c) => c.notNull())
    .addColumn('urgent', 'boolean', (c) => c.notNull())
    .addColumn('community', 'text', (c) => c.notNull())
    .addColumn('region', 'text', (c) => c.notNull())
    .addColumn('suspected_state', 'text', (c) => c.notNull())
    .addColumn('incident_from', 'date')
    .addColumn('incident_to', 'date')
    // Keys: the data key sealed to the team key (P2), wrapped for the reporter (P5).
    .addColumn('team_key_id', 'integer', (c) => c.notNull().references('team_keys.id'))
    .addColumn('data_key_sealed', 'bytea', (c) => c.notNull())
    .addColumn('receipt_lookup', 'bytea', (c) => c.unique())
    .addColumn('data_key_wrapped', 'bytea')
    // Encrypted fields, each bound to (reports, id, field) (P8).
    .addColumn('narrative', 'bytea', (c) => c.notNull())
    .addColumn('details', 'bytea', (c) => c.notNull())
    .addColumn('contact', 'bytea')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('submitted_at', 'timestamptz')
    .addColumn('reporter_updated_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('reports_state_created').on('reports').columns(['state', 'created_at']).execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('report_id', 'uuid', (c) => c.notNull().references('reports.id').onDelete('cascade'))
    .addColumn('author', 'text', (c) => c.notNull().check(sql`author in ('reporter', 'staff')`))
    .addColumn('body', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('messages_report').on('messages').columns(['report_id', 'created_at']).execute();

  await db.schema
    .createTable('evidence')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('report_id', 'uuid', (c) => c.notNull().references('reports.id').onDelete('cascade'))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('uploading', 'complete')`))
    .addColumn('added_by', 'text', (c) => c.notNull().check(sql`added_by in ('reporter', 'staff')`))
    // Encrypted JSON: original name, detected type, size, what was stripped.
    .addColumn('meta', 'bytea')
    .addColumn('stream_header', 'bytea', (c) => c.notNull())
    .addColumn('chunk_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('evidence_report').on('evidence').column('report_id').execute();

  await db.schema
    .createTable('evidence_chunks')
    .addColumn('evidence_id', 'uuid', (c) => c.notNull().references('evidence.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('data', 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('evidence_chunks_pk', ['evidence_id', 'seq'])
    .execute();

  // Sessions (P9): the row holds a hash of the token and a payload encrypted
  // under a key derived from the token, which only the cookie carries.
  await db.schema
    .createTable('sessions')
    .addColumn('id_hash', 'bytea', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('reporter', 'staff')`))
    .addColumn('report_id', 'uuid', (c) => c.references('reports.id').onDelete('cascade'))
    .addColumn('payload', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_expires').on('sessions').column('expires_at').execute();

  // Rate limits shared by every instance; the layout is rate-limiter-flexible's.
  await db.schema
    .createTable('rate_limits')
    .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expire', 'bigint')
    .execute();

  // Daily random keys for hashing client IPs (P10). Old keys are deleted, so
  // yesterday's hashes can no longer be tested against candidate addresses.
  await db.schema
    .createTable('ip_hash_keys')
    .addColumn('day', 'date', (c) => c.primaryKey())
    .addColumn('key', 'bytea', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'ip_hash_keys',
    'rate_limits',
    'sessions',
    'evidence_chunks',
    'evidence',
    'messages',
    'reports',
    'list_items',
    'team_keys',
    'installation',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
