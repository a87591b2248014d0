import path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { rootDir } from '../paths.js';
import { DatabaseUnavailableError } from './errors.js';

/**
 * The embedded PostgreSQL (PGlite) behind a worker thread (see
 * pglite-worker.mjs for why). The main thread keeps answering whatever the
 * database does; a statement that does not answer within `queryTimeoutMs`
 * (PGlite has no working statement_timeout: it cannot interrupt itself)
 * means the database is stuck, for instance on a full disk: the thread is
 * terminated, every waiting caller gets a DatabaseUnavailableError (a 503
 * page), and a new thread is started with backoff until PostgreSQL's crash
 * recovery succeeds (for instance once space is freed). An in-memory
 * database cannot be recovered that way; it stays failed.
 */
export type EmbeddedOptions = {
  dataDir: string | null;
  template?: Blob;
  /** fsync on, so a committed report survives a power cut (default for a data directory). */
  durable?: boolean;
  queryTimeoutMs?: number;
  onEvent?: (event: 'stuck' | 'restarted' | 'restart_failed' | 'worker_error', detail?: unknown) => void;
};

type Pending = { resolve(r: QueryResult<unknown>): void; reject(e: Error): void; timer: NodeJS.Timeout | null };
type Reply = { id: number; rows?: unknown[]; affectedRows?: number; error?: { message: string; code?: string; name?: string } };

const WORKER_FILE = path.join(rootDir, 'server', 'db', 'pglite-worker.mjs');
const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000, 15_000];

export class EmbeddedDatabase {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private template: ArrayBuffer | undefined;
  private closing = false;
  private restarting: Promise<void> | null = null;
  /** Bumped at every restart: a transaction begun on an earlier thread must not continue on a new one. */
  generation = 0;
  queryTimeoutMs: number;

  private constructor(private readonly opts: EmbeddedOptions) {
    this.queryTimeoutMs = opts.queryTimeoutMs ?? 60_000;
  }

  static async open(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
    const db = new EmbeddedDatabase(opts);
    db.template = opts.template ? await opts.template.arrayBuffer() : undefined;
    await db.start();
    return db;
  }

  get available(): boolean {
    return this.worker !== null && !this.restarting && !this.closing;
  }

  private start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(WORKER_FILE, {
        workerData: { dataDir: this.opts.dataDir, template: this.template, durable: this.opts.durable ?? Boolean(this.opts.dataDir) },
      });
      let started = false;
      worker.on('message', (msg: Reply & { op?: string; error?: { message: string } }) => {
        if (msg.op === 'ready') {
          started = true;
          this.worker = worker;
          this.template = undefined; // loaded once; a restart resumes from the files
          return resolve();
        }
        if (msg.op === 'failed') return reject(new DatabaseUnavailableError(`the embedded database did not start: ${msg.error?.message ?? ''}`));
        if (msg.op === 'closed') return;
        this.settle(msg);
      });
      worker.on('error', (err) => {
        if (!started) return reject(new DatabaseUnavailableError(`the embedded database did not start: ${err.message}`));
        this.opts.onEvent?.('worker_error', err);
        void this.recover('the embedded database stopped');
      });
      worker.on('exit', () => {
        if (!started) return reject(new DatabaseUnavailableError('the embedded database did not start'));
        if (this.worker === worker && !this.closing) void this.recover('the embedded database stopped');
      });
    });
  }

  private settle(msg: Reply): void {
    const p = this.pending.get(msg.id);
    if (!p) return; // answered after a time-out: the caller has its error already
    this.pending.delete(msg.id);
    if (p.timer) clearTimeout(p.timer);
    if (msg.error) {
      const err = Object.assign(new Error(msg.error.message), msg.error);
      err.name = msg.error.name ?? 'DatabaseError';
      p.reject(err);
    } else {
      p.resolve({ rows: msg.rows ?? [], numAffectedRows: BigInt(msg.affectedRows ?? 0) });
    }
  }

  query(sql: string, parameters: readonly unknown[], generation = this.generation): Promise<QueryResult<unknown>> {
    if (this.closing) return Promise.reject(new DatabaseUnavailableError('the embedded database is closing'));
    if (!this.worker || this.restarting || generation !== this.generation) {
      return Promise.reject(new DatabaseUnavailableError('the embedded database is restarting'));
    }
    const worker = this.worker;
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer =
        this.queryTimeoutMs > 0
          ? setTimeout(() => {
              this.opts.onEvent?.('stuck');
              void this.recover('the embedded database did not answer in time');
            }, this.queryTimeoutMs)
          : null;
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ op: 'query', id, sql, params: parameters });
    });
  }

  /** fsync calls that reached the disk (for the durability test). */
  async fsyncCount(): Promise<number> {
    const worker = this.worker;
    if (!worker) throw new DatabaseUnavailableError('the embedded database is restarting');
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: (r) => resolve((r.rows[0] as { fsyncs: number }).fsyncs), reject, timer: null });
      worker.postMessage({ op: 'fsyncs', id });
    });
  }

  private failPending(reason: string): void {
    for (const [id, p] of this.pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new DatabaseUnavailableError(reason));
      this.pending.delete(id);
    }
  }

  /** Ends a stuck or crashed thread and starts a new one, with backoff, until one starts. */
  private recover(reason: string): Promise<void> {
    if (this.restarting || this.closing) return this.restarting ?? Promise.resolve();
    this.generation++;
    const old = this.worker;
    this.worker = null;
    this.failPending(reason);
    this.restarting = (async () => {
      await old?.terminate();
      if (!this.opts.dataDir) {
        this.opts.onEvent?.('restart_failed', 'an in-memory database cannot be recovered');
        return; // stays unavailable
      }
      for (let attempt = 0; !this.closing; attempt++) {
        await new Promise((r) => setTimeout(r, BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]).unref());
        if (this.closing) return;
        try {
          await this.start();
          this.opts.onEvent?.('restarted');
          return;
        } catch (err) {
          this.opts.onEvent?.('restart_failed', err);
        }
      }
    })().finally(() => {
      this.restarting = null;
    });
    return this.restarting;
  }

  async close(graceMs = 5000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.failPending('the embedded database is closing');
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    // A clean close writes a checkpoint; a stuck thread is simply ended
    // (the next start recovers from the write-ahead log).
    const closed = new Promise<void>((resolve) => {
      worker.on('message', (m: { op?: string }) => m.op === 'closed' && resolve());
      worker.once('exit', () => resolve());
    });
    worker.postMessage({ op: 'close' });
    const timer = setTimeout(() => void worker.terminate(), graceMs);
    await closed;
    clearTimeout(timer);
    await worker.terminate();
  }
}

/**
 * Kysely over the embedded database: one connection at a time, as PGlite is
 * one session (after kysely-pglite-dialect's driver, MIT), and each
 * connection remembers the thread it began on.
 */
class EmbeddedConnection implements DatabaseConnection {
  readonly generation: number;
  constructor(readonly db: EmbeddedDatabase) {
    this.generation = db.generation;
  }
  executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    return this.db.query(q.sql, q.parameters, this.generation) as Promise<QueryResult<R>>;
  }
  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported by the embedded database');
  }
}

class EmbeddedDriver implements Driver {
  private current: EmbeddedConnection | null = null;
  private readonly queue: ((c: EmbeddedConnection) => void)[] = [];
  constructor(private readonly db: EmbeddedDatabase) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.current) return new Promise((resolve) => this.queue.push(resolve));
    this.current = new EmbeddedConnection(this.db);
    return this.current;
  }
  async releaseConnection(): Promise<void> {
    const next = this.queue.shift();
    if (!next) {
      this.current = null;
      return;
    }
    this.current = new EmbeddedConnection(this.db); // a fresh generation for the next holder
    next(this.current);
  }
  async beginTransaction(conn: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const begin = settings.isolationLevel ? `start transaction isolation level ${settings.isolationLevel}` : 'begin';
    await conn.executeQuery(CompiledQuery.raw(begin));
  }
  async commitTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('commit'));
  }
  async rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('rollback'));
  }
  async destroy(): Promise<void> {
    await this.db.close();
  }
}

export class EmbeddedDialect implements Dialect {
  constructor(private readonly db: EmbeddedDatabase) {}
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new EmbeddedDriver(this.db);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
}
