// Statistics benchmark: `npm run bench:stats` (builds, then runs this file),
// and part of `npm run bench` (bench/run.js puts the result under "stats").
//
// On a fresh PostgreSQL database (created and dropped): migrations, an
// organisation and BENCH_STATS_ROWS submitted reports (default 1,000,000),
// seeded in the database itself (INSERT … SELECT over generate_series), with
// referrals for some and a few percent of rows in stats_archive, then
// VACUUM ANALYZE (the steady state autovacuum reaches). Then, for the eight
// whole quarters ending with the current one (the page's default period):
//   build     every statistics table through buildStatistics (the function
//             behind /admin/statistics, .csv and .json), imported from dist/:
//             warm-up, then BENCH_STATS_ITERATIONS runs (default 10).
//             Target: p50 under 1 s.
//   csv       the real server (dist/server/index.js, the malloc settings of
//             `npm start`) serves GET /admin/statistics.csv to a signed-in
//             administrator (password + TOTP) while its RSS is sampled every
//             20 ms from /proc (VmRSS, and VmHWM reset first).
//             Target: peak under 150 MB.
// Seeded rows are shaped like real ones (taxonomy codes, statuses by age,
// outcomes, first responses); their encrypted columns are random bytes of
// realistic length, since statistics never decrypt anything.
// Environment:
//   BENCH_PG_ADMIN_URL        where to create the throw-away database
//                             (default postgres://postgres@127.0.0.1:5432/postgres)
//   BENCH_STATS_DATABASE_URL  use this database instead; seeded only if it has no reports, never dropped
//   BENCH_STATS_ROWS          reports to seed (default 1,000,000)
//   BENCH_STATS_ITERATIONS    timed builds (default 10)
// One JSON object goes to stdout; progress goes to stderr.
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  cleanupStack,
  CookieJar,
  DIST,
  freePort,
  importDist,
  isMain,
  mean,
  meanRssMb,
  openBenchDatabase,
  percentile,
  positive,
  procStatusMb,
  resetPeakRss,
  round,
  rssSampler,
  runStandalone,
  serverEnv,
  sleep,
  startServer,
  withClient,
} from './lib.js';
import { signInOnce } from './signin.js';

const TARGETS = Object.freeze({ stats_build_p50_ms_max: 1000, csv_export_peak_rss_mb_max: 150 });
const WARM_UP = 2;
const CSV_DOWNLOADS = 3;
const RSS_SAMPLE_MS = 20;
const SEED_CHUNK = 50_000;
const SPAN_DAYS = 3 * 365; // submissions spread over three years, more of them recently

const defaultLog = (msg) => process.stderr.write(`[bench:stats] ${msg}\n`);

// ---------------------------------------------------------------- seeding

// Shares of each code (the same shapes as server/demo/seed.ts).
const CATEGORY_WEIGHTS = { threats: 12, surveillance: 18, digital: 16, family: 20, return: 8, recruitment: 8, station: 6, legal: 6, other: 6 };
const COMMUNITY_WEIGHTS = {
  uyghur: 22,
  tibetan: 10,
  hong_konger: 25,
  chinese_dissident: 18,
  southern_mongolian: 4,
  taiwanese: 6,
  falun_gong: 7,
  other: 4,
  prefer_not_say: 4,
};
const REGION_WEIGHTS = {
  london: 35,
  south_east: 9,
  north_west: 8,
  scotland: 8,
  west_midlands: 7,
  east_of_england: 5,
  yorkshire_humber: 5,
  east_midlands: 4,
  south_west: 3,
  wales: 3,
  north_east: 2,
  northern_ireland: 3,
  outside_uk: 3,
  prefer_not_say: 5,
};
const STATE_WEIGHTS = { china: 85, not_sure: 12, other: 2, russia: 0.5, iran: 0.5 };
const HONG_KONG_STATE_WEIGHTS = { hong_kong_sar: 50, china: 40, not_sure: 10 };
const OUTCOME_WEIGHTS = {
  resolved: 20,
  referred_to_police: 12,
  support_given: 30,
  no_further_action: 15,
  unable_to_contact: 10,
  duplicate: 5,
  not_tnr: 8,
};
/** Status by age in days: recent cases are mostly new, old ones mostly closed. */
const STATUS_BY_AGE = [
  [2, { new: 75, triaged: 20, in_progress: 5 }],
  [14, { new: 25, triaged: 30, in_progress: 35, referred: 5, closed: 5 }],
  [90, { new: 5, triaged: 10, in_progress: 40, referred: 15, closed: 30 }],
  [365, { new: 1, triaged: 3, in_progress: 12, referred: 14, closed: 70 }],
  [Infinity, { new: 0.2, triaged: 0.8, in_progress: 4, referred: 5, closed: 90 }],
];
const CATEGORY_SETS = 4096;
const BLOBS = 1024;

const literal = (code) => `'${String(code).replace(/'/g, "''")}'`;

/** A CASE expression picking a code by weight from `draw`, a uniform [0, 1) column. */
function weightedSql(draw, weights) {
  const entries = Object.entries(weights).filter(([, w]) => w > 0);
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let cumulative = 0;
  const whens = entries.slice(0, -1).map(([code, w]) => `when ${draw} < ${(cumulative += w) / total} then ${literal(code)}`);
  return `(case ${whens.join(' ')} else ${literal(entries[entries.length - 1][0])} end)`;
}

function weightedPick(weights) {
  const entries = Object.entries(weights);
  let x = Math.random() * entries.reduce((s, [, w]) => s + w, 0);
  for (const [code, w] of entries) if ((x -= w) < 0) return code;
  return entries[entries.length - 1][0];
}

/** Category arrays as the form produces them: one (55 %), two or three distinct categories. */
function categorySet() {
  const howMany = Math.random() < 0.55 ? 1 : Math.random() < 0.67 ? 2 : 3;
  const out = new Set();
  while (out.size < howMany) out.add(weightedPick(CATEGORY_WEIGHTS));
  return [...out];
}

/** Random bytes as long as the real ciphertexts: 24-byte nonce + text + 16-byte tag. */
function blob(textBytes) {
  return randomBytes(40 + textBytes);
}

/**
 * Seeds `rows` submitted reports, referrals for about a fifth of them and
 * `archiveRows` stats_archive rows, all inside PostgreSQL; `client` is one
 * pg.Client (its session holds the temporary lookup tables).
 */
async function seedReports(client, { rows, archiveRows, teamKeyId, log }) {
  // Lookup tables the INSERT joins against: category arrays drawn in JavaScript
  // (distinct, weighted) and a pool of random "ciphertexts" of realistic sizes.
  await client.query('create temporary table seed_category_sets (n int primary key, categories text[] not null)');
  const sets = Array.from({ length: CATEGORY_SETS }, () => `{${categorySet().join(',')}}`);
  await client.query('insert into seed_category_sets select n - 1, s::text[] from unnest($1::text[]) with ordinality u(s, n)', [sets]);

  await client.query(
    'create temporary table seed_blobs (n int primary key, sealed bytea not null, narrative bytea not null, details bytea not null, contact bytea not null)',
  );
  const pool = Array.from({ length: BLOBS }, () => ({
    sealed: randomBytes(80), // crypto_box_seal of a 32-byte key
    narrative: blob(200 + Math.floor(1800 * Math.random() ** 2)), // mostly a few hundred bytes, up to 2 KB
    details: blob(randomInt(150, 320)),
    contact: blob(randomInt(50, 110)),
  }));
  await client.query(
    'insert into seed_blobs select n - 1, s, na, d, c from unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::bytea[]) with ordinality u(s, na, d, c, n)',
    [pool.map((b) => b.sealed), pool.map((b) => b.narrative), pool.map((b) => b.details), pool.map((b) => b.contact)],
  );

  const status = `(case ${STATUS_BY_AGE.map(([below, w]) => (below === Infinity ? `else ${weightedSql('d.r_status', w)}` : `when d.age_days < ${below} then ${weightedSql('d.r_status', w)}`)).join(' ')} end)`;
  // draws: every random number a row needs, drawn once (MATERIALIZED); shaped:
  // the codes and status; timed: the timestamps that depend on the status.
  const insert = `
    insert into reports (id, state, status, categories, urgent, community, region, suspected_state, incident_from,
                         team_key_id, data_key_sealed, narrative, details, contact, created_at, submitted_at,
                         closing_outcome, triaged_at, closed_at, first_response_at, last_staff_message_at, staff_seen_at)
    with draws as materialized (
      select g as i, ${SPAN_DAYS} * power(random(), 1.5) as age_days,
             random() as r_status, random() as r_category, random() as r_community, random() as r_region, random() as r_state,
             random() as r_urgent, random() as r_incident, random() as r_contact, random() as r_triage, random() as r_response,
             random() as r_response_days, random() as r_outcome, random() as r_close
        from generate_series($1::int, $2::int) g
    ), shaped as (
      select d.*, now() - d.age_days * interval '1 day' as at, ${status} as status,
             ${weightedSql('d.r_community', COMMUNITY_WEIGHTS)} as community,
             ${weightedSql('d.r_region', REGION_WEIGHTS)} as region
        from draws d
    ), timed as (
      select s.*,
             case when s.status <> 'new' then least(now(), s.at + interval '1 hour' + s.r_triage * interval '60 hours') end as triaged_at,
             case when s.status <> 'new' and s.r_response < 0.85
                  then least(now(), s.at + interval '2 hours' + power(s.r_response_days, 2) * interval '14 days') end as first_response_at
        from shaped s
    )
    select gen_random_uuid(), 'submitted', t.status, c.categories, t.r_urgent < 0.05, t.community, t.region,
           case when t.community = 'hong_konger' then ${weightedSql('t.r_state', HONG_KONG_STATE_WEIGHTS)}
                else ${weightedSql('t.r_state', STATE_WEIGHTS)} end,
           case when t.r_incident < 0.7 then date_trunc('month', t.at - t.r_incident * interval '180 days')::date end,
           $3::int, b.sealed, b.narrative, b.details, case when t.r_contact < 0.3 then b.contact end, t.at, t.at,
           case when t.status = 'closed' then ${weightedSql('t.r_outcome', OUTCOME_WEIGHTS)} end,
           t.triaged_at,
           case when t.status = 'closed' then least(now(), t.at + interval '7 days' + t.r_close * interval '120 days') end,
           t.first_response_at, t.first_response_at, t.triaged_at
      from timed t
      join seed_category_sets c on c.n = floor(t.r_category * ${CATEGORY_SETS})::int
      join seed_blobs b on b.n = t.i % ${BLOBS}`;

  for (let from = 1; from <= rows; from += SEED_CHUNK) {
    const to = Math.min(rows, from + SEED_CHUNK - 1);
    const t = performance.now();
    await client.query(insert, [from, to, teamKeyId]);
    log(`  reports ${to.toLocaleString('en')} / ${rows.toLocaleString('en')} (${round((performance.now() - t) / 1000, 1)} s)`);
  }

  // Referred cases, most closed as "referred to police", and a few others, have a referral.
  const referrals = await client.query(
    `insert into referrals (id, report_id, destination, referred_on, consent_override, details, created_at)
     select gen_random_uuid(), r.id, 'police', (r.triaged_at + interval '3 days')::date, false, b.details, r.triaged_at + interval '3 days'
       from reports r join seed_blobs b on b.n = abs(hashtext(r.id::text)) % ${BLOBS}
      where r.status = 'referred' or (r.closing_outcome = 'referred_to_police' and random() < 0.9)
         or (r.status in ('in_progress', 'closed') and random() < 0.03)`,
  );
  log(`  referrals ${referrals.rowCount.toLocaleString('en')}`);

  // What retention leaves behind: triage fields of old closed cases (copied from
  // old seeded cases so they look alike; the copies stay in reports too).
  const archived = await client.query(
    `insert into stats_archive (quarter, categories, community, region, suspected_state, urgent, status, closing_outcome, referred, first_response_days)
     select date_trunc('quarter', r.submitted_at)::date, r.categories, r.community, r.region, r.suspected_state, r.urgent,
            r.status, r.closing_outcome, exists (select 1 from referrals f where f.report_id = r.id),
            case when r.first_response_at is null then null
                 else floor(extract(epoch from (r.first_response_at - r.submitted_at)) / 86400)::int end
       from reports r
      where r.status = 'closed' and r.submitted_at < now() - interval '400 days'
      limit $1`,
    [archiveRows],
  );
  log(`  stats_archive ${archived.rowCount.toLocaleString('en')}`);
  await client.query('drop table seed_category_sets, seed_blobs');
}

// ---------------------------------------------------------------- the CSV download

/** One GET of the CSV, read as a stream and counted, never kept. */
async function downloadCsv(url, jar) {
  const started = performance.now();
  const res = await fetch(url, { headers: { cookie: jar.header() } });
  const firstByteMs = performance.now() - started;
  let bytes = 0;
  for await (const chunk of res.body) bytes += chunk.length;
  return {
    status: res.status,
    content_type: res.headers.get('content-type'),
    bytes,
    first_byte_ms: round(firstByteMs),
    total_ms: round(performance.now() - started),
  };
}

// ---------------------------------------------------------------- the bench

/** The eight whole quarters ending with the current one (the statistics page's default), as 'YYYY-Qn'. */
function twoYearPeriod(now = new Date()) {
  const current = now.getUTCFullYear() * 4 + Math.floor(now.getUTCMonth() / 3);
  const text = (q) => `${Math.floor(q / 4)}-Q${(q % 4) + 1}`;
  return { from: text(current - 7), to: text(current) };
}

/**
 * Runs the statistics benchmark and returns its result object. `onCleanup(fn)`
 * registers clean-up steps with a caller that has its own signal handling
 * (bench/run.js); without it the function cleans up after itself.
 */
export async function runStatsBench({ log = defaultLog, onCleanup = null } = {}) {
  const rows = positive(process.env.BENCH_STATS_ROWS, 1_000_000);
  const iterations = positive(process.env.BENCH_STATS_ITERATIONS, 10);
  if (!fs.existsSync(path.join(DIST, 'stats', 'tables.js'))) throw new Error('dist/server/stats/tables.js is missing: run `npm run build` first');
  const { readySodium, newTotpSecret, currentTotp } = await importDist('crypto/index.js');
  const { setupOrganisation, currentTeamKey } = await importDist('setup/service.js');
  const { createUser, wrapTotpSecret } = await importDist('staff/users.js');
  const { buildStatistics, periodOf } = await importDist('stats/tables.js');
  const { DEFAULT_RULES } = await importDist('stats/disclosure.js');
  await readySodium();

  const own = cleanupStack(log);
  const register = onCleanup ?? own.push;
  try {
    const {
      url,
      label: databaseLabel,
      db,
    } = await openBenchDatabase('BENCH_STATS_DATABASE_URL', `harbour_bench_stats_${process.pid}`, { poolSize: 10, register, log });
    const result = {
      rows,
      iterations,
      database: databaseLabel,
      machine: { cpus: os.cpus().length, loadavg_1m_at_start: round(os.loadavg()[0]), loadavg_1m_at_end: null },
      seeding: null,
      data: null,
      targets: TARGETS,
    };

    const installed = await db.selectFrom('installation').select('id').executeTakeFirst();
    if (!installed) await setupOrganisation(db, { orgName: 'Statistics bench' });
    const existing = Number((await withClient(url, (c) => c.query('select count(*) from reports'))).rows[0].count);
    if (existing === 0) {
      log(`seeding ${rows.toLocaleString('en')} reports in PostgreSQL`);
      const t0 = performance.now();
      const archiveRows = Math.round(rows / 20);
      const teamKeyId = (await currentTeamKey(db)).id;
      await withClient(url, (c) => seedReports(c, { rows, archiveRows, teamKeyId, log }));
      const seconds = (performance.now() - t0) / 1000;
      log(`seeded in ${round(seconds, 1)} s; VACUUM ANALYZE`);
      const t1 = performance.now();
      await withClient(url, (c) => c.query('vacuum analyze reports, referrals, stats_archive'));
      result.seeding = {
        seconds: round(seconds, 1),
        rows_per_second: Math.round(rows / seconds),
        vacuum_analyze_seconds: round((performance.now() - t1) / 1000, 1),
      };
    } else {
      log(`database already holds ${existing.toLocaleString('en')} reports: not seeding`);
      result.rows = existing;
    }

    const quarters = twoYearPeriod();
    const period = periodOf(quarters.from, quarters.to);
    result.data = await withClient(url, async (c) => {
      const {
        rows: [d],
      } = await c.query(
        `select (select count(*) from reports where state = 'submitted') as reports,
                (select count(*) from reports where state = 'submitted' and submitted_at >= $1::date
                    and submitted_at < $2::date + interval '3 months') as reports_in_period,
                (select count(*) from referrals) as referrals,
                (select count(*) from stats_archive) as archive_rows,
                (select count(*) from stats_archive where quarter between $1::date and $2::date) as archive_rows_in_period,
                pg_size_pretty(pg_table_size('reports')) as reports_table_size`,
        [period.from, period.to],
      );
      return { period: quarters, ...Object.fromEntries(Object.entries(d).map(([k, v]) => [k, /^\d+$/.test(v) ? Number(v) : v])) };
    });
    log(
      `period ${quarters.from} to ${quarters.to}: ${result.data.reports_in_period.toLocaleString('en')} reports of ${result.data.reports.toLocaleString('en')}`,
    );

    // (a) Every table, as the page, CSV and JSON build them (labels do not touch the database).
    const label = (_kind, code) => code;
    const build = () => buildStatistics(db, period, DEFAULT_RULES, label);
    let sample = null;
    for (let i = 0; i < WARM_UP; i++) sample = await build();
    const ms = [];
    for (let i = 0; i < iterations; i++) {
      const t = performance.now();
      await build();
      ms.push(performance.now() - t);
      log(`  build ${i + 1}/${iterations}: ${round(ms[i])} ms`);
    }
    result.build = {
      tables: sample.tables.length + 1, // and the first-response table
      cells: sample.tables.reduce((n, tb) => n + tb.rows.length * tb.columns.length, 0),
      p50_ms: round(percentile(ms, 50)),
      p90_ms: round(percentile(ms, 90)),
      p99_ms: round(percentile(ms, 99)),
      max_ms: round(Math.max(...ms)),
      mean_ms: round(mean(ms)),
    };
    log(`build: p50 ${result.build.p50_ms} ms, p99 ${result.build.p99_ms} ms`);

    // (b) The real server streams the CSV to a signed-in administrator.
    result.csv = await csvPhase({
      url,
      period: quarters,
      log,
      register,
      createAdmin: async () => {
        const email = `stats-bench-${Date.now().toString(36)}@example.org`;
        const password = `statistics bench passphrase ${randomBytes(4).toString('hex')}`;
        const { id, wrapKey } = await createUser(db, { email, displayName: 'Statistics bench', roles: ['admin'], password });
        const totpSecret = newTotpSecret();
        await db
          .updateTable('users')
          .set({ totp_secret_wrapped: wrapTotpSecret(wrapKey, id, totpSecret) })
          .where('id', '=', id)
          .execute();
        return { email, password, totpSecret, currentTotp };
      },
    });
    log(`csv: RSS ${result.csv.rss_before_mb} → peak ${result.csv.peak_rss_mb} MB (kernel HWM ${result.csv.peak_rss_kernel_hwm_mb} MB)`);

    result.checks = {
      stats_build_p50_ok: result.build.p50_ms !== null && result.build.p50_ms < TARGETS.stats_build_p50_ms_max,
      csv_export_ok: result.csv.downloads.every((d) => d.status === 200 && d.bytes > 0),
      csv_export_peak_rss_ok: Math.max(result.csv.peak_rss_mb, result.csv.peak_rss_kernel_hwm_mb ?? 0) < TARGETS.csv_export_peak_rss_mb_max,
    };
    result.machine.loadavg_1m_at_end = round(os.loadavg()[0]);
    return result;
  } finally {
    if (!onCleanup) await own.run();
  }
}

async function csvPhase({ url, period, log, register, createAdmin }) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'harbour-bench-stats-'));
  register(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = serverEnv({ databaseUrl: url, dataDir, port });
  const admin = await createAdmin();
  log(`csv: starting the server on ${base}`);
  // Warnings and errors only (LOG_LEVEL=warn); shown, never parsed.
  const onOutput = (stream) => stream.on('data', (d) => log(`server: ${String(d).trim().slice(0, 1000)}`));
  const server = await startServer({ env, base, readyPath: '/healthz', onOutput, register, log });
  try {
    const jar = new CookieJar();
    await signInOnce(base, admin, admin.currentTotp, jar);
    const csvUrl = `${base}/admin/statistics.csv?from=${period.from}&to=${period.to}`;

    await sleep(1000); // let sign-in's garbage settle before the baseline
    const rssBefore = await meanRssMb(server.pid, 10, 50);
    // Reset the kernel's peak-RSS counter (VmHWM) so it covers the downloads alone; else the 20 ms samples remain.
    const hwmReset = resetPeakRss(server.pid);
    const sampler = rssSampler(server.pid, RSS_SAMPLE_MS);
    const downloads = [];
    for (let i = 0; i < CSV_DOWNLOADS; i++) {
      downloads.push(await downloadCsv(csvUrl, jar));
      log(`csv: download ${i + 1}/${CSV_DOWNLOADS}: status ${downloads[i].status}, ${downloads[i].bytes} bytes in ${downloads[i].total_ms} ms`);
    }
    const samples = sampler.stop();
    const hwm = hwmReset ? procStatusMb(server.pid, 'VmHWM') : null;
    return {
      url: `/admin/statistics.csv?from=${period.from}&to=${period.to}`,
      downloads,
      bytes: downloads[0].bytes,
      first_download_ms: downloads[0].total_ms,
      rss_before_mb: round(rssBefore, 1),
      peak_rss_mb: round(Math.max(...samples), 1),
      peak_rss_kernel_hwm_mb: round(hwm, 1),
      peak_rss_above_before_mb: round(Math.max(...samples) - rssBefore, 1),
      rss_after_mb: round(samples[samples.length - 1], 1),
      rss_samples: samples.length,
      rss_sample_interval_ms: RSS_SAMPLE_MS,
    };
  } finally {
    await server.stop();
  }
}

// Standalone: npm run bench:stats
if (isMain(import.meta.url)) {
  runStandalone('harbour-stats', runStatsBench, defaultLog);
}
