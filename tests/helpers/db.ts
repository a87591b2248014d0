import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDb, migrateToLatest, type Db } from '../../server/db/index.js';

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
export async function createTestDb(opts: { onDisk?: boolean; migrate?: boolean } = {}): Promise<TestDb> {
  const url = process.env['TEST_DATABASE_URL'];
  if (url) {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    const db = await createDb({ kind: 'postgres', url, poolSize: 5, schema });
    if (opts.migrate !== false) await migrateToLatest(db, schema);
    return {
      db,
      kind: 'postgres',
      dataDir: null,
      schema,
      async close() {
        await db.destroy();
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        await c.query(`drop schema ${schema} cascade`);
        await c.end();
      },
    };
  }
  const dataDir = opts.onDisk ? mkdtempSync(path.join(os.tmpdir(), 'harbour-test-')) : null;
  const db = await createDb({ kind: 'pglite', dataDir });
  if (opts.migrate !== false) await migrateToLatest(db);
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
