import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

/**
 * The day's key for hashing client addresses no longer lives in the
 * database (P10): next to the hashes it let a copy of the database test
 * every IPv4 address in hours. It is now derived from a secret kept out of
 * the database (IP_HASH_SECRET) and the date. The per-client counts hashed
 * under the stored keys go with them: nothing could match them any more,
 * and a later copy should not hold them either. Per-account and global
 * counts stay.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('ip_hash_keys').execute();
  await sql`delete from rate_limits where key like 'submit:ip:%' or key like 'receipt:ip:%' or key like 'signin:ip:%'`.execute(db);
}

/** Back to the table of daily random keys (empty: the old code makes today's on first use). */
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('ip_hash_keys')
    .addColumn('day', 'date', (c) => c.primaryKey())
    .addColumn('key', 'bytea', (c) => c.notNull())
    .execute();
}
