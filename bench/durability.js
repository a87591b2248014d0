// The cost of durable writes on the embedded database (`npm run bench`,
// under "embedded_durability"; alone: `npm run build && node bench/durability.js`).
//
// PGlite used to run with fsync off: a power cut could lose reports whose
// receipts were shown. Harbour now runs it with fsync on (see
// server/db/pglite-worker.mjs). This measures what that costs, beside the
// old setting as the baseline, in one run, on the same disk (DATA_DIR's
// filesystem: BENCH_DURABILITY_DIR, default the system temp folder):
//   - small commits (a session refresh, a message): one row per transaction
//   - evidence-sized commits: 4 × 64 KiB chunks per transaction, as an upload writes them
// Environment: BENCH_DURABILITY_COMMITS (default 300).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { importDist, isMain, positive, round } from './lib.js';

const COMMITS = positive(process.env.BENCH_DURABILITY_COMMITS, 300);
const CHUNK = new Uint8Array(64 * 1024).map((_, i) => (i * 31) & 0xff);

async function measure(EmbeddedDatabase, dir, durable) {
  const db = await EmbeddedDatabase.open({ dataDir: dir, durable });
  try {
    await db.query('create table small (id serial primary key, v text)', []);
    await db.query('create table chunks (id serial primary key, data bytea)', []);
    const fsyncsBefore = durable ? await db.fsyncCount() : 0;
    let t = performance.now();
    for (let i = 0; i < COMMITS; i++) await db.query('insert into small (v) values ($1)', [`row ${i}`]);
    const smallMs = performance.now() - t;
    t = performance.now();
    for (let i = 0; i < COMMITS; i++) {
      await db.query('insert into chunks (data) values ($1), ($2), ($3), ($4)', [CHUNK, CHUNK, CHUNK, CHUNK]);
    }
    const chunkMs = performance.now() - t;
    return {
      fsync: durable ? 'on' : 'off',
      small_commits_per_second: round((COMMITS / smallMs) * 1000),
      small_commit_mean_ms: round(smallMs / COMMITS, 3),
      evidence_commits_per_second: round((COMMITS / chunkMs) * 1000),
      evidence_mb_per_second: round((COMMITS * 4 * CHUNK.length) / 1024 / 1024 / (chunkMs / 1000)),
      fsync_calls: durable ? (await db.fsyncCount()) - fsyncsBefore : 0,
    };
  } finally {
    await db.close();
  }
}

export async function runDurabilityBench({ log = () => undefined } = {}) {
  const { EmbeddedDatabase } = await importDist('db/embedded.js');
  const base = fs.mkdtempSync(path.join(process.env.BENCH_DURABILITY_DIR ?? os.tmpdir(), 'harbour-durability-'));
  try {
    log(`baseline: fsync off, ${COMMITS} commits of each kind`);
    const off = await measure(EmbeddedDatabase, path.join(base, 'off'), false);
    log(`harbour: fsync on, ${COMMITS} commits of each kind`);
    const on = await measure(EmbeddedDatabase, path.join(base, 'on'), true);
    return {
      commits: COMMITS,
      disk: base,
      baseline_fsync_off: off,
      harbour_fsync_on: on,
      small_commit_ratio: round(on.small_commits_per_second / off.small_commits_per_second),
      evidence_ratio: round(on.evidence_commits_per_second / off.evidence_commits_per_second),
    };
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const result = await runDurabilityBench({ log: (m) => process.stderr.write(`[durability] ${m}\n`) });
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}
