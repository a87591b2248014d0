import { mkdirSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { FileMigrationProvider, Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import type { Config } from '../config.js';
import { migrationsDir } from '../paths.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

// bigint (int8) columns such as rate_limits.expire come back as strings by
// default; counts and millisecond timestamps fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type DbTarget =
  | { kind: 'postgres'; url: string; poolSize?: number; schema?: string }
  | { kind: 'pglite'; dataDir: string | null };

export function dbTargetFromConfig(config: Config): DbTarget {
  return config.databaseUrl
    ? { kind: 'postgres', url: config.databaseUrl, poolSize: config.databasePoolSize }
    : { kind: 'pglite', dataDir: config.dataDir };
}

/** Opens PostgreSQL when a URL is given, else the embedded PGlite (in memory when dataDir is null). */
export async function createDb(target: DbTarget): Promise<Db> {
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: target.poolSize ?? 10,
      // A search_path per test file isolates parallel test runs in one database.
      ...(target.schema ? { options: `-c search_path=${target.schema}` } : {}),
    });
    // An idle client that errors (server restart) must not crash the process.
    pool.on('error', () => undefined);
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  let client: PGlite;
  if (target.dataDir) {
    mkdirSync(target.dataDir, { recursive: true, mode: 0o700 });
    client = await PGlite.create(path.join(target.dataDir, 'pgdata'));
  } else {
    client = await PGlite.create();
  }
  return new Kysely<Database>({ dialect: new PGliteDialect(client) });
}

export function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: migrationsDir }),
  });
}

export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const { error, results } = await createMigrator(db).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export async function ping(db: Db): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
