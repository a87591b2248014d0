import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

/**
 * Settings an administrator changes at /admin/settings without a deploy.
 * One row per setting that differs from its default (the defaults come from
 * the environment), so removing a row returns to the default.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'jsonb', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('settings').execute();
}
