import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';
import { localesDir } from '../../server/paths.js';
import { saveSettings } from '../../server/settings/settings.js';
import { ONION_HOSTNAME_REFRESH_MS, listenForOnion, onionHostnameFrom } from '../../server/web/onion.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/process.js';
import { startTor, type Tor } from '../helpers/tor.js';

/**
 * The onion service for real: Debian's tor runs deploy/torrc (with a
 * temporary HiddenServiceDir and `DisableNetwork 1`: nothing leaves this
 * machine, and no connection reaches Tor either) and writes the service's
 * `hostname`; Harbour, pointed at it with ONION_HOSTNAME_FILE, offers that
 * address as Onion-Location and on the landing page to clearnet visitors,
 * and not to visitors who came over the onion listener.
 *
 * Not covered: a visitor reaching Harbour through Tor itself (that needs
 * the Tor network for the service's descriptor); the PROXY line Tor sends is
 * tested with Tor's own format in onion-listener.test.ts.
 */
const LANGS = ['en', 'zh-hans', 'zh-hant', 'ug', 'bo'] as const;
const OTHER = `${'a'.repeat(28)}${'b2'.repeat(14)}.onion`;

let dir: string;
let tor: Tor;
let onionPort: number;
let t: TestApp;
let http: Server;
let onion: net.Server;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'harbour-tor-'));
  onionPort = await freePort();
  tor = await startTor(dir, onionPort);
  t = await createTestApp({ env: { ONION_HOSTNAME_FILE: tor.hostnameFile, ONION_PORT: String(onionPort) } });
  // Harbour's onion listener on the port the torrc points at, as server/index.ts starts it.
  http = createServer(t.app);
  onion = listenForOnion(http, '127.0.0.1', onionPort, () => undefined);
  await once(onion, 'listening');
}, 90_000);
afterAll(async () => {
  onion?.close();
  http?.close();
  await tor?.stop();
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One request over the onion listener, on a Tor circuit, with the onion Host. */
async function overOnion(pathname: string, port = onionPort): Promise<{ status: number; head: string; body: string }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write('PROXY TCP6 fc00:dead:beef:4dad::0:2a ::1 65535 80\r\n');
  socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${tor.hostname}\r\nConnection: close\r\n\r\n`);
  await once(socket, 'close');
  const text = Buffer.concat(chunks).toString('utf8');
  const [head, ...rest] = text.split('\r\n\r\n');
  return { status: Number(head!.split(' ')[1]), head: head!, body: rest.join('\r\n\r\n') };
}

const locale = (lang: string) => JSON.parse(readFileSync(path.join(localesDir, `${lang}.json`), 'utf8')).landing;
const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;');

describe('Tor writes the onion hostname without any network', () => {
  it('a v3 address in HiddenServiceDir/hostname, from deploy/torrc with DisableNetwork 1', () => {
    expect(tor.hostname).toMatch(/^[a-z2-7]{56}\.onion$/);
    expect(tor.output()).toMatch(/DisableNetwork is set/);
  });
});

describe('Harbour offers the address Tor wrote', () => {
  it('sends Onion-Location on reporter pages reached over the clearnet', async () => {
    for (const p of ['/en/', '/ug/report', '/bo/status', '/zh-hans/emergency']) {
      const res = await request(t.app).get(p);
      expect(res.headers['onion-location'], p).toBe(`http://${tor.hostname}${p}`);
    }
  });

  it.each(LANGS)('shows the address on the %s landing page with the advice on Tor Browser, in that language', async (lang) => {
    const res = await request(t.app).get(`/${lang}/`);
    expect(res.status).toBe(200);
    const l = locale(lang);
    for (const key of ['onion_title', 'onion_advice', 'onion_check']) {
      expect(typeof l[key], `${lang} ${key}`).toBe('string');
      expect(res.text, `${lang} ${key}`).toContain(escapeHtml(l[key]));
    }
    expect(res.text).toContain(`<p dir="ltr"><code>http://${tor.hostname}/</code></p>`);
  });

  it('the file wins over the onion_address setting; without a readable file the setting is used', async () => {
    await t.testDb.db.transaction().execute((trx) => saveSettings(trx, t.config, { onion_address: OTHER }));
    try {
      const res = await request(t.app).get('/en/');
      expect(res.headers['onion-location']).toBe(`http://${tor.hostname}/en/`);
      expect(res.text).not.toContain(OTHER);

      const missing = await createTestApp({ testDb: t.testDb, setup: false, env: { ONION_HOSTNAME_FILE: path.join(dir, 'no-such-hostname') } });
      const fallback = await request(missing.app).get('/en/');
      expect(fallback.headers['onion-location']).toBe(`http://${OTHER}/en/`);
      expect(fallback.text).toContain(`http://${OTHER}/`);
    } finally {
      await t.testDb.db.transaction().execute((trx) => saveSettings(trx, t.config, { onion_address: '' }));
    }
  });

  it('over the onion listener: no Onion-Location, no onion section, no redirect, cookies without a Domain', async () => {
    // With the setting too, so neither source of the address is offered to a visitor already on it.
    await t.testDb.db.transaction().execute((trx) => saveSettings(trx, t.config, { onion_address: OTHER }));
    const res = await overOnion('/en/').finally(() => t.testDb.db.transaction().execute((trx) => saveSettings(trx, t.config, { onion_address: '' })));
    expect(res.status).toBe(200);
    expect(res.head).not.toMatch(/^onion-location:/im);
    expect(res.head).not.toMatch(/^location:/im);
    expect(res.body).not.toContain(locale('en').onion_title);
    expect(res.body).not.toContain(`http://${tor.hostname}/`);
    expect(res.body).not.toContain(OTHER);
    // PUBLIC_URL is http here (an onion-only installation): cookies are plain, without Secure.
    const cookies = res.head.split('\r\n').filter((l) => /^set-cookie:/i.test(l));
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) {
      expect(c).not.toMatch(/;\s*secure/i);
      expect(c).not.toMatch(/__Host-/);
      expect(c).not.toMatch(/;\s*domain=/i);
    }
  });
});

describe('an HTTPS installation (PUBLIC_URL https://) seen over its onion service', () => {
  let https: TestApp;
  let httpsServer: Server;
  let httpsOnion: net.Server;
  let port: number;
  beforeAll(async () => {
    https = await createTestApp({
      testDb: t.testDb,
      setup: false,
      env: { PUBLIC_URL: 'https://report.example.org', ONION_HOSTNAME_FILE: tor.hostnameFile },
    });
    httpsServer = createServer(https.app);
    httpsOnion = listenForOnion(httpsServer, '127.0.0.1', 0, () => undefined);
    await once(httpsOnion, 'listening');
    port = (httpsOnion.address() as net.AddressInfo).port;
  });
  afterAll(() => {
    httpsOnion.close();
    httpsServer.close();
  });

  it('no upgrade-insecure-requests and no HSTS over the onion (Tor Browser would send the page’s own requests to https://….onion); both on the clearnet', async () => {
    for (const p of ['/en/', '/en/report', '/staff/sign-in', '/static/css/harbour.css']) {
      const onionRes = await overOnion(p, port);
      expect(onionRes.status, p).toBe(200);
      const csp = /^content-security-policy: (.*)$/im.exec(onionRes.head)?.[1];
      expect(csp, p).toContain("default-src 'none'");
      expect(csp, p).not.toContain('upgrade-insecure-requests');
      expect(onionRes.head, p).not.toMatch(/^strict-transport-security:/im);
      expect(onionRes.head, p).not.toMatch(/^location:/im);

      const clearnet = await request(https.app).get(p);
      expect(clearnet.headers['content-security-policy'], p).toContain('upgrade-insecure-requests');
      expect(clearnet.headers['strict-transport-security'], p).toBe('max-age=63072000; includeSubDomains');
    }
  });

  it('its cookies are host-only, Path=/ and SameSite=Strict: __Host- and Secure, which Tor Browser keeps on .onion (a secure context)', async () => {
    const res = await overOnion('/en/report', port);
    const cookies = res.head.split('\r\n').filter((l) => /^set-cookie:/i.test(l));
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) {
      expect(c).toMatch(/^set-cookie: __Host-/i);
      expect(c).toMatch(/;\s*Path=\/(;|$)/i);
      expect(c).toMatch(/;\s*SameSite=Strict/i);
      expect(c).not.toMatch(/;\s*domain=/i);
    }
  });
});

describe('ONION_HOSTNAME_FILE', () => {
  const scratch = () => mkdtempSync(path.join(os.tmpdir(), 'harbour-onion-file-'));
  const env = (file: string) => ({ NODE_ENV: 'test', ONION_HOSTNAME_FILE: file });

  it('is validated at start: an existing file must hold a v3 address; a missing one is waited for', () => {
    const d = scratch();
    try {
      writeFileSync(path.join(d, 'bad'), 'example.onion\n');
      expect(() => loadConfig(env(path.join(d, 'bad')))).toThrow(ConfigError);
      expect(() => loadConfig(env(path.join(d, 'bad')))).toThrow(/ONION_HOSTNAME_FILE: the file does not hold a v3 onion address/);
      mkdirSync(path.join(d, 'a-directory'));
      expect(() => loadConfig(env(path.join(d, 'a-directory')))).toThrow(/ONION_HOSTNAME_FILE: cannot read the file/);
      expect(loadConfig(env(path.join(d, 'later'))).onionHostnameFile).toBe(path.join(d, 'later'));
      expect(loadConfig(env(tor.hostnameFile)).onionHostnameFile).toBe(tor.hostnameFile);
      expect(loadConfig({ NODE_ENV: 'test' }).onionHostnameFile).toBeNull();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('is read again after a while: a new address reaches a running instance, a broken file offers nothing from it', async () => {
    const d = scratch();
    try {
      const file = path.join(d, 'hostname');
      writeFileSync(file, `${tor.hostname}\n`);
      expect(await onionHostnameFrom(file, 1_000)).toBe(tor.hostname);
      writeFileSync(file, `${OTHER}\n`);
      expect(await onionHostnameFrom(file, 2_000)).toBe(tor.hostname); // cached
      expect(await onionHostnameFrom(file, 1_000 + ONION_HOSTNAME_REFRESH_MS)).toBe(OTHER);
      writeFileSync(file, 'not an address');
      expect(await onionHostnameFrom(file, 1_000 + 2 * ONION_HOSTNAME_REFRESH_MS)).toBeNull();
      rmSync(file);
      expect(await onionHostnameFrom(file, 1_000 + 3 * ONION_HOSTNAME_REFRESH_MS)).toBeNull();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
