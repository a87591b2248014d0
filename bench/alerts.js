// E-mail alerts under load (issue 11), through HTTP against the built server:
//   1. the submission flood (16 submitters) with alerts off and with alerts on,
//      alternated BENCH_ALERTS_PAIRS times (default 3) in the same run, every caseworker set to "others at
//      once" so each report writes an alert per caseworker (the worst case);
//      alerts written per second, and the flood's rate with alerts on beside
//      the rate without (target: no more than 5% lower);
//   2. the time from an urgent submission to its messages accepted by a local
//      SMTP server (smtp-server in this process), with the worker's default
//      poll: sequential urgent reports at random moments (target p99 < 5 s).
// Standalone: `node bench/alerts.js` (after `npm run build`); bench/run.js
// calls runAlertsBench. Environment: BENCH_ALERTS_SECONDS (each flood round,
// default 12), BENCH_ALERTS_URGENT (urgent samples, default 40),
// BENCH_ALERTS_DATABASE_URL (use this database instead of a fresh one).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SMTPServer } from 'smtp-server';
import {
  benchDatabase,
  cleanupStack,
  CookieJar,
  freePort,
  isMain,
  percentile,
  positive,
  ROOT,
  round,
  runStandalone,
  serverEnv,
  sleep,
  startServer,
  withClient,
} from './lib.js';
import { fetchForm, postReport } from './reporter-client.js';

const ROUND_SECONDS = positive(process.env.BENCH_ALERTS_SECONDS, 12, { integer: false });
const URGENT_SAMPLES = positive(process.env.BENCH_ALERTS_URGENT, 40);
const PAIRS = positive(process.env.BENCH_ALERTS_PAIRS, 3);
const SUBMITTERS = 16;
const TARGETS = Object.freeze({ flood_rate_drop_pct_max: 5, urgent_to_smtp_p99_ms_max: 5000 });

/** An SMTP server on 127.0.0.1 that accepts everything and notes when each message's DATA ended. */
async function localSmtp() {
  const arrivals = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      stream.on('end', () => {
        arrivals.push(performance.now());
        callback();
      });
      stream.resume();
    },
  });
  const port = await freePort();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { port, arrivals, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** Runs `harbour ARGS`; resolves with its standard output (kept in memory only: setup's holds the recovery key). */
function cli(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/harbour.js', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`harbour ${args[0]} failed (exit ${code}): ${stderr.trim()}`))));
  });
}

/**
 * Three caseworkers whose access is approved (the alerts' recipients), made
 * as an organisation would: the first administrator at set-up (also a
 * caseworker), two more added and given the team key with the recovery key.
 */
async function setUpWithCaseworkers(env, dir) {
  const pw = path.join(dir, 'pw.txt');
  fs.writeFileSync(pw, 'bench caseworker passphrase\n', { mode: 0o600 });
  const out = await cli(['setup', '--org', 'Bench', '--admin-email', 'lead@bench.invalid', '--admin-name', 'Lead', '--password-file', pw], env);
  const key = /([0-9A-F]{8}(?:-[0-9A-F]{8}){7}-[0-9A-F]{4})/.exec(out)?.[1];
  if (!key) throw new Error('harbour setup printed no recovery key');
  const keyFile = path.join(dir, 'recovery.txt');
  fs.writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  for (const name of ['cw1', 'cw2']) {
    await cli(['user', 'add', '--email', `${name}@bench.invalid`, '--name', name, '--roles', 'caseworker', '--password-file', pw], env);
    await cli(['recover', '--email', `${name}@bench.invalid`, '--recovery-key-file', keyFile], env);
  }
  fs.rmSync(keyFile);
}

/** 16 submitters for `seconds`: successful submissions per second, and how many alerts were written meanwhile. */
async function flood(base, dbUrl, seconds) {
  const outboxBefore = await countOutbox(dbUrl);
  const deadline = Date.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: SUBMITTERS }, async () => {
      const jar = new CookieJar();
      while (Date.now() < deadline) {
        try {
          const r = await postReport(base, jar, await fetchForm(base, jar));
          if (r.ok) ok++;
          else failed++;
        } catch {
          failed++;
          await sleep(50);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const written = (await countOutbox(dbUrl)) - outboxBefore;
  return {
    submissions_per_second: ok / elapsed,
    successes: ok,
    errors: failed,
    alerts_written: written,
    alerts_per_second: written / elapsed,
    seconds: elapsed,
  };
}

const countOutbox = (url) => withClient(url, async (c) => Number((await c.query('select count(*)::int as n from mail_outbox')).rows[0].n));

/**
 * Whom the alerts go to: the approved caseworkers, set to `others` for everything but urgent reports,
 * and signed in "after" every alert (infinity), so the not-signed-in-since rule never holds one back.
 */
async function setPreferences(url, others) {
  await withClient(url, (c) => c.query(`update users set alert_others = $1, alert_urgent = 'now', last_signed_in_at = 'infinity'`, [others]));
}

const defaultLog = (msg) => process.stderr.write(`[bench:alerts] ${msg}\n`);

export async function runAlertsBench({ log = defaultLog, onCleanup }) {
  // This bench's own servers, SMTP server and folder go when it ends; the database at the caller's clean-up.
  const own = cleanupStack(log);
  const register = own.push;
  try {
    const smtp = await localSmtp();
    register(smtp.close);
    const db = await benchDatabase('BENCH_ALERTS_DATABASE_URL', `harbour_bench_alerts_${process.pid}`, { register: onCleanup, log });
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'harbour-bench-alerts-'));
    register(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const offEnv = serverEnv({ databaseUrl: db.url, dataDir, port });
    const onEnv = { ...offEnv, SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, SMTP_TLS: 'off', MAIL_FROM: 'harbour@bench.invalid' };

    await setUpWithCaseworkers(offEnv, dataDir);
    const recipients = await withClient(db.url, async (c) =>
      Number((await c.query(`select count(*)::int as n from users where status = 'active' and 'caseworker' = any(roles)`)).rows[0].n),
    );

    if (recipients !== 3) throw new Error(`expected 3 caseworkers, found ${recipients}`);
    const serve = async (env) => {
      const server = await startServer({ env, base, readyPath: '/en/', onOutput: (s) => s.resume(), register, log });
      for (let i = 0; i < 3; i++) await postReport(base, new CookieJar(), await fetchForm(base, new CookieJar())).catch(() => {});
      return server;
    };
    // Every caseworker wants every alert at once: each report writes one row per caseworker.
    await setPreferences(db.url, 'now');
    const rounds = { off: [], on: [] };
    // off, on, on, off, off, on …: each mode as often first as second, so a drift in the machine's speed cancels out.
    const order = Array.from({ length: PAIRS }, (_, i) => (i % 2 ? ['on', 'off'] : ['off', 'on'])).flat();
    for (const mode of order) {
      const server = await serve(mode === 'on' ? onEnv : offEnv);
      log(`flood with alerts ${mode} for ${ROUND_SECONDS} s`);
      const r = await flood(base, db.url, ROUND_SECONDS);
      log(`  ${round(r.submissions_per_second)}/s, ${r.alerts_written} alerts written`);
      rounds[mode].push(r);
      await server.stop({ killAfterMs: 15_000 });
    }
    const spread = (list) => {
      const r = list.map((x) => x.submissions_per_second);
      return ((Math.max(...r) - Math.min(...r)) / Math.min(...r)) * 100;
    };
    const rate = (list) => list.reduce((a, r) => a + r.successes, 0) / list.reduce((a, r) => a + r.seconds, 0);
    const offRate = rate(rounds.off);
    const onRate = rate(rounds.on);
    const alertsPerSecond = rounds.on.reduce((a, r) => a + r.alerts_written, 0) / rounds.on.reduce((a, r) => a + r.seconds, 0);

    // Urgent latency: only urgent reports mail at once now; the flood's backlog is sent first.
    await setPreferences(db.url, 'digest');
    const server = await serve(onEnv);
    log('waiting for the flood’s alerts to be sent');
    const backlogDeadline = Date.now() + 600_000;
    while ((await withClient(db.url, (c) => c.query(`select 1 from mail_outbox where state in ('pending', 'sending') limit 1`))).rowCount > 0) {
      if (Date.now() > backlogDeadline) throw new Error('the outbox did not drain within 10 minutes');
      await sleep(500);
    }
    const drainedAt = smtp.arrivals.length;
    log(`${drainedAt} messages accepted so far; ${URGENT_SAMPLES} urgent submissions, one at a time`);
    const first = [];
    const last = [];
    let missing = 0;
    for (let i = 0; i < URGENT_SAMPLES; i++) {
      await sleep(Math.random() * 2000); // a random moment in the worker's poll
      const seen = smtp.arrivals.length;
      const jar = new CookieJar();
      const token = await fetchForm(base, jar);
      const t = performance.now();
      const r = await postReport(base, jar, token, { danger_now: 'yes' });
      if (!r.ok) throw new Error(`urgent submission failed: ${r.status}`);
      const deadline = Date.now() + 30_000;
      while (smtp.arrivals.length < seen + recipients && Date.now() < deadline) await sleep(5);
      const mine = smtp.arrivals.slice(seen, seen + recipients);
      if (mine.length < recipients) missing++;
      if (mine.length) {
        first.push(mine[0] - t);
        last.push(mine[mine.length - 1] - t);
      }
    }
    await server.stop({ killAfterMs: 15_000 });

    const dropPct = ((offRate - onRate) / offRate) * 100;
    const result = {
      recipients,
      round_seconds: ROUND_SECONDS,
      submitters: SUBMITTERS,
      flood: {
        alerts_off_submissions_per_second: round(offRate),
        alerts_on_submissions_per_second: round(onRate),
        rate_drop_pct: round(dropPct),
        // The spread between rounds of the same mode: a drop smaller than this is noise on this machine.
        alerts_off_spread_pct: round(spread(rounds.off)),
        alerts_on_spread_pct: round(spread(rounds.on)),
        alerts_written_per_second: round(alertsPerSecond),
        rounds: Object.fromEntries(
          Object.entries(rounds).map(([k, list]) => [
            k,
            list.map((r) => ({
              ...r,
              submissions_per_second: round(r.submissions_per_second),
              alerts_per_second: round(r.alerts_per_second),
              seconds: round(r.seconds),
            })),
          ]),
        ),
      },
      urgent_to_smtp: {
        samples: URGENT_SAMPLES,
        missing,
        first_recipient_p50_ms: round(percentile(first, 50)),
        first_recipient_p99_ms: round(percentile(first, 99)),
        all_recipients_p50_ms: round(percentile(last, 50)),
        all_recipients_p99_ms: round(percentile(last, 99)),
        max_ms: round(last.length ? Math.max(...last) : null),
      },
      targets: TARGETS,
    };
    result.checks = {
      flood_rate_drop_ok: dropPct <= TARGETS.flood_rate_drop_pct_max,
      urgent_p99_ok:
        missing === 0 &&
        result.urgent_to_smtp.all_recipients_p99_ms !== null &&
        result.urgent_to_smtp.all_recipients_p99_ms < TARGETS.urgent_to_smtp_p99_ms_max,
    };
    return result;
  } finally {
    await own.run();
  }
}

if (isMain(import.meta.url)) runStandalone('harbour-alerts', runAlertsBench, defaultLog);
