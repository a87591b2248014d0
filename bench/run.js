// Harbour benchmark (`npm run bench`, which builds first).
//
// Starts the real server (dist/server/index.js) as a child process on a free
// port against a fresh PostgreSQL database, then measures:
//   1. report submissions by 16 concurrent submitters (GET form, POST multipart)
//   2. GET /en/ latency while (1) runs (and idle, for comparison)
//   3. the server's peak RSS while one 100 MiB file is uploaded
//   4. the Argon2id cost of one receipt derivation (in this process)
//   5. the caseworker queue on 100,000 seeded cases (bench/queue.js, under "queue";
//      BENCH_QUEUE_ROWS and BENCH_QUEUE_ITERATIONS change its size)
//   0. the embedded database's durable writes against fsync off (bench/durability.js)
//   6. statistics on 1,000,000 seeded reports: building every table for two years,
//      and the server's peak RSS during the CSV export (bench/stats.js, under "stats";
//      BENCH_STATS_ROWS and BENCH_STATS_ITERATIONS change its size)
//   7. e-mail alerts: the flood with alerts off and on, urgent alert latency (bench/alerts.js, under "alerts")
// One JSON object goes to stdout and to bench/results/latest.json; progress
// goes to stderr. Environment:
//   BENCH_SECONDS        length of the load phase (default 30)
//   BENCH_DATABASE_URL   use this database instead of creating (and dropping) one
//   BENCH_PG_ADMIN_URL   where to create the throw-away database
//                        (default postgres://postgres@127.0.0.1:5432/postgres)
//   BENCH_SERVER_NODE_ARGS extra node flags for the server, space-separated
//                        (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it)
import { spawn } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import {
  benchDatabase,
  cleanupStack,
  CookieJar,
  freePort,
  importDist,
  mean,
  meanRssMb,
  npmStart,
  percentile,
  positive,
  procStatusMb,
  resetPeakRss,
  ROOT,
  round,
  rssSampler,
  serverEnv,
  sleep,
  startServer,
  withClient,
} from './lib.js';
import { runAlertsBench } from './alerts.js';
import { runDurabilityBench } from './durability.js';
import { fetchForm, narrative, postReport, REPORT_FIELDS } from './reporter-client.js';
import { runQueueBench } from './queue.js';
import { signInBench } from './signin.js';
import { runStatsBench } from './stats.js';

const RESULTS = path.join(ROOT, 'bench', 'results', 'latest.json');

const LOAD_SECONDS = positive(process.env.BENCH_SECONDS, 30, { integer: false });
const SUBMITTERS = 16;
const GET_PROBE_CONNECTIONS = 2;
const IDLE_PROBE_SECONDS = 3;
const UPLOAD_BYTES = 100 * 1024 * 1024; // 100 MiB
const UPLOAD_CHUNK = 64 * 1024;
const RSS_SAMPLE_MS = 20;
const ARGON2_RUNS = 20;
const TARGETS = Object.freeze({
  get_root_under_load_p99_ms_max: 50,
  upload_peak_rss_mb_max: 150,
});

const MB = 1024 * 1024;
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

function latencyStats(values) {
  return {
    count: values.length,
    p50_ms: round(percentile(values, 50)),
    p90_ms: round(percentile(values, 90)),
    p99_ms: round(percentile(values, 99)),
    mean_ms: round(mean(values)),
    max_ms: round(values.length ? Math.max(...values) : null),
  };
}

// ---------------------------------------------------------------- cleanup

const cleanups = cleanupStack(log);
const cleanup = cleanups.run;
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    interrupted = true;
    log(`${signal}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}
process.on('uncaughtException', (err) => {
  log(`uncaught: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  cleanup().finally(() => process.exit(1));
});

// ---------------------------------------------------------------- server

function run(cmd, args, env, { quiet = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    // stdout of `setup` holds the recovery key: read and thrown away, never logged.
    child.stdout.resume();
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!quiet) process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

const serverLog = { lines: 0, warnings: 0, errors: 0, last: [] };

function pipeServerOutput(stream) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.trim()) continue;
      serverLog.lines++;
      let level;
      try {
        level = JSON.parse(line).level ?? 0;
      } catch {
        level = 50; // not pino JSON: a crash trace or similar
      }
      if (level >= 50) serverLog.errors++;
      else if (level >= 40) serverLog.warnings++;
      serverLog.last.push(line.slice(0, 500));
      if (serverLog.last.length > 10) serverLog.last.shift();
      if (serverLog.lines <= 50) process.stderr.write(`[server] ${line.slice(0, 1000)}\n`);
      else if (serverLog.lines === 51) process.stderr.write('[server] (further server output counted, not shown)\n');
    }
  });
}

/** The server (with BENCH_SERVER_NODE_ARGS), ready once GET /en/ answers; stopped at clean-up. */
function startHarbour(env, base) {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  return startServer({ env, base, readyPath: '/en/', nodeArgs, onOutput: pipeServerOutput, register: cleanups.push, log });
}

/** User + system CPU seconds the process has used so far (all its threads), or null. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime
  } catch {
    return null;
  }
}
const CLOCK_TICKS = 100; // USER_HZ on Linux

// ---------------------------------------------------------------- phases

async function argon2Phase() {
  const { deriveReceiptKeys, readySodium, RECEIPT_ARGON2, generateReceipt } = await importDist('crypto/index.js');
  await readySodium();
  const salt = randomBytes(16);
  for (let i = 0; i < 2; i++) await deriveReceiptKeys(generateReceipt(), salt); // warm-up
  const times = [];
  for (let i = 0; i < ARGON2_RUNS; i++) {
    const receipt = generateReceipt();
    const t = performance.now();
    await deriveReceiptKeys(receipt, salt);
    times.push(performance.now() - t);
  }
  // Throughput ceiling with as many derivations in flight as the libuv pool has threads.
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const n = pool * 4;
  const t = performance.now();
  for (let done = 0; done < n; done += pool) {
    await Promise.all(Array.from({ length: pool }, () => deriveReceiptKeys(generateReceipt(), salt)));
  }
  const parallelSeconds = (performance.now() - t) / 1000;
  return {
    runs: ARGON2_RUNS,
    mean_ms: round(mean(times)),
    p50_ms: round(percentile(times, 50)),
    min_ms: round(Math.min(...times)),
    max_ms: round(Math.max(...times)),
    memory_cost_kib: RECEIPT_ARGON2.memoryCost,
    time_cost: RECEIPT_ARGON2.timeCost,
    parallelism: RECEIPT_ARGON2.parallelism,
    hash_length_bytes: RECEIPT_ARGON2.hashLength,
    threadpool_size: pool,
    parallel_derivations_per_second: round(n / parallelSeconds),
  };
}

function getProbe(port, seconds, connections) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./latency-worker.js', import.meta.url), {
      workerData: { port, path: '/en/', connections, durationMs: seconds * 1000 },
    });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`latency worker exited with ${code}`)));
  });
}

function probeStats(result, seconds) {
  return {
    ...latencyStats(result.latencies),
    errors: result.errors,
    requests_per_second: round(result.latencies.length / seconds),
    connections: GET_PROBE_CONNECTIONS,
  };
}

async function warmUp(base) {
  for (let i = 0; i < 3; i++) {
    const jar = new CookieJar();
    const token = await fetchForm(base, jar);
    const r = await postReport(base, jar, token);
    if (!r.ok) {
      throw new Error(`warm-up submission failed: status ${r.status}\n${r.body.replace(/\s+/g, ' ').slice(0, 1500)}`);
    }
  }
}

async function loadPhase(base, port, pid) {
  const deadline = Date.now() + LOAD_SECONDS * 1000;
  const post = [];
  const formGet = [];
  const statuses = {};
  let successes = 0;
  let errors = 0;
  let sampleError = null;

  const submitter = async () => {
    const jar = new CookieJar();
    while (Date.now() < deadline) {
      try {
        const t = performance.now();
        const token = await fetchForm(base, jar);
        formGet.push(performance.now() - t);
        const r = await postReport(base, jar, token);
        post.push(r.ms);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.ok) successes++;
        else {
          errors++;
          sampleError ??= `status ${r.status}: ${r.body.replace(/\s+/g, ' ').slice(0, 500)}`;
        }
      } catch (err) {
        errors++;
        statuses.exception = (statuses.exception ?? 0) + 1;
        sampleError ??= err instanceof Error ? err.message : String(err);
        await sleep(50);
      }
    }
  };

  const rss = rssSampler(pid, 100);
  const serverCpu0 = cpuSeconds(pid);
  const clientCpu0 = process.cpuUsage();
  const started = performance.now();
  const progress = setInterval(() => log(`  … ${successes} submissions, ${errors} errors`), 10_000);
  const [probe] = await Promise.all([
    getProbe(port, LOAD_SECONDS, GET_PROBE_CONNECTIONS),
    Promise.all(Array.from({ length: SUBMITTERS }, submitter)),
  ]);
  const elapsed = (performance.now() - started) / 1000;
  const serverCpu = cpuSeconds(pid) - serverCpu0;
  const clientCpu = process.cpuUsage(clientCpu0);
  clearInterval(progress);
  const rssSamples = rss.stop();
  if (sampleError) log(`first error: ${sampleError}`);
  const { count: _count, ...postLatency } = latencyStats(post); // its figures, without the count

  return {
    submissions: {
      submitters: SUBMITTERS,
      duration_seconds: round(elapsed),
      successes,
      errors,
      statuses,
      submissions_per_second: round(successes / elapsed),
      ...postLatency, // p50_ms, p90_ms, p99_ms, mean_ms, max_ms
      form_get_p50_ms: round(percentile(formGet, 50)),
      form_get_p99_ms: round(percentile(formGet, 99)),
      server_peak_rss_mb_during_load: round(Math.max(...rssSamples), 1),
      server_cpu_seconds: round(serverCpu),
      server_cpu_ms_per_submission: round((serverCpu * 1000) / Math.max(1, successes + errors), 1),
      bench_client_cpu_seconds: round((clientCpu.user + clientCpu.system) / 1e6),
      first_error: sampleError,
    },
    get_root_under_load: probeStats(probe, LOAD_SECONDS),
  };
}

/** Streams one multipart report whose file is a 100 MiB "%PDF-1.4" + random bytes. */
async function uploadPhase(base, port, pid, dbUrl) {
  await sleep(2000); // let the load phase's garbage settle
  const baseline = await meanRssMb(pid, 10, 100);

  const jar = new CookieJar();
  const token = await fetchForm(base, jar);

  const boundary = `----HarbourBench${randomBytes(12).toString('hex')}`;
  const part = (name, value) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  let head = part('_csrf', token);
  for (const [k, v] of Object.entries({ ...REPORT_FIELDS, narrative: narrative() })) {
    for (const value of Array.isArray(v) ? v : [v]) head += part(k, value);
  }
  head += `--${boundary}\r\nContent-Disposition: form-data; name="evidence"; filename="bank-statement.pdf"\r\nContent-Type: application/pdf\r\n\r\n`;
  const headBuf = Buffer.from(head, 'utf8');
  const tailBuf = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  const contentLength = headBuf.length + UPLOAD_BYTES + tailBuf.length;

  // Reset the kernel's peak-RSS counter (VmHWM) so it covers the upload alone; else the 20 ms samples remain.
  const hwmReset = resetPeakRss(pid);

  const sampler = rssSampler(pid, RSS_SAMPLE_MS);
  const serverCpu0 = cpuSeconds(pid);
  const started = performance.now();
  const response = await new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/en/report',
        headers: {
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': contentLength,
          cookie: jar.header(),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    (async () => {
      req.write(headBuf);
      const magic = Buffer.from('%PDF-1.4\n');
      let sent = 0;
      while (sent < UPLOAD_BYTES) {
        const size = Math.min(UPLOAD_CHUNK, UPLOAD_BYTES - sent);
        const chunk = Buffer.allocUnsafe(size);
        randomFillSync(chunk);
        if (sent === 0) magic.copy(chunk, 0);
        sent += size;
        if (!req.write(chunk)) await once(req, 'drain');
      }
      req.end(tailBuf);
    })().catch((err) => req.destroy(err));
  });
  const seconds = (performance.now() - started) / 1000;
  const serverCpu = cpuSeconds(pid) - serverCpu0;
  const samples = sampler.stop();
  const hwm = hwmReset ? procStatusMb(pid, 'VmHWM') : null;
  jar.storeFrom(response.headers);

  let stored = null;
  try {
    stored = await withClient(dbUrl, async (c) => {
      const { rows } = await c.query(
        `select e.state, e.chunk_count, r.state as report_state
           from evidence e join reports r on r.id = e.report_id
          order by e.created_at desc limit 1`,
      );
      return rows[0] ?? null;
    });
  } catch (err) {
    log(`could not read back the stored evidence: ${err.message}`);
  }

  const ok = response.status === 303 && response.headers.location === '/en/report/receipt';
  if (!ok) log(`upload answered ${response.status}: ${response.body.replace(/\s+/g, ' ').slice(0, 800)}`);
  return {
    file_bytes: UPLOAD_BYTES,
    request_bytes: contentLength,
    http_status: response.status,
    ok,
    upload_seconds: round(seconds),
    throughput_mb_per_second: round(UPLOAD_BYTES / MB / seconds),
    server_cpu_seconds: round(serverCpu),
    baseline_rss_mb: round(baseline, 1),
    peak_rss_mb: round(Math.max(...samples), 1),
    peak_rss_kernel_hwm_mb: round(hwm, 1),
    peak_rss_above_baseline_mb: round(Math.max(...samples) - baseline, 1),
    rss_after_upload_mb: round(samples[samples.length - 1], 1),
    rss_samples: samples.length,
    rss_sample_interval_ms: RSS_SAMPLE_MS,
    stored_evidence_state: stored?.state ?? null,
    stored_chunk_count: stored?.chunk_count ?? null,
    expected_chunk_count: Math.ceil(UPLOAD_BYTES / (64 * 1024)),
    stored_report_state: stored?.report_state ?? null,
  };
}

// ---------------------------------------------------------------- main

async function main() {
  const t0 = performance.now();
  const cpus = os.cpus();
  const result = {
    benchmark: 'harbour',
    timestamp: new Date().toISOString(),
    machine: {
      cpus: cpus.length,
      cpu_model: cpus[0]?.model ?? null,
      total_memory_mb: Math.round(os.totalmem() / MB),
      node_version: process.version,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      // Other work on the machine skews every figure: compare with cpus.
      loadavg_1m_at_start: round(os.loadavg()[0]),
      loadavg_1m_at_end: null,
    },
    config: {
      submitters: SUBMITTERS,
      load_seconds: LOAD_SECONDS,
      narrative_bytes: '1024-2048',
      get_probe_connections: GET_PROBE_CONNECTIONS,
      upload_file_bytes: UPLOAD_BYTES,
      server_env: { NODE_ENV: 'production', LOG_LEVEL: 'warn', RATE_LIMITS: 'false', MAX_FILE_MB: 120, MAX_REPORT_MB: 130, ...npmStart().env },
      server_node_flags: [...npmStart().flags, ...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)],
      database: null,
    },
    targets: TARGETS,
  };

  log('embedded database: the cost of durable writes (fsync on) beside fsync off');
  result.embedded_durability = await runDurabilityBench({ log: (msg) => log(`durability: ${msg}`) });
  log(
    `durability: small commits ${result.embedded_durability.small_commit_ratio}×, evidence ${result.embedded_durability.evidence_ratio}× of fsync off`,
  );

  log('argon2id: measuring receipt derivation');
  result.argon2 = await argon2Phase();
  log(`argon2id: mean ${result.argon2.mean_ms} ms, p50 ${result.argon2.p50_ms} ms`);

  const db = await benchDatabase('BENCH_DATABASE_URL', `harbour_bench_${process.pid}`, { register: cleanups.push, log });
  result.config.database = db.label;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'harbour-bench-'));
  cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = serverEnv({ databaseUrl: db.url, dataDir, port, extra: { MAX_FILE_MB: '120', MAX_REPORT_MB: '130' } });

  log('harbour setup --org Bench --no-admin');
  const setup = await run(process.execPath, ['bin/harbour.js', 'setup', '--org', 'Bench', '--no-admin'], env, { quiet: true });
  if (setup.code !== 0) {
    if (!db.fresh && /already set up/i.test(setup.stderr)) log('database already set up: continuing');
    else throw new Error(`setup failed (exit ${setup.code}): ${setup.stderr.trim()}`);
  }

  log(`starting the server on ${base}`);
  const server = await startHarbour(env, base);
  const pid = server.pid;
  result.server_rss_mb_after_start = round(procStatusMb(pid), 1);
  log(`server ready (pid ${pid}, RSS ${result.server_rss_mb_after_start} MB)`);

  log('warm-up: 3 submissions');
  await warmUp(base);

  log(`GET /en/ idle latency for ${IDLE_PROBE_SECONDS} s`);
  result.get_root_idle = probeStats(await getProbe(port, IDLE_PROBE_SECONDS, GET_PROBE_CONNECTIONS), IDLE_PROBE_SECONDS);

  log(`load: ${SUBMITTERS} submitters for ${LOAD_SECONDS} s, GET /en/ probed alongside`);
  const load = await loadPhase(base, port, pid);
  result.submissions = load.submissions;
  result.get_root_under_load = load.get_root_under_load;
  log(
    `load: ${result.submissions.submissions_per_second}/s, POST p50 ${result.submissions.p50_ms} ms p99 ${result.submissions.p99_ms} ms, ` +
      `${result.submissions.errors} errors; GET /en/ p99 ${result.get_root_under_load.p99_ms} ms`,
  );
  if (!server.isRunning()) throw new Error('server died during the load phase');

  // The upload runs on a freshly started server, so its peak RSS measures the
  // upload and not garbage left by the load phase.
  // A graceful stop, as an operator would: no SIGKILL, the server's own shutdown decides (it forces an exit after 10 s).
  const stopped = await server.stop({ killAfterMs: Infinity });
  result.graceful_shutdown = { signal: 'SIGTERM', exit_code: stopped.code, exit_signal: stopped.signal };
  log(`server stopped on SIGTERM (exit ${stopped.code}); restarting for the upload`);
  const uploadServer = await startHarbour(env, base);
  const uploadPid = uploadServer.pid;
  log(`upload: one ${UPLOAD_BYTES / MB} MiB file`);
  result.upload = await uploadPhase(base, port, uploadPid, db.url);
  log(
    `upload: status ${result.upload.http_status} in ${result.upload.upload_seconds} s, RSS ${result.upload.baseline_rss_mb} → ` +
      `peak ${result.upload.peak_rss_mb} MB (kernel HWM ${result.upload.peak_rss_kernel_hwm_mb} MB)`,
  );

  // The queue phase has its own database; the idle upload server is stopped first.
  await uploadServer.stop({ killAfterMs: Infinity });
  log('queue: caseworker queue on seeded cases');
  result.queue = await runQueueBench({ log: (msg) => log(`queue: ${msg}`), onCleanup: cleanups.push });

  // Staff sign-in: 20 concurrent (password + TOTP), event-loop lag alongside, on the load phase's database.
  log('sign-in: 20 concurrent staff sign-ins');
  result.sign_in = await signInBench(db.url);
  log(`sign-in: p99 ${result.sign_in.latency_p99_ms} ms, event-loop lag p99 ${result.sign_in.event_loop_lag_p99_ms} ms`);

  // Alerts: the flood with alerts off and on, and an urgent report's time to the SMTP server.
  log('alerts: the submission flood with alerts off and on, and urgent alert latency');
  result.alerts = await runAlertsBench({ log: (msg) => log(`alerts: ${msg}`), onCleanup: cleanups.push });
  log(
    `alerts: flood ${result.alerts.flood.rate_drop_pct}% slower with alerts on; urgent p99 ${result.alerts.urgent_to_smtp.all_recipients_p99_ms} ms`,
  );

  // Last: it seeds a database of its own (about 2 GB), dropped in the final clean-up.
  log('stats: statistics on seeded reports');
  result.stats = await runStatsBench({ log: (msg) => log(`stats: ${msg}`), onCleanup: cleanups.push });

  result.checks = {
    submissions_without_errors: result.submissions.errors === 0 && result.submissions.successes > 0,
    get_root_under_load_p99_ok:
      result.get_root_under_load.p99_ms !== null && result.get_root_under_load.p99_ms < TARGETS.get_root_under_load_p99_ms_max,
    upload_succeeded: result.upload.ok && result.upload.stored_evidence_state === 'complete',
    upload_peak_rss_ok: Math.max(result.upload.peak_rss_mb ?? Infinity, result.upload.peak_rss_kernel_hwm_mb ?? 0) < TARGETS.upload_peak_rss_mb_max,
    sign_in_event_loop_lag_ok: result.sign_in.event_loop_lag_p99_ms < result.sign_in.target_event_loop_lag_p99_ms_max,
    alerts_flood_rate_drop_ok: result.alerts.checks.flood_rate_drop_ok,
    alerts_urgent_p99_ok: result.alerts.checks.urgent_p99_ok,
  };

  await cleanup();
  result.machine.loadavg_1m_at_end = round(os.loadavg()[0]);
  result.server_log = { lines: serverLog.lines, warnings: serverLog.warnings, errors: serverLog.errors, last_lines: serverLog.last };
  result.bench_seconds_total = round((performance.now() - t0) / 1000, 1);
  return result;
}

main().then(
  (result) => {
    const json = JSON.stringify(result, null, 2);
    fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
    fs.writeFileSync(RESULTS, json + '\n');
    process.stdout.write(json + '\n');
    log(`written to ${path.relative(process.cwd(), RESULTS)}`);
    process.exit(0);
  },
  async (err) => {
    if (interrupted) return; // the signal handler cleans up and exits
    log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (serverLog.last.length) log(`last server output:\n${serverLog.last.join('\n')}`);
    await cleanup();
    process.exit(1);
  },
);
