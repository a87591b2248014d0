// Staff sign-in under load: 20 concurrent sign-ins (password, then TOTP),
// with the event loop's delay measured alongside. Argon2id (64 MiB) runs in
// libuv's thread pool behind a per-process limit, so the loop must stay free
// (target: event-loop p99 lag under 50 ms).
//
// Runs the app in this process (createApp + node:http on 127.0.0.1), so the
// event-loop monitor sees the server's own loop. Needs `npm run build`.
// Standalone: `node bench/signin.js` (uses BENCH_DATABASE_URL or creates and
// drops a database); bench/run.js calls signInBench(url).
import { createServer } from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const CONCURRENT = 20;
const ROUNDS = 3;
const dist = (p) => new URL(`../dist/server/${p}`, import.meta.url).href;
const round = (n) => Math.round(n * 100) / 100;
const pct = (values, p) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : null;
};

export function cookieJar() {
  const jar = new Map();
  return {
    header: () => [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
    take(res) {
      for (const line of res.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const i = pair.indexOf('=');
        const name = pair.slice(0, i);
        const value = pair.slice(i + 1);
        if (value) jar.set(name, value);
        else jar.delete(name);
      }
    },
  };
}

/** Signs in through the real pages (password, then TOTP code); `jar` keeps the session cookie. Returns the time taken (ms). */
export async function signInOnce(base, user, currentTotp, jar = cookieJar()) {
  const form = await fetch(`${base}/staff/sign-in`);
  jar.take(form);
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())[1];
  const start = performance.now();
  const pw = await fetch(`${base}/staff/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
    body: new URLSearchParams({ _csrf: token, email: user.email, password: user.password }),
  });
  jar.take(pw);
  if (pw.status !== 303) throw new Error(`password step: ${pw.status}`);
  const two = await fetch(`${base}/staff/two-factor`, { headers: { cookie: jar.header() } });
  jar.take(two);
  const token2 = /name="_csrf" value="([^"]+)"/.exec(await two.text())[1];
  const code = await fetch(`${base}/staff/two-factor`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
    body: new URLSearchParams({ _csrf: token2, code: currentTotp(user.totpSecret) }),
  });
  const ms = performance.now() - start;
  jar.take(code); // the signed-in session cookie, for callers that go on
  if (code.status !== 303) throw new Error(`code step: ${code.status}`);
  return ms;
}

export async function signInBench(databaseUrl) {
  const [{ createApp }, { loadConfig }, db, crypto, { createLogger }, { setupOrganisation }, users] = await Promise.all([
    import(dist('app.js')),
    import(dist('config.js')),
    import(dist('db/index.js')),
    import(dist('crypto/index.js')),
    import(dist('logger.js')),
    import(dist('setup/service.js')),
    import(dist('staff/users.js')),
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
    await kysely.updateTable('users').set({ totp_secret_wrapped: users.wrapTotpSecret(wrapKey, id, totpSecret) }).where('id', '=', id).execute();
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
    latency_p50_ms: round(pct(latencies, 50)),
    latency_p99_ms: round(pct(latencies, 99)),
    event_loop_lag_p50_ms: ms(loop.percentile(50)),
    event_loop_lag_p99_ms: ms(loop.percentile(99)),
    event_loop_lag_max_ms: ms(loop.max),
    password_argon2: { memory_cost_kib: crypto.PASSWORD_ARGON2.memoryCost, time_cost: crypto.PASSWORD_ARGON2.timeCost, parallelism: crypto.PASSWORD_ARGON2.parallelism },
    target_event_loop_lag_p99_ms_max: 50,
  };
}

// Standalone run.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const admin = process.env.BENCH_PG_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  let url = process.env.BENCH_DATABASE_URL;
  let created = null;
  if (!url) {
    created = `harbour_bench_signin_${process.pid}`;
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`create database ${created}`);
    await c.end();
    const u = new URL(admin);
    u.pathname = `/${created}`;
    url = u.toString();
  }
  try {
    process.stdout.write(JSON.stringify(await signInBench(url), null, 2) + '\n');
  } finally {
    if (created) {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`drop database if exists ${created}`);
      await c.end();
    }
  }
}
