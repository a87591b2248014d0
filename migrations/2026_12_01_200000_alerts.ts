import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

/**
 * Alerts to staff by e-mail (issue 11). An alert is written to `mail_outbox`
 * in the same transaction as the event that causes it, one row per
 * recipient, and a worker in every instance sends the rows that are due,
 * each claimed by exactly one instance (FOR UPDATE SKIP LOCKED, then a
 * lease). A row never holds anything a reporter typed: only the kind, the
 * recipient and delivery bookkeeping.
 *
 * Each staff member's choice of timing lives on `users`; the last sign-in
 * time lets the worker stop mailing someone who has not read the last alert.
 * `mail_digests` and `mail_overdue` make the daily digest and each overdue
 * alert happen once across all instances (an INSERT that only one wins).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('last_signed_in_at', 'timestamptz')
    .addColumn('alert_urgent', 'text', (c) =>
      c
        .notNull()
        .defaultTo('now')
        .check(sql`alert_urgent in ('now', 'with_others')`),
    )
    .addColumn('alert_others', 'text', (c) =>
      c
        .notNull()
        .defaultTo('digest')
        .check(sql`alert_others in ('now', 'batched', 'digest')`),
    )
    .addColumn('alert_batch_minutes', 'integer', (c) =>
      c
        .notNull()
        .defaultTo(60)
        .check(sql`alert_batch_minutes between 5 and 1440`),
    )
    .addColumn('alert_pgp_key', 'text')
    .addColumn('alert_pgp_fingerprint', 'text')
    .execute();

  await db.schema
    .createTable('mail_outbox')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) =>
      c.notNull().check(sql`kind in ('new_report', 'urgent_report', 'case_activity', 'case_overdue', 'digest', 'batch')`),
    )
    .addColumn('state', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`state in ('pending', 'sending', 'sent', 'failed')`),
    )
    .addColumn('due_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // When it was first due: retries give up 24 hours after this (a batch is written long before it is due).
    .addColumn('first_due_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('lease_until', 'timestamptz')
    .addColumn('claim', 'uuid')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('sent_at', 'timestamptz')
    .execute();
  await sql`create index mail_outbox_due on mail_outbox (due_at) where state in ('pending', 'sending')`.execute(db);
  await sql`create index mail_outbox_user_kind on mail_outbox (user_id, kind, created_at)`.execute(db);
  // At most one row per person and kind waiting or being sent: later events join it (a batch), or
  // find it (two reports filed at the same moment write one alert, not two).
  await sql`create unique index mail_outbox_one_waiting on mail_outbox (user_id, kind) where state in ('pending', 'sending')`.execute(db);

  await db.schema
    .createTable('mail_digests')
    .addColumn('day', 'date', (c) => c.primaryKey())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('mail_overdue')
    .addColumn('report_id', 'uuid', (c) => c.notNull().references('reports.id').onDelete('cascade'))
    .addColumn('due_since', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('mail_overdue_pk', ['report_id', 'due_since'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('mail_overdue').execute();
  await db.schema.dropTable('mail_digests').execute();
  await db.schema.dropTable('mail_outbox').execute();
  await db.schema
    .alterTable('users')
    .dropColumn('alert_pgp_fingerprint')
    .dropColumn('alert_pgp_key')
    .dropColumn('alert_batch_minutes')
    .dropColumn('alert_others')
    .dropColumn('alert_urgent')
    .dropColumn('last_signed_in_at')
    .execute();
}
