// Staff sign-in under load: 20 concurrent sign-ins (password, then TOTP),
// with the event loop's delay measured alongside. Argon2id (64 MiB) runs in
// libuv's thread pool behind a per-process limit, so the loop must stay free
// (target: event-loop p99 lag under 50 ms).
//
// Runs the app in this process (createApp + node:http on 127.0.0.1), so the
// event-loop monitor sees the server's own loop. Needs `npm run build`.
// Standalone: `node bench/signin.js` (uses BENCH_DATABASE_URL or creates and
// drops a database; BENCH_PG_ADMIN_URL as in bench/run.js); bench/run.js
// calls signInBench(url).
import { createServer } from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { benchDatabase, cleanupStack, CookieJar, csrfToken, importDist, isMain, percentile, round } from './lib.js';

const CONCURRENT = 20;
const ROUNDS = 3;
const log = (msg) => process.stderr.write(`[bench:signin] ${msg}\n`);

/** GET `path` for its form's CSRF token (and cookies into `jar`). */
async function formToken(base, path, jar) {
  const res = await fetch(`${base}${path}`, { headers: { cookie: jar.header() } });
  jar.storeFrom(res.headers);
  const token = csrfToken(await res.text());
  if (!token) throw new Error(`GET ${path}: status ${res.status}, no CSRF token`);
  return token;
}

/** POSTs `fields` to `path` as a browser form, without following the redirect; its cookies go into `jar`. */
async function postForm(base, path, jar, fields) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
    body: new URLSearchParams(fields),
  });
  jar.storeFrom(res.headers);
  return res;
}

/** Signs in through the real pages (password, then TOTP code); `jar` keeps the session cookie. Returns the time taken (ms). */
export async function signInOnce(base, user, currentTotp, jar = new CookieJar()) {
  const token = await formToken(base, '/staff/sign-in', jar);
  const start = performance.now();
  const pw = await postForm(base, '/staff/sign-in', jar, { _csrf: token, email: user.email, password: user.password });
  if (pw.status !== 303) throw new Error(`password step: ${pw.status}`);
  const token2 = await formToken(base, '/staff/two-factor', jar);
  const code = await postForm(base, '/staff/two-factor', jar, { _csrf: token2, code: currentTotp(user.totpSecret) });
  const ms = performance.now() - start;
  // The jar now holds the signed-in session cookie, for callers that go on.
  if (code.status !== 303) throw new Error(`code step: ${code.status}`);
  return ms;
}

export async function signInBench(databaseUrl) {
  const [{ createApp }, { loadConfig }, db, crypto, { createLogger }, { setupOrganisation }, users] = await Promise.all([
    importDist('app.js'),
    importDist('config.js'),
    importDist('db/index.js'),
    importDist('crypto/index.js'),
    importDist('logger.js'),
    importDist('setup/service.js'),
    importDist('staff/users.js'),
  ]);
  await crypto.readySodium();
  const kysely = await db.createDb({ kind: 'postgres', url: databaseUrl, poolSize: 20 });
  await db.migrateToLatest(kysely);
  const inst = await kysely.selectFrom('installation').select('id').executeTakeFirst();
  if (!inst) await setupOrganisation(kysely, { orgName: 'Bench' });

  // 20 × ROUNDS accounts, second factor enrolled (each TOTP code works once).
  const accounts = [];
  const tag = Date.now().toString(36);
  for (let i = 0; i < CONCURRENT * ROUNDS; i++) {
    const email = `bench-${tag}-${i}@example.org`;
    const password = `bench passphrase number ${i} ${tag}`;
    const { id, wrapKey } = await users.createUser(kysely, { email, displayName: `Bench ${i}`, roles: ['caseworker'], password });
    const totpSecret = crypto.newTotpSecret();
    await kysely
      .updateTable('users')
      .set({ totp_secret_wrapped: users.wrapTotpSecret(wrapKey, id, totpSecret) })
      .where('id', '=', id)
      .execute();
    accounts.push({ email, password, totpSecret });
  }

  const config = loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'silent', SIGN_IN_FAILURES_PER_IP: '10000' });
  const logger = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
  const { app } = await createApp({ config, db: kysely, logger });
  const server = createServer(app);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;

  const loop = monitorEventLoopDelay({ resolution: 5 });
  const latencies = [];
  const t0 = performance.now();
  loop.enable();
  for (let r = 0; r < ROUNDS; r++) {
    const batch = accounts.slice(r * CONCURRENT, (r + 1) * CONCURRENT);
    latencies.push(...(await Promise.all(batch.map((u) => signInOnce(base, u, crypto.currentTotp)))));
  }
  loop.disable();
  const seconds = (performance.now() - t0) / 1000;
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await kysely.destroy();
  const ms = (ns) => round(ns / 1e6);
  return {
    concurrent: CONCURRENT,
    rounds: ROUNDS,
    sign_ins: latencies.length,
    sign_ins_per_second: round(latencies.length / seconds),
    latency_p50_ms: round(percentile(latencies, 50)),
    latency_p99_ms: round(percentile(latencies, 99)),
    event_loop_lag_p50_ms: ms(loop.percentile(50)),
    event_loop_lag_p99_ms: ms(loop.percentile(99)),
    event_loop_lag_max_ms: ms(loop.max),
    password_argon2: {
      memory_cost_kib: crypto.PASSWORD_ARGON2.memoryCost,
      time_cost: crypto.PASSWORD_ARGON2.timeCost,
      parallelism: crypto.PASSWORD_ARGON2.parallelism,
    },
    target_event_loop_lag_p99_ms_max: 50,
  };
}

// Standalone run: prints signInBench's result as is.
if (isMain(import.meta.url)) {
  const cleanups = cleanupStack(log);
  try {
    const { url } = await benchDatabase('BENCH_DATABASE_URL', `harbour_bench_signin_${process.pid}`, { register: cleanups.push, log });
    process.stdout.write(JSON.stringify(await signInBench(url), null, 2) + '\n');
  } finally {
    await cleanups.run();
  }
}
