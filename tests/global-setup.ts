import pg from 'pg';
import { pgliteTemplateFile } from './helpers/db.js';

/**
 * On PGlite, the two database templates (tests/helpers/db.ts) are made here,
 * once, before any file starts: otherwise the first files of a run each
 * build the same one at once, on a machine already short of cores.
 */
export async function setup(): Promise<void> {
  if (process.env['TEST_DATABASE_URL']) return;
  await pgliteTemplateFile('empty');
  await pgliteTemplateFile('migrated');
}

/**
 * On PostgreSQL each test file works in its own schema (tests/helpers/db.ts).
 * Those schemas are dropped here, once every file has finished, not as each
 * file ends: Kysely's migrator lists the tables of every schema, and a schema
 * dropped by one file while another file migrates made that migration fail
 * ("schema t_… does not exist").
 */
export async function teardown(): Promise<void> {
  const url = process.env['TEST_DATABASE_URL'];
  if (!url) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(`select nspname as name from pg_namespace where nspname ~ '^t_[0-9a-f]{12}$'`);
    for (const { name } of rows) await client.query(`drop schema if exists ${name} cascade`);
  } finally {
    await client.end();
  }
}
