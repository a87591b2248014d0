import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { ROOT, freePort } from './process.js';
import { requireProgram } from './programs.js';

export type Caddy = { proc: ChildProcess; port: number; name: string; ca: string; output(): string; stop(): Promise<void> };

/**
 * Debian's caddy running deploy/Caddyfile as shipped, in front of
 * `upstreams`, with options added at the top of its global options block so
 * that nothing leaves this machine: `local_certs` (its own internal CA, never
 * ACME), `skip_install_trust` (the system's trust store is not touched),
 * `admin off`, no http→https redirect server, and every listener on
 * 127.0.0.1 and a free port. The shipped options stay (its `servers` block
 * included). The site's name and upstreams come in through the file's own
 * variables (HARBOUR_DOMAIN, HARBOUR_UPSTREAMS). Resolves once a TLS
 * handshake with the internal CA's certificate succeeds.
 */
export async function startCaddy(dir: string, upstreams: string[], opts: { name?: string; port?: number } = {}): Promise<Caddy> {
  const name = opts.name ?? 'harbour.test';
  const caddy = requireProgram('caddy');
  const shipped = readFileSync(path.join(ROOT, 'deploy', 'Caddyfile'), 'utf8');
  const globals = /^\{\n/m;
  if (!globals.test(shipped)) throw new Error('deploy/Caddyfile has no global options block');
  const port = opts.port ?? (await freePort());
  const httpPort = await freePort();
  const config = shipped.replace(
    globals,
    [
      '{',
      '\tlocal_certs',
      '\tskip_install_trust',
      '\tadmin off',
      '\tauto_https disable_redirects',
      `\thttp_port ${httpPort}`,
      `\thttps_port ${port}`,
      '\tdefault_bind 127.0.0.1',
      '',
    ].join('\n'),
  );
  const file = path.join(dir, 'Caddyfile');
  writeFileSync(file, config);
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: dir,
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    HARBOUR_DOMAIN: `https://${name}:${port}`,
    HARBOUR_UPSTREAMS: upstreams.join(' '),
  };
  const proc = spawn(caddy, ['run', '--adapter', 'caddyfile', '--config', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const rootCert = path.join(dir, 'data', 'caddy', 'pki', 'authorities', 'local', 'root.crt');
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`caddy ended:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`caddy did not serve TLS in 30 s:\n${out}`);
    }
    if (existsSync(rootCert)) {
      const ca = readFileSync(rootCert, 'utf8');
      const ok = await new Promise<boolean>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port, servername: name, ca }, () => {
          s.end();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (ok) {
        return {
          proc,
          port,
          name,
          ca,
          output: () => out,
          async stop() {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
            await exited;
          },
        };
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
