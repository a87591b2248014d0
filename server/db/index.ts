import path from 'node:path';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import { migrations } from '../../migrations/index.js';
import type { Database } from './schema.js';
import { EmbeddedDatabase, EmbeddedDialect, type EmbeddedOptions } from './embedded.js';

export type Db = Kysely<Database>;
/** A Db that is inside a transaction (see assertTransaction). */
export type Trx = Db;

/**
 * For functions whose writes only make sense together with the caller's
 * other writes: the caller owns the transaction, and the function refuses to
 * run outside one, so a forgotten transaction fails at once in every test
 * instead of half-writing in production one day.
 */
export function assertTransaction(db: Db): asserts db is Trx {
  if (!db.isTransaction) throw new Error("this must run inside the caller's transaction");
}

// bigint (int8) columns such as rate_limits.expire come back as strings by
// default; counts and millisecond timestamps fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
// Dates (incident months) stay 'YYYY-MM-DD' strings: no time zone to shift them.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

/** Time limits on the database, so that a lost or locked database is an error page in seconds, never a hang. */
export type DbTimeouts = {
  /** Waiting for a free connection from the pool. */
  acquireMs: number;
  /** One statement (PostgreSQL statement_timeout; for the embedded database, the time after which it is restarted). */
  statementMs: number;
  /** Waiting for a row or table lock (PostgreSQL lock_timeout). */
  lockMs: number;
};

export type DbTarget =
  | { kind: 'postgres'; url: string; poolSize?: number; schema?: string; timeouts?: DbTimeouts; onError?: (err: Error) => void }
  | { kind: 'pglite'; dataDir: string | null; loadDataDir?: Blob; timeouts?: DbTimeouts; onEvent?: EmbeddedOptions['onEvent'] };

export function dbTimeoutsFromConfig(config: Config): DbTimeouts {
  return { acquireMs: config.database.acquireTimeoutMs, statementMs: config.database.statementTimeoutMs, lockMs: config.database.lockTimeoutMs };
}

export function dbTargetFromConfig(
  config: Config,
  opts: { timeouts?: boolean; onError?: (err: Error) => void; onEvent?: EmbeddedOptions['onEvent'] } = {},
): DbTarget {
  const timeouts = opts.timeouts ? { timeouts: dbTimeoutsFromConfig(config) } : {};
  return config.databaseUrl
    ? {
        kind: 'postgres',
        url: config.databaseUrl,
        poolSize: config.databasePoolSize,
        ...timeouts,
        ...(opts.onError ? { onError: opts.onError } : {}),
      }
    : { kind: 'pglite', dataDir: path.join(config.dataDir, 'pgdata'), ...timeouts, ...(opts.onEvent ? { onEvent: opts.onEvent } : {}) };
}

/**
 * Opens PostgreSQL when a URL is given, else the embedded PGlite in a worker
 * thread (in memory when dataDir is null). The caller of an embedded data
 * directory holds its lock (lock.ts).
 */
export async function createDb(target: DbTarget): Promise<Db> {
  if (target.kind === 'postgres') {
    const t = target.timeouts;
    const settings = [
      // A search_path per test file isolates parallel test runs in one database.
      ...(target.schema ? [`-c search_path=${target.schema}`] : []),
      ...(t
        ? [
            `-c statement_timeout=${t.statementMs}`,
            `-c lock_timeout=${t.lockMs}`,
            `-c idle_in_transaction_session_timeout=${Math.max(60_000, t.statementMs * 4)}`,
          ]
        : []),
    ];
    const pool = new pg.Pool({
      connectionString: target.url,
      max: target.poolSize ?? 10,
      application_name: target.schema ? `harbour ${target.schema}` : 'harbour',
      ...(settings.length ? { options: settings.join(' ') } : {}),
      ...(t ? { connectionTimeoutMillis: t.acquireMs, query_timeout: t.statementMs + 5000, keepAlive: true } : {}),
    });
    const onError = (err: Error) => target.onError?.(err);
    // An idle client that errors (a server restart, pg_terminate_backend) is
    // reported on the pool; a client that is checked out has no listener of
    // its own (pg-pool removes the idle one), and an 'error' event without a
    // listener ends the process. Every client gets one for its whole life;
    // the query it was running fails and pg-pool discards the client.
    pool.on('error', onError);
    pool.on('connect', (client) => client.on('error', onError));
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  const embedded = await EmbeddedDatabase.open({
    dataDir: target.dataDir,
    ...(target.loadDataDir ? { template: target.loadDataDir } : {}),
    queryTimeoutMs: target.timeouts?.statementMs ?? 0,
    ...(target.onEvent ? { onEvent: target.onEvent } : {}),
  });
  const db = new Kysely<Database>({ dialect: new EmbeddedDialect(embedded) });
  embeddedHandles.set(db, embedded);
  return db;
}

const embeddedHandles = new WeakMap<Db, EmbeddedDatabase>();

/** The embedded database behind a Kysely handle, or null for PostgreSQL. */
export function embeddedDatabase(db: Db): EmbeddedDatabase | null {
  return embeddedHandles.get(db) ?? null;
}

/**
 * `schema` is for tests that isolate themselves in a schema of a shared
 * database: Kysely otherwise finds another schema's migration table and
 * skips creating its own.
 */
// Kysely<any>: migrations are frozen in time and never see the app's schema types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function createMigrator(db: Kysely<any>, schema?: string): Migrator {
  return new Migrator({
    db,
    ...(schema ? { migrationTableSchema: schema } : {}),
    provider: { getMigrations: async () => migrations },
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as createMigrator
export async function migrateToLatest(db: Kysely<any>, schema?: string): Promise<string[]> {
  const { error, results } = await createMigrator(db, schema).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Whether the database answers a trivial statement within `withinMs`. */
export async function ping(db: Db, withinMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), withinMs);
  });
  try {
    return await Promise.race([
      sql`select 1`.execute(db).then(
        () => true,
        () => false,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
