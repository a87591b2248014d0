// Caseworker queue benchmark: `npm run build && node bench/queue.js`, and
// part of `npm run bench` (bench/run.js puts the result under "queue").
//
// On a fresh PostgreSQL database (created and dropped): migrations, an
// organisation, 12 fictional caseworkers and BENCH_QUEUE_ROWS seeded cases
// (default 100,000; each a real encrypted report), then VACUUM ANALYZE (the
// steady state autovacuum reaches). Then it calls the queue's query
// functions directly, as the page handler does, and times them:
//   first_page     the default view (open cases, newest first)
//   page_500       page 500 of all cases, newest first (cursor walked 499 times first)
//   filtered_page  category=family, community=uyghur, open
// and the other sorts and filters, the status counts, and every query the
// page runs together. Each: a warm-up, then BENCH_QUEUE_ITERATIONS runs
// (default 50); p50 and p99 in milliseconds. Target: p99 < 50 ms each.
// Environment:
//   BENCH_PG_ADMIN_URL        where to create the throw-away database
//                             (default postgres://postgres@127.0.0.1:5432/postgres)
//   BENCH_QUEUE_DATABASE_URL  use this database instead; seeded only if it has no reports, never dropped
//   BENCH_QUEUE_EXTRA_SQL     a .sql file run after the migrations (to try indexes before they have a migration)
// One JSON object goes to stdout; progress goes to stderr.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { cleanupStack, DIST, importDist, isMain, mean, openBenchDatabase, percentile, positive, round, runStandalone, withClient } from './lib.js';

const TARGET_P99_MS = 50;
const DEEP_PAGE = 500;
const WARM_UP = 5;

const defaultLog = (msg) => process.stderr.write(`[bench:queue] ${msg}\n`);

/**
 * Runs the queue benchmark and returns its result object. `onCleanup(fn)`
 * registers the database drop with a caller that has its own signal
 * handling (bench/run.js); without it the function cleans up after itself.
 */
export async function runQueueBench({ log = defaultLog, onCleanup = null } = {}) {
  const rows = positive(process.env.BENCH_QUEUE_ROWS, 100_000);
  const iterations = positive(process.env.BENCH_QUEUE_ITERATIONS, 50);
  if (!fs.existsSync(path.join(DIST, 'cases', 'queue-queries.js'))) {
    throw new Error('dist/server/cases/queue-queries.js is missing: run `npm run build` first');
  }
  const { readySodium } = await importDist('crypto/index.js');
  const { setupOrganisation, currentTeamKey } = await importDist('setup/service.js');
  const { loadLists } = await importDist('settings/lists.js');
  const { seedCases, seedCaseworkers } = await importDist('demo/seed.js');
  const { listQueue, countsByStatus, listAssignees, decodeCursor, DEFAULT_QUEUE_QUERY } = await importDist('cases/queue-queries.js');
  await readySodium();

  const own = cleanupStack(log);
  const register = onCleanup ?? own.push;
  try {
    const {
      url,
      label: databaseLabel,
      db,
    } = await openBenchDatabase('BENCH_QUEUE_DATABASE_URL', `harbour_bench_queue_${process.pid}`, { poolSize: 5, register, log });
    if (process.env.BENCH_QUEUE_EXTRA_SQL) {
      log(`running ${process.env.BENCH_QUEUE_EXTRA_SQL}`);
      const text = fs.readFileSync(process.env.BENCH_QUEUE_EXTRA_SQL, 'utf8');
      await withClient(url, (c) => c.query(text));
    }
    const result = {
      rows,
      iterations,
      database: databaseLabel,
      machine: { cpus: os.cpus().length, loadavg_1m_at_start: round(os.loadavg()[0]), loadavg_1m_at_end: null },
      seeding: null,
      targets: { p99_ms_max: TARGET_P99_MS },
    };

    const existing = Number((await withClient(url, (c) => c.query(`select count(*) from reports`))).rows[0].count);
    if (existing === 0) {
      const setUp = await withClient(url, (c) => c.query('select 1 from installation'));
      if (setUp.rowCount === 0) await setupOrganisation(db, { orgName: 'Queue bench' });
      const assigneeIds = await seedCaseworkers(db, 12);
      log(`seeding ${rows} cases`);
      const t0 = performance.now();
      await seedCases(db, { count: rows, teamKey: await currentTeamKey(db), assigneeIds });
      const seconds = (performance.now() - t0) / 1000;
      log(`seeded in ${round(seconds, 1)} s; VACUUM ANALYZE`);
      const t1 = performance.now();
      await withClient(url, (c) => c.query('vacuum analyze reports'));
      result.seeding = {
        seconds: round(seconds, 1),
        rows_per_second: Math.round(rows / seconds),
        encryption_threads: rows >= 5000 ? Math.min(4, os.availableParallelism()) : 0, // as seedCases decides
        vacuum_analyze_seconds: round((performance.now() - t1) / 1000, 1),
      };
    } else {
      log(`database already holds ${existing} reports: not seeding`);
      result.rows = existing;
    }

    // The configuration's defaults (server/config.ts), in the shape the queue page passes.
    const policy = { targets: { triageHours: 48, urgentTriageHours: 12, replyDays: 7 }, closedRetentionDays: 365 };
    const Q = (o = {}) => ({ ...DEFAULT_QUEUE_QUERY, ...o });
    const page = (q) => listQueue(db, q, policy);

    /** Follows the cursor until page `n` (or the last page); returns that page's query and number. */
    async function walkTo(q, n) {
      let cursor = null;
      let reached = 1;
      const t = performance.now();
      for (; reached < n; reached++) {
        const p = await page({ ...q, cursor });
        if (!p.nextCursor) break;
        cursor = decodeCursor(p.nextCursor);
      }
      return { query: { ...q, cursor }, page: reached, walk_ms: round(performance.now() - t) };
    }

    async function time(name, fn, extra = {}) {
      let sample = null;
      for (let i = 0; i < WARM_UP; i++) sample = await fn();
      const ms = [];
      for (let i = 0; i < iterations; i++) {
        const t = performance.now();
        await fn();
        ms.push(performance.now() - t);
      }
      const stats = {
        ...extra,
        rows: Array.isArray(sample?.rows) ? sample.rows.length : undefined,
        p50_ms: round(percentile(ms, 50)),
        p99_ms: round(percentile(ms, 99)),
        mean_ms: round(mean(ms)),
        max_ms: round(Math.max(...ms)),
      };
      log(`${name}: p50 ${stats.p50_ms} ms, p99 ${stats.p99_ms} ms`);
      return stats;
    }

    const someone = (await listAssignees(db))[0]?.id ?? null;
    const deepAll = await walkTo(Q({ status: 'all' }), DEEP_PAGE);
    const deepOldest = await walkTo(Q({ status: 'all', sort: 'oldest' }), DEEP_PAGE);
    const deepUrgent = await walkTo(Q({ status: 'all', sort: 'urgent' }), DEEP_PAGE);
    const deepOpen = await walkTo(Q(), DEEP_PAGE);
    const filtered = Q({ category: 'family', community: 'uyghur' });
    const deepFiltered = await walkTo(filtered, 20);

    const s = {};
    s.first_page = await time('first_page', () => page(Q()));
    s.page_500 = await time('page_500', () => page(deepAll.query), { page: deepAll.page, walk_499_ms: deepAll.walk_ms });
    s.filtered_page = await time('filtered_page', () => page(filtered));
    s.filtered_page_20 = await time('filtered_page_20', () => page(deepFiltered.query), { page: deepFiltered.page });
    s.page_500_oldest_first = await time('page_500_oldest_first', () => page(deepOldest.query), { page: deepOldest.page });
    s.urgent_first_page = await time('urgent_first_page', () => page(Q({ sort: 'urgent' })));
    s.page_500_urgent_first = await time('page_500_urgent_first', () => page(deepUrgent.query), { page: deepUrgent.page });
    s.deepest_open_page = await time('deepest_open_page', () => page(deepOpen.query), { page: deepOpen.page });
    s.overdue_page = await time('overdue_page', () => page(Q({ overdue: true })));
    s.unread_page = await time('unread_page', () => page(Q({ status: 'all', unread: true })));
    // Labels are codes of the administrator's list; the seed's "hendon" is one of them.
    const hendon = (await loadLists(db)).label.find((item) => item.labels.en === 'hendon')?.code;
    if (!hendon) throw new Error('the seeded label list has no "hendon"');
    s.label_page = await time('label_page', () => page(Q({ status: 'all', label: hendon })));
    s.unassigned_new_page = await time('unassigned_new_page', () => page(Q({ status: 'new', assignee: 'none' })));
    if (someone) s.assignee_page = await time('assignee_page', () => page(Q({ status: 'all', assignee: someone })));
    s.rare_filter_page = await time('rare_filter_page', () =>
      page(Q({ status: 'all', category: 'legal', community: 'southern_mongolian', region: 'wales' })),
    );
    s.counts_by_status = await time('counts_by_status', () => countsByStatus(db));
    // What GET /staff/cases waits for: its queries run together.
    s.page_queries_together = await time('page_queries_together', () =>
      Promise.all([page(Q()), countsByStatus(db), listAssignees(db), loadLists(db)]),
    );

    result.scenarios = s;
    result.checks = Object.fromEntries(Object.entries(s).map(([k, v]) => [`${k}_p99_ok`, v.p99_ms !== null && v.p99_ms < TARGET_P99_MS]));
    result.all_p99_under_target = Object.values(result.checks).every(Boolean);
    result.machine.loadavg_1m_at_end = round(os.loadavg()[0]);
    return result;
  } finally {
    if (!onCleanup) await own.run();
  }
}

// Standalone: node bench/queue.js
if (isMain(import.meta.url)) {
  runStandalone('harbour-queue', runQueueBench, defaultLog);
}
