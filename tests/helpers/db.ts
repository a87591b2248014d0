import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kysely } from 'kysely';
import pg from 'pg';
import { createDb, migrateToLatest, type Db, type DbTimeouts } from '../../server/db/index.js';

export type TestDb = {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** PGlite's data directory when on disk (for P1 file scans). */
  dataDir: string | null;
  schema: string | null;
  close(): Promise<void>;
};

export const onPostgres = Boolean(process.env['TEST_DATABASE_URL']);

/**
 * A fresh, migrated database for one test file: a new schema in
 * TEST_DATABASE_URL's database when set (real PostgreSQL), else a PGlite
 * (in memory, or in a temporary directory when `onDisk`).
 */
export async function createTestDb(opts: { onDisk?: boolean; migrate?: boolean; timeouts?: DbTimeouts } = {}): Promise<TestDb> {
  const url = process.env['TEST_DATABASE_URL'];
  if (url) {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    const db = await createDb({ kind: 'postgres', url, poolSize: 5, schema, ...(opts.timeouts ? { timeouts: opts.timeouts } : {}) });
    if (opts.migrate !== false) await withMigrationLock(() => migrateToLatest(db, schema));
    return {
      db,
      kind: 'postgres',
      dataDir: null,
      schema,
      // The schema itself is dropped when the whole run ends (tests/global-setup.ts).
      close: () => db.destroy(),
    };
  }
  const dataDir = opts.onDisk ? mkdtempSync(path.join(os.tmpdir(), 'harbour-test-')) : null;
  const loadDataDir = await pgliteTemplate(opts.migrate === false ? 'empty' : 'migrated');
  const db = await createDb({ kind: 'pglite', dataDir, loadDataDir, ...(opts.timeouts ? { timeouts: opts.timeouts } : {}) });
  if (opts.migrate !== false) await migrateToLatest(db); // a no-op on the template, kept as a check
  return {
    db,
    kind: 'pglite',
    dataDir,
    schema: null,
    async close() {
      await db.destroy();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Test files migrate their own schemas of one PostgreSQL database in
 * parallel, and Kysely's migrator first reads the catalog of every schema
 * (pg_get_serial_sequence on each table): a table that another file's
 * migration drops at that moment fails it with "relation … does not exist".
 * Every test that migrates holds this lock (a PostgreSQL advisory lock, so
 * it holds across workers); closing the session releases it. PGlite: one
 * database per file, nothing to share.
 */
export async function withMigrationLock<T>(migrate: () => Promise<T>): Promise<T> {
  const url = process.env['TEST_DATABASE_URL'];
  if (!url) return migrate();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock(4242001)');
    return await migrate();
  } finally {
    await client.end();
  }
}

/**
 * A PGlite cold start runs initdb (~4 s, much more on a busy 2-core machine);
 * loading a dump of a ready instance takes under a second. Two dumps are
 * kept in the temp folder: `empty` (initdb only, for the migration tests) and
 * `migrated` (every migration applied), keyed by the content of every
 * migration file and of this helper, so any change to a migration makes new
 * ones. tests/global-setup.ts makes both before the first file runs; a file
 * run on its own makes what is missing.
 */
export async function pgliteTemplate(kind: 'empty' | 'migrated'): Promise<Blob> {
  return new Blob([readFileSync(await pgliteTemplateFile(kind))]);
}

export async function pgliteTemplateFile(kind: 'empty' | 'migrated'): Promise<string> {
  const hash = createHash('sha256').update(readFileSync(new URL(import.meta.url)));
  const dir = new URL('../../migrations/', import.meta.url);
  for (const name of readdirSync(dir).sort()) hash.update(name).update(readFileSync(new URL(name, dir)));
  const key = hash.digest('hex').slice(0, 16);
  const file = path.join(os.tmpdir(), `harbour-pglite-${kind}-${key}.tar`);
  if (!existsSync(file)) {
    const { PGlite } = await import('@electric-sql/pglite');
    const { PGliteDialect } = await import('kysely-pglite-dialect');
    const client = await PGlite.create();
    const db = new Kysely<unknown>({ dialect: new PGliteDialect(client) });
    if (kind === 'migrated') await migrateToLatest(db);
    const dump = await client.dumpDataDir('none');
    await db.destroy();
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    renameSync(tmp, file); // atomic: parallel workers never read a half-written template
  }
  return file;
}
