import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { requireProgram, run } from '../helpers/programs.js';
import { ROOT } from '../helpers/process.js';

/**
 * The files in deploy/, as shipped, checked by the programs that will read
 * them: systemd-analyze verify, caddy validate, tor --verify-config. Each
 * program missing fails the test (.ci/run installs them).
 *
 * Substituted: nothing in the files themselves. Caddy gets a temporary HOME
 * and XDG directories (where it would keep certificates); the unit check
 * also verifies a copy with the commented onion lines switched on.
 */
const DEPLOY = path.join(ROOT, 'deploy');
const UNITS = ['harbour.service', 'harbour-housekeeping.service', 'harbour-housekeeping.timer', 'harbour-backup.service', 'harbour-backup.timer'];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'harbour-deploy-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const read = (name: string) => readFileSync(path.join(DEPLOY, name), 'utf8');

/** `Key=value` lines of a unit file's [Service] section (comments dropped), in order. */
function serviceLines(text: string): [string, string][] {
  const section = text.split(/^\[Service\]$/m)[1]!.split(/^\[/m)[0]!;
  return section
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]);
}

describe('systemd units', () => {
  const analyze = requireProgram('systemd-analyze', 'systemd');

  it('systemd-analyze verify accepts the units as shipped, with nothing to say', () => {
    // verify fails (exit 1) when ExecStart's program is missing; /usr/bin/node is Debian's and NodeSource's path.
    const r = run(analyze, ['verify', '--man=no', ...UNITS.map((u) => path.join(DEPLOY, u))]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('accepts the unit with its onion lines (LoadCredential, ONION_HOSTNAME_FILE) switched on', () => {
    const on = read('harbour.service').replace(/^#(LoadCredential=|Environment=ONION_HOSTNAME_FILE=)/gm, '$1');
    expect(on).toMatch(/^LoadCredential=onion-hostname:\/var\/lib\/tor\/harbour\/hostname$/m);
    expect(on).toMatch(/^Environment=ONION_HOSTNAME_FILE=%d\/onion-hostname$/m);
    const dir = mkdtempSync(path.join(tmp, 'units-'));
    writeFileSync(path.join(dir, 'harbour.service'), on);
    const r = run(analyze, ['verify', '--man=no', path.join(dir, 'harbour.service')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('systemd-analyze security rates both services at most 2.0 ("OK"), offline', () => {
    for (const unit of ['harbour.service', 'harbour-housekeeping.service', 'harbour-backup.service']) {
      const r = run(analyze, ['security', '--offline=yes', '--man=no', '--threshold=20', path.join(DEPLOY, unit)]);
      const level = /Overall exposure level for [^:]+: (\d+\.\d)/.exec(r.stdout)?.[1];
      expect(Number(level), `${unit}\n${r.stdout}${r.stderr}`).toBeLessThanOrEqual(2.0);
      expect(r.code, unit).toBe(0);
    }
  });

  it('the check can fail: a misspelt key or a bad value is reported', () => {
    const dir = mkdtempSync(path.join(tmp, 'units-'));
    writeFileSync(path.join(dir, 'harbour.service'), read('harbour.service').replace('NoNewPrivileges=yes', 'NoNewPrivileges=perhaps'));
    expect(run(analyze, ['verify', '--man=no', path.join(dir, 'harbour.service')]).stderr).toMatch(/NoNewPrivileges|boolean/);
    writeFileSync(path.join(dir, 'harbour.service'), read('harbour.service').replace('ReadWritePaths=', 'ReadWritePathz='));
    expect(run(analyze, ['verify', '--man=no', path.join(dir, 'harbour.service')]).stderr).toMatch(/ReadWritePathz/);
  });

  it('starts node with the same flags and malloc variables as npm start', () => {
    const start: string = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start;
    const mallocs = [...start.matchAll(/\b(MALLOC_[A-Z_]+)=(\S+)/g)].map((m) => `${m[1]}=${m[2]}`);
    const flags = [...start.matchAll(/\s(--[a-z-]+(?:=\S+)?)/g)].map((m) => m[1]!);
    expect(mallocs.length).toBeGreaterThanOrEqual(3);
    expect(flags.length).toBeGreaterThanOrEqual(1);
    const lines = serviceLines(read('harbour.service'));
    const env = lines.filter(([k]) => k === 'Environment').map(([, v]) => v);
    for (const m of mallocs) expect(env).toContain(m);
    expect(env).toContain('NODE_ENV=production');
    const exec = lines.filter(([k]) => k === 'ExecStart');
    expect(exec).toHaveLength(1);
    expect(exec[0]![1]).toBe(`/usr/bin/node ${flags.join(' ')} /opt/harbour/dist/server/index.js`);
  });

  it('is sandboxed: a dedicated user, read-only system, only the data directory writable, a memory cap', () => {
    const lines = serviceLines(read('harbour.service'));
    const one = (key: string) => {
      const values = lines.filter(([k]) => k === key).map(([, v]) => v);
      expect(values, key).toHaveLength(1);
      return values[0];
    };
    expect(one('User')).toBe('harbour');
    expect(one('Group')).toBe('harbour');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('ReadWritePaths')).toBe('/var/lib/harbour');
    expect(one('EnvironmentFile')).toBe('/etc/harbour/harbour.env');
    expect(one('Restart')).toBe('on-failure');
    expect(one('MemoryMax')).toMatch(/^\d+[MG]$/);
    expect(lines.filter(([k]) => k === 'Environment').map(([, v]) => v)).toContain('DATA_DIR=/var/lib/harbour');
  });

  it('the backup unit writes a dated, encrypted backup into /var/backups/harbour, keeps 14 days, and may write only there and in DATA_DIR', () => {
    const lines = serviceLines(read('harbour-backup.service'));
    const exec = lines.find(([k]) => k === 'ExecStart')![1];
    expect(exec).toContain('/opt/harbour/bin/harbour.js backup --out /var/backups/harbour/harbour-$(date -u +%%Y%%m%%dT%%H%%M%%SZ).hbk');
    expect(lines).toContainEqual(['ExecStartPost', '/usr/bin/find /var/backups/harbour -maxdepth 1 -name harbour-*.hbk -mtime +14 -delete']);
    expect(lines).toContainEqual(['ReadWritePaths', '/var/lib/harbour /var/backups/harbour']);
    expect(lines).toContainEqual(['User', 'harbour']);
    expect(read('harbour-backup.timer')).toMatch(/^OnCalendar=\*-\*-\* 02:00:00$/m);
  });

  it('the housekeeping unit runs `harbour housekeeping` under the same sandbox, and says it is for PostgreSQL', () => {
    const text = read('harbour-housekeeping.service');
    const lines = serviceLines(text);
    expect(lines).toContainEqual(['ExecStart', '/usr/bin/node /opt/harbour/bin/harbour.js housekeeping']);
    expect(lines).toContainEqual(['Type', 'oneshot']);
    for (const kv of [
      ['User', 'harbour'],
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['PrivateTmp', 'yes'],
      ['ReadWritePaths', '/var/lib/harbour'],
      ['EnvironmentFile', '/etc/harbour/harbour.env'],
    ])
      expect(lines).toContainEqual(kv);
    expect(text).toMatch(/PostgreSQL/);
    expect(text).toMatch(/every 5\s+minutes/);
    expect(read('harbour-housekeeping.timer')).toMatch(/^OnUnitActiveSec=/m);
  });
});

describe('Caddy', () => {
  const caddy = requireProgram('caddy');
  const caddyEnv = (extra: Record<string, string> = {}) => ({
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: tmp,
    XDG_DATA_HOME: path.join(tmp, 'caddy-data'),
    XDG_CONFIG_HOME: path.join(tmp, 'caddy-config'),
    ...extra,
  });

  it('caddy validate accepts deploy/Caddyfile as shipped', () => {
    const r = run(caddy, ['validate', '--adapter', 'caddyfile', '--config', path.join(DEPLOY, 'Caddyfile')], { env: caddyEnv() });
    expect(r.stdout + r.stderr).toContain('Valid configuration');
    expect(r.stderr).not.toMatch(/not formatted/);
    expect(r.code).toBe(0);
  });

  it('the check can fail: an unknown directive is refused', () => {
    const bad = path.join(tmp, 'Caddyfile.bad');
    writeFileSync(bad, read('Caddyfile').replace('health_uri /healthz', 'health_uri /healthz\n\t\thealth_wishes many'));
    expect(run(caddy, ['validate', '--adapter', 'caddyfile', '--config', bad], { env: caddyEnv() }).code).not.toBe(0);
  });

  it('adds no header of its own, only removes Server; trusts no incoming X-Forwarded-For; checks /healthz on each upstream', () => {
    const r = run(caddy, ['adapt', '--adapter', 'caddyfile', '--config', path.join(DEPLOY, 'Caddyfile')], {
      env: caddyEnv({ HARBOUR_DOMAIN: 'report.example.org', HARBOUR_UPSTREAMS: '127.0.0.1:3000 127.0.0.1:3002' }),
    });
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    const text = JSON.stringify(json);
    expect(text).not.toMatch(/trusted_proxies/);
    expect(text).not.toMatch(/"encode"/);
    // Every header operation anywhere in the config: only deletes of Server.
    const ops: unknown[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) return v.forEach(walk);
      if (v && typeof v === 'object') {
        for (const [k, child] of Object.entries(v)) {
          if (['set', 'add', 'replace'].includes(k)) ops.push({ [k]: child });
          if (k === 'delete') ops.push(...(child as string[]));
          walk(child);
        }
      }
    };
    walk(json.apps.http);
    expect(ops.length).toBeGreaterThan(0);
    expect(ops.every((o) => o === 'Server')).toBe(true);
    const site = json.apps.http.servers.srv0.routes[0];
    const proxy = site.handle[0].routes[0].handle.find((h: { handler: string }) => h.handler === 'reverse_proxy');
    expect(proxy.upstreams).toEqual([{ dial: '127.0.0.1:3000' }, { dial: '127.0.0.1:3002' }]);
    expect(proxy.health_checks.active.uri).toBe('/healthz');
    expect(site.match).toEqual([{ host: ['report.example.org'] }]);
  });
});

describe('Tor', () => {
  const tor = requireProgram('tor');

  it('tor --verify-config accepts deploy/torrc as shipped', () => {
    const r = run(tor, ['--verify-config', '-f', path.join(DEPLOY, 'torrc')], { env: { PATH: process.env['PATH'] ?? '', HOME: tmp } });
    expect(r.stdout).toContain('Configuration was valid');
    expect(r.stdout).not.toMatch(/\[(warn|err)\](?! You are running Tor as root)/);
    expect(r.code).toBe(0);
  });

  it('the check can fail: a bad HiddenServicePort is refused', () => {
    const bad = path.join(tmp, 'torrc.bad');
    writeFileSync(bad, read('torrc').replace('HiddenServicePort 80 127.0.0.1:3001', 'HiddenServicePort 80 127.0.0.1:99999'));
    expect(run(tor, ['--verify-config', '-f', bad], { env: { PATH: process.env['PATH'] ?? '', HOME: tmp } }).code).not.toBe(0);
  });

  it('points the onion service at the ONION_PORT of the env example, with circuit ids in the PROXY protocol', () => {
    const torrc = read('torrc');
    const onionPort = /^ONION_PORT=(\d+)$/m.exec(read('harbour.env.example'))![1];
    expect(torrc).toMatch(new RegExp(`^HiddenServicePort 80 127\\.0\\.0\\.1:${onionPort}$`, 'm'));
    expect(torrc).toMatch(/^HiddenServiceExportCircuitID haproxy$/m);
    expect(torrc).toMatch(/^HiddenServiceDir \/var\/lib\/tor\/harbour\/$/m);
    expect(torrc).toMatch(/^SocksPort 0$/m);
    // Harbour's clearnet port is never the onion target (its rate limits would see one client).
    const port = /^PORT=(\d+)$/m.exec(read('harbour.env.example'))![1];
    expect(torrc).not.toMatch(new RegExp(`127\\.0\\.0\\.1:${port}\\b`));
  });
});

describe('harbour.env.example', () => {
  it('is a configuration Harbour accepts, for HTTPS behind one proxy with an onion listener', () => {
    const env = Object.fromEntries(
      read('harbour.env.example')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    // The unit's own Environment= lines come first (NODE_ENV, DATA_DIR); the file wins, as in systemd.
    const config = loadConfig({ NODE_ENV: 'production', DATA_DIR: tmp, ...env });
    expect(config.env).toBe('production');
    expect(config.host).toBe('127.0.0.1');
    expect(config.secureCookies).toBe(true);
    expect(config.trustProxy).toBe(1);
    expect(config.databaseUrl).toMatch(/^postgres:\/\//);
    expect(config.ipHashSecret).not.toBeNull();
    expect(config.onion).toEqual({ host: '127.0.0.1', port: Number(env['ONION_PORT']) });
  });
});
