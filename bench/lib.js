// Helpers shared by the benchmarks (bench/run.js, queue.js, stats.js,
// signin.js): environment parsing, figures, PostgreSQL, clean-up, and the
// real server as a child process. Not a benchmark itself.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

// The repository root (benchmarks run the built server from here).
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The built server code (`npm run build`).
export const DIST = path.join(ROOT, 'dist', 'server');
const ADMIN_URL = process.env.BENCH_PG_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

// ---------------------------------------------------------------- numbers

// Rounds to `d` decimals; null for anything not finite (so JSON shows null).
export const round = (n, d = 2) => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : null);

// Resolves after `ms` milliseconds.
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Arithmetic mean, or null for no values.
export const mean = (values) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : null);

// An environment setting as a positive number, else `fallback`; as a count (the default) it is rounded down and must be at least 1.
export function positive(raw, fallback, { integer = true } = {}) {
  const n = integer ? Math.floor(Number(raw)) : Number(raw);
  return raw && Number.isFinite(n) && n > 0 ? n : fallback;
}

// Nearest-rank percentile (p from 0 to 100) of numbers, or null for none; `values` is left in its order.
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

// ---------------------------------------------------------------- modules and scripts

// Imports a module of the built server, e.g. importDist('db/index.js').
export const importDist = (rel) => import(pathToFileURL(path.join(DIST, rel)).href);

// True when the module at `moduleUrl` (its import.meta.url) is the script node was started with.
export const isMain = (moduleUrl) => Boolean(process.argv[1]) && moduleUrl === pathToFileURL(path.resolve(process.argv[1])).href;

// ---------------------------------------------------------------- clean-up

// Clean-up steps run last-in first-out by run(); a failing step is logged and the rest still run; every run() shares one pass.
export function cleanupStack(log) {
  const steps = [];
  let running = null;
  return {
    push: (fn) => {
      steps.push(fn);
    },
    run: () =>
      (running ??= (async () => {
        while (steps.length) {
          try {
            await steps.pop()();
          } catch (err) {
            log(`cleanup step failed: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
      })()),
  };
}

// Runs a bench as a script: prints `run({ onCleanup })`'s result as one JSON object named `benchmark`; clean-up runs on success, failure, SIGINT and SIGTERM.
export function runStandalone(benchmark, run, log) {
  const t0 = performance.now();
  const cleanups = cleanupStack(log);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      log(`${signal}: cleaning up`);
      cleanups.run().finally(() => process.exit(130));
    });
  }
  run({ onCleanup: cleanups.push }).then(
    async (result) => {
      await cleanups.run();
      result.bench_seconds_total = round((performance.now() - t0) / 1000, 1);
      process.stdout.write(JSON.stringify({ benchmark, timestamp: new Date().toISOString(), ...result }, null, 2) + '\n');
      process.exit(0);
    },
    async (err) => {
      log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      await cleanups.run();
      process.exit(1);
    },
  );
}

// ---------------------------------------------------------------- PostgreSQL

// Connects one pg.Client to `url`, runs `fn(client)` and always disconnects.
export async function withClient(url, fn) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// The database a bench uses, as { url, fresh, label }: process.env[envVar] if set (left in place), else a new database `name` next to BENCH_PG_ADMIN_URL's, whose drop goes to `register`; `label` says which, for the result.
export async function benchDatabase(envVar, name, { register, log }) {
  if (process.env[envVar]) {
    log(`using ${envVar} (left in place afterwards)`);
    return { url: process.env[envVar], fresh: false, label: envVar };
  }
  await withClient(ADMIN_URL, (c) => c.query(`CREATE DATABASE ${name}`));
  register(async () => {
    await withClient(ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    log(`dropped database ${name}`);
  });
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  log(`created database ${name}`);
  return { url: url.toString(), fresh: true, label: 'fresh (created and dropped)' };
}

// benchDatabase, migrated to the latest schema, with a Kysely pool of `poolSize` (destroyed at clean-up) as `db`.
export async function openBenchDatabase(envVar, name, { poolSize, register, log }) {
  const { createDb, migrateToLatest } = await importDist('db/index.js');
  const database = await benchDatabase(envVar, name, { register, log });
  const db = await createDb({ kind: 'postgres', url: database.url, poolSize });
  register(() => db.destroy());
  await migrateToLatest(db);
  return { ...database, db };
}

// ---------------------------------------------------------------- the server as a child process

// A free TCP port on 127.0.0.1 (free when asked; the server binds it moments later).
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// What `npm start` runs, read from package.json so the benchmarks measure that server: its KEY=value settings and node flags (see README: memory).
export function npmStart() {
  const script = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start;
  const words = script.trim().split(/\s+/);
  const env = {};
  let i = 0;
  for (; /^[A-Z_]+=/.test(words[i] ?? ''); i++) {
    const at = words[i].indexOf('=');
    // NAME=${NAME:-default}: the default, as the shell would use it with NAME unset.
    env[words[i].slice(0, at)] = words[i].slice(at + 1).replace(/^\$\{\w+:-(.*)\}$/, '$1');
  }
  if (words[i] !== 'node') throw new Error(`cannot read the start script (expected "[VAR=value ...] node [flags] file"): ${script}`);
  const flags = [];
  for (i++; (words[i] ?? '').startsWith('-'); i++) flags.push(words[i]);
  return { env, flags };
}

// The server's environment as `npm start` runs it, in production, warnings only, no rate limits; `extra` adds to it.
export function serverEnv({ databaseUrl, dataDir, port, extra = {} }) {
  return {
    ...process.env,
    ...npmStart().env,
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'warn',
    RATE_LIMITS: 'false',
    NODE_ENV: 'production',
    ...extra,
  };
}

// Starts `node [npm start's flags] [nodeArgs] dist/server/index.js` with `env` (output to `onOutput(stream)`, its stop to `register`) and resolves once GET base+readyPath answers 200 within 60 s (else stops it and throws).
export async function startServer({ env, base, readyPath, nodeArgs = [], onOutput, register, log }) {
  const args = [...npmStart().flags, ...nodeArgs, 'dist/server/index.js'];
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let exited = null;
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve((exited = { code, signal }))));
  onOutput(child.stdout);
  onOutput(child.stderr);
  // SIGTERM, then SIGKILL after killAfterMs (Infinity: the server's own shutdown decides); resolves with how it exited, { code, signal }.
  const stop = async ({ killAfterMs = 8000 } = {}) => {
    if (exited) return exited;
    child.kill('SIGTERM');
    if (killAfterMs !== Infinity) {
      let timer;
      const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), killAfterMs)));
      const first = await Promise.race([exit, timeout]);
      clearTimeout(timer);
      if (first === 'timeout') {
        log('server did not stop on SIGTERM: SIGKILL');
        child.kill('SIGKILL');
      }
    }
    return exit;
  };
  register(async () => {
    if (exited) return;
    const how = await stop();
    log(`server stopped (${how.signal ?? `exit ${how.code}`})`);
  });

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`server exited during start-up (${exited.signal ?? `code ${exited.code}`})`);
    try {
      const res = await fetch(`${base}${readyPath}`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('server not ready after 60 s');
    }
    await sleep(100);
  }
  return { child, pid: child.pid, isRunning: () => !exited, stop };
}

// ---------------------------------------------------------------- memory of a process (Linux /proc)

// A "kB" field of /proc/<pid>/status (VmRSS, VmHWM, …) in MB, or null.
export function procStatusMb(pid, field = 'VmRSS') {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

// Samples VmRSS every `ms` until stop(), which returns the samples (MB).
export function rssSampler(pid, ms) {
  const samples = [];
  const take = () => {
    const v = procStatusMb(pid);
    if (v !== null) samples.push(v);
  };
  take();
  const timer = setInterval(take, ms);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

// Mean VmRSS (MB) of `count` samples `everyMs` apart, or null if none could be read.
export async function meanRssMb(pid, count, everyMs) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    samples.push(procStatusMb(pid));
    await sleep(everyMs);
  }
  return mean(samples.filter((v) => v !== null));
}

// Resets the kernel's peak-RSS counter (VmHWM) of `pid`; false on an older kernel or where not permitted.
export function resetPeakRss(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- HTTP

// Cookies as a browser keeps them: storeFrom(headers) takes Set-Cookie (fetch or node:http headers; empty or expired ones delete), header() gives the Cookie header.
export class CookieJar {
  cookies = new Map();
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  storeFrom(headers) {
    const list = typeof headers.getSetCookie === 'function' ? headers.getSetCookie() : [].concat(headers['set-cookie'] ?? []);
    for (const sc of list) {
      const [pair, ...attrs] = sc.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || /expires=Thu, 01 Jan 1970/i.test(sc);
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

// The CSRF token of the first form in `html`, or null.
export const csrfToken = (html) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? null;
