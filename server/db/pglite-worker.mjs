// The embedded PostgreSQL (PGlite), in a worker thread of its own.
//
// Why a thread: PGlite runs PostgreSQL compiled to WebAssembly, and it runs
// each statement synchronously on the thread that calls it. In the main
// thread a long statement stalls every page, and when the disk fills PGlite
// spins for ever (reproduced with PGlite alone): nothing answers, not even
// /healthz, and SIGTERM is never handled. Here, the main thread stays free,
// can time a statement out, terminate this thread and start a new one, which
// recovers from the write-ahead log like a restarted PostgreSQL.
//
// Why plain JavaScript: the test runner loads the server from TypeScript
// sources, and a worker thread cannot start from a .ts file; this file runs
// unchanged under Node, the compiled server and the tests.
//
// Protocol (messages from the main thread, see embedded.ts):
//   { op: 'query', id, sql, params }  →  { id, rows, affectedRows } | { id, error }
//   { op: 'close' }                   →  { op: 'closed' }
// and at start { op: 'ready' } or { op: 'failed', error }.
import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';

const INT8 = 20;
const DATE = 1082;
// bigint counts and millisecond timestamps fit in a double; dates stay
// 'YYYY-MM-DD' strings (no time zone to shift them) — as for pg in index.ts.
const parsers = { [INT8]: (v) => Number(v), [DATE]: (v) => v };

/**
 * PGlite starts PostgreSQL with fsync off (-F), and its Node filesystem
 * ignores fsync anyway (Emscripten's NODEFS has no fsync; fdatasync is a
 * no-op): a power cut could lose reports whose receipts were shown. Here
 * fsync is on, WAL is synced with fsync (the one call that reaches the
 * filesystem's stream operations) and that operation calls the kernel's fsync
 * on the real file, or on the directory for a directory.
 */
class DurableNodeFS extends NodeFS {
  async init(pg, opts) {
    const result = await super.init(pg, opts);
    const patch = (mod) => {
      const nodefs = mod.FS.filesystems.NODEFS;
      nodefs.stream_ops.fsync = (stream) =>
        nodefs.tryFSOperation(() => {
          if (stream.nfd !== undefined) {
            fs.fsyncSync(stream.nfd);
          } else {
            const fd = fs.openSync(nodefs.realPath(stream.node), 'r');
            try {
              fs.fsyncSync(fd);
            } finally {
              fs.closeSync(fd);
            }
          }
          fsyncs++;
          return 0;
        });
    };
    result.emscriptenOpts.preRun = [...(result.emscriptenOpts.preRun ?? []), patch];
    return result;
  }
}
let fsyncs = 0;

const DURABLE_PARAMS = [
  ...PGlite.defaultStartParams.filter((p) => p !== '-F'),
  '-c',
  'fsync=on',
  '-c',
  'synchronous_commit=on',
  '-c',
  'wal_sync_method=fsync',
];

function errorOf(err) {
  const out = { message: err instanceof Error ? err.message : String(err), name: err?.name ?? 'Error' };
  // pg-protocol's DatabaseError fields (code, constraint, …): callers test err.code.
  for (const key of ['code', 'severity', 'detail', 'hint', 'constraint', 'table', 'column', 'schema', 'routine']) {
    if (err && typeof err[key] === 'string') out[key] = err[key];
  }
  return out;
}

const create = (dir, durable, loadDataDir) =>
  PGlite.create({ dataDir: dir, parsers, loadDataDir, ...(durable ? { fs: new DurableNodeFS(dir), startParams: DURABLE_PARAMS } : {}) });

/**
 * A new database is made beside its final place and moved there once
 * complete: a first start stopped halfway (Ctrl-C, a restart by a file
 * watcher) would otherwise leave a half-made cluster that never opens.
 */
async function open() {
  const { dataDir, template, durable } = workerData;
  const loadDataDir = template ? new Blob([template]) : undefined;
  if (!dataDir) return PGlite.create({ parsers, loadDataDir });
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0) {
      throw new Error(`${dataDir} is not empty and holds no database: move it away, or point DATA_DIR elsewhere`);
    }
    const making = `${dataDir}.new`;
    fs.rmSync(making, { recursive: true, force: true }); // an earlier attempt that did not finish
    const fresh = await create(making, durable, loadDataDir);
    await fresh.close();
    fs.rmSync(dataDir, { recursive: true, force: true }); // empty
    fs.renameSync(making, dataDir);
    if (durable) fsyncDir(path.dirname(dataDir));
    return create(dataDir, durable, undefined);
  }
  return create(dataDir, durable, undefined);
}

/** Makes a rename in a directory durable. */
function fsyncDir(dir) {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

let pg;
try {
  pg = await open();
} catch (err) {
  parentPort.postMessage({ op: 'failed', error: errorOf(err) });
  process.exit(1);
}

parentPort.on('message', async (msg) => {
  if (msg.op === 'close') {
    try {
      await pg.close();
    } finally {
      parentPort.postMessage({ op: 'closed' });
    }
    return;
  }
  if (msg.op === 'fsyncs') {
    parentPort.postMessage({ id: msg.id, rows: [{ fsyncs }] });
    return;
  }
  try {
    const result = await pg.query(msg.sql, msg.params);
    parentPort.postMessage({ id: msg.id, rows: result.rows, affectedRows: result.affectedRows ?? 0 });
  } catch (err) {
    parentPort.postMessage({ id: msg.id, error: errorOf(err) });
  }
});
parentPort.postMessage({ op: 'ready' });
