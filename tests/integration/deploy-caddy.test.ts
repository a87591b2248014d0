import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { startCaddy, type Caddy } from '../helpers/caddy.js';
import { HttpsClient, multipart, urlencoded } from '../helpers/https-client.js';
import { freePort } from '../helpers/process.js';
import { VALID_REPORT } from '../helpers/reporter.js';

/**
 * Debian's caddy with deploy/Caddyfile (its site block as shipped; the
 * global options replaced by local_certs, admin off and loopback listeners:
 * tests/helpers/caddy.ts) in front of Harbour over HTTPS with its internal
 * CA, which the client trusts explicitly. On PostgreSQL two instances share
 * one database behind it, round robin; on PGlite there is one (the embedded
 * database belongs to one process). Harbour runs as deploy/harbour.env.example
 * says: PUBLIC_URL https, TRUST_PROXY=1, rate limits on.
 *
 * Clients connect to Caddy from different loopback addresses (127.0.0.2,
 * 127.0.0.3 …), so Caddy sees different clients while nothing leaves the
 * machine.
 */
const POSTGRES = Boolean(process.env['TEST_DATABASE_URL']);
const LIMIT = 3;
let sharedEnv: Record<string, string>;

let dir: string;
let caddy: Caddy;
const instances: { t: TestApp; server: Server; port: number; hits: number }[] = [];
/** The X-Forwarded-For each instance received, in order (Caddy's, as Harbour reads it). */
const forwarded: (string | undefined)[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'harbour-caddy-'));
  const caddyPort = await freePort();
  const env = {
    PUBLIC_URL: `https://harbour.test:${caddyPort}`,
    TRUST_PROXY: '1',
    RATE_LIMITS: 'true',
    RECEIPT_ATTEMPTS_PER_HOUR_PER_IP: String(LIMIT),
    IP_HASH_SECRET: 'one-secret-for-every-instance-0123456789',
  };
  sharedEnv = env;
  const first = await createTestApp({ env });
  const apps = [first];
  if (POSTGRES) apps.push(await createTestApp({ env, testDb: first.testDb, setup: false }));
  for (const t of apps) {
    const entry = { t, server: createServer(), port: 0, hits: 0 };
    entry.server.on('request', (req, res) => {
      if (req.url !== '/healthz') {
        entry.hits++;
        forwarded.push([req.headers['x-forwarded-for']].flat().join(', ') || undefined);
      }
      t.app(req, res);
    });
    entry.server.listen(0, '127.0.0.1');
    await once(entry.server, 'listening');
    entry.port = (entry.server.address() as AddressInfo).port;
    instances.push(entry);
  }
  caddy = await startCaddy(
    dir,
    instances.map((i) => `127.0.0.1:${i.port}`),
    { port: caddyPort },
  );
}, 90_000);
afterAll(async () => {
  await caddy?.stop();
  for (const i of instances) i.server.close();
  await instances[0]?.t.close();
  rmSync(dir, { recursive: true, force: true });
});

const client = (localAddress: string) => new HttpsClient({ ca: caddy.ca, name: caddy.name, port: caddy.port, localAddress });
const tokenOf = (body: string, field: string) => new RegExp(`name="${field}" value="([^"]+)"`).exec(body)?.[1];

async function wrongReceipt(c: HttpsClient, headers: Record<string, string> = {}): Promise<number> {
  const form = await c.request('GET', '/en/status');
  const csrf = tokenOf(form.body, '_csrf')!;
  const res = await c.request('POST', '/en/status', {
    body: urlencoded({ _csrf: csrf, receipt: '10000000000000000000' }),
    type: 'application/x-www-form-urlencoded',
    headers,
  });
  return res.status;
}

describe('Harbour behind Caddy (deploy/Caddyfile) over HTTPS', () => {
  it(`files a report through Caddy and opens it with the receipt${POSTGRES ? ', served by both instances' : ''}`, async () => {
    const before = instances.map((i) => i.hits);
    const reporter = client('127.0.0.4');
    const form = await reporter.request('GET', '/en/report');
    expect(form.status).toBe(200);
    const fields: [string, string][] = [
      ['_csrf', tokenOf(form.body, '_csrf')!],
      ['form_key', tokenOf(form.body, 'form_key')!],
      ...Object.entries(VALID_REPORT).flatMap(([k, v]) => [v].flat().map((one) => [k, one] as [string, string])),
    ];
    const { body, type } = multipart(fields);
    const filed = await reporter.request('POST', '/en/report', { body, type });
    expect(filed.status).toBe(303);
    expect(filed.header('location')).toEqual(['/en/report/receipt']);
    const page = await reporter.request('GET', '/en/report/receipt');
    const receipt = /class="receipt"[^>]*>([\d ]+)</.exec(page.body)![1]!.replace(/ /g, '');
    expect(receipt).toMatch(/^\d{20}$/);

    const later = client('127.0.0.5');
    const signIn = await later.request('GET', '/en/status');
    const opened = await later.request('POST', '/en/status', {
      body: urlencoded({ _csrf: tokenOf(signIn.body, '_csrf')!, receipt }),
      type: 'application/x-www-form-urlencoded',
    });
    expect(opened.status).toBe(303);
    const status = await later.request('GET', opened.header('location')[0]!);
    expect(status.status).toBe(200);
    expect(status.body).toContain(VALID_REPORT['narrative']);
    if (POSTGRES) expect(instances.map((i, n) => i.hits - before[n]!).every((h) => h > 0)).toBe(true);
  });

  it('cookies come through as __Host- and Secure, HttpOnly, SameSite=Strict, Path=/ and no Domain', async () => {
    const res = await client('127.0.0.6').request('GET', '/en/report');
    const cookies = res.header('set-cookie');
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) {
      expect(c).toMatch(/^__Host-/);
      expect(c).toMatch(/;\s*Secure/i);
      expect(c).toMatch(/;\s*HttpOnly/i);
      expect(c).toMatch(/;\s*SameSite=Strict/i);
      expect(c).toMatch(/;\s*Path=\/(;|$)/i);
      expect(c).not.toMatch(/;\s*Domain=/i);
    }
  });

  it('the security headers are Harbour’s, one copy each, unchanged; no Server header', async () => {
    const HEADERS = [
      'content-security-policy',
      'strict-transport-security',
      'x-frame-options',
      'x-content-type-options',
      'referrer-policy',
      'permissions-policy',
      'cross-origin-opener-policy',
      'cross-origin-resource-policy',
      'cache-control',
    ];
    for (const p of ['/en/', '/en/report', '/staff/sign-in']) {
      const via = await client('127.0.0.7').request('GET', p);
      const direct = await request(instances[0]!.t.app).get(p);
      expect(via.status, p).toBe(direct.status);
      for (const h of HEADERS) {
        expect(via.header(h), `${p} ${h}`).toEqual([direct.headers[h]]);
      }
      expect(via.header('content-security-policy')[0]).toContain('upgrade-insecure-requests');
      expect(via.header('server'), p).toEqual([]);
      expect(via.header('x-powered-by'), p).toEqual([]);
    }
  });

  it('TRUST_PROXY=1: each client is limited as itself; a forged X-Forwarded-For is not believed', async () => {
    const a = client('127.0.0.2');
    const tries: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++) tries.push(await wrongReceipt(a));
    expect(tries).toEqual([...Array(LIMIT).fill(422), 429]);
    // The same client claiming to be someone else is still itself (Caddy replaces the header) …
    const seen = forwarded.length;
    expect(await wrongReceipt(a, { 'x-forwarded-for': '203.0.113.7' })).toBe(429);
    expect(forwarded.slice(seen)).toEqual(['127.0.0.2', '127.0.0.2']); // the form and the post: Caddy's own value only
    // … another client is not limited by the first one's failures, not even when it claims to be it.
    const b = client('127.0.0.3');
    expect(await wrongReceipt(b)).toBe(422);
    expect(await wrongReceipt(b, { 'x-forwarded-for': '127.0.0.2' })).toBe(422);
  });

  it.runIf(POSTGRES)('an instance that stops is passed over (lb_try_duration): every request still answers', async () => {
    // Its own Caddy in front of the first instance and a third one, so the other tests' Caddy keeps both of its instances.
    const third = await createTestApp({ env: sharedEnv, testDb: instances[0]!.t.testDb, setup: false });
    const server = createServer(third.app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const own = await startCaddy(mkdtempSync(path.join(dir, 'failover-')), [
      `127.0.0.1:${instances[0]!.port}`,
      `127.0.0.1:${(server.address() as AddressInfo).port}`,
    ]);
    try {
      const c = new HttpsClient({ ca: own.ca, name: own.name, port: own.port, localAddress: '127.0.0.8' });
      expect((await c.request('GET', '/en/')).status).toBe(200);
      server.close();
      server.closeAllConnections();
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await c.request('GET', '/en/')).status);
      expect(statuses).toEqual(Array(6).fill(200));
    } finally {
      await own.stop();
      server.close();
    }
  });
});
