import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import { migrations } from '../../migrations/index.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

// bigint (int8) columns such as rate_limits.expire come back as strings by
// default; counts and millisecond timestamps fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
// Dates (incident months) stay 'YYYY-MM-DD' strings: no time zone to shift them.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);
const PGLITE_PARSERS = { [pg.types.builtins.DATE]: (v: string) => v, [pg.types.builtins.INT8]: (v: string) => Number(v) };

export type DbTarget =
  | { kind: 'postgres'; url: string; poolSize?: number; schema?: string }
  | { kind: 'pglite'; dataDir: string | null; loadDataDir?: Blob };

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
  // Loaded only for the embedded database, so a PostgreSQL deployment never pays for it.
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  let client: InstanceType<typeof PGlite>;
  if (target.dataDir) {
    mkdirSync(target.dataDir, { recursive: true, mode: 0o700 });
    client = await PGlite.create(path.join(target.dataDir, 'pgdata'), { parsers: PGLITE_PARSERS, loadDataDir: target.loadDataDir });
  } else {
    client = await PGlite.create({ parsers: PGLITE_PARSERS, loadDataDir: target.loadDataDir });
  }
  return new Kysely<Database>({ dialect: new PGliteDialect(client) });
}

/**
 * `schema` is for tests that isolate themselves in a schema of a shared
 * database: Kysely otherwise finds another schema's migration table and
 * skips creating its own.
 */
export function createMigrator(db: Kysely<any>, schema?: string): Migrator {
  return new Migrator({
    db,
    ...(schema ? { migrationTableSchema: schema } : {}),
    provider: { getMigrations: async () => migrations },
  });
}

export async function migrateToLatest(db: Kysely<any>, schema?: string): Promise<string[]> {
  const { error, results } = await createMigrator(db, schema).migrateToLatest();
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
