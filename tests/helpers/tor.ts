import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './process.js';
import { requireProgram } from './programs.js';

export type Tor = { proc: ChildProcess; hostname: string; hostnameFile: string; output(): string; stop(): Promise<void> };

/**
 * Debian's tor with deploy/torrc as shipped, except what must change to run
 * here without any network: HiddenServiceDir in `dir`, HiddenServicePort's
 * target `onionPort`, and, added in front, its own DataDirectory,
 * `DisableNetwork 1` (it never makes or accepts a connection; it still makes
 * the service's keys and writes `hostname`) and logging to stdout.
 * SocksPort 0 is the shipped file's own. Resolves once `hostname` exists.
 */
export async function startTor(dir: string, onionPort: number): Promise<Tor> {
  const tor = requireProgram('tor');
  const shipped = readFileSync(path.join(ROOT, 'deploy', 'torrc'), 'utf8');
  const hsDir = path.join(dir, 'hs') + '/';
  const torrc = [
    `DataDirectory ${path.join(dir, 'data')}`,
    'DisableNetwork 1',
    'Log notice stdout',
    shipped
      .replace(/^HiddenServiceDir .*$/m, `HiddenServiceDir ${hsDir}`)
      .replace(/^(HiddenServicePort 80) 127\.0\.0\.1:\d+$/m, `$1 127.0.0.1:${onionPort}`),
  ].join('\n');
  if (!torrc.includes(`HiddenServiceDir ${hsDir}`) || !torrc.includes(`127.0.0.1:${onionPort}`)) throw new Error('deploy/torrc changed shape');
  const torrcFile = path.join(dir, 'torrc');
  writeFileSync(torrcFile, torrc, { mode: 0o600 });
  const proc = spawn(tor, ['-f', torrcFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '', HOME: dir } });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const hostnameFile = path.join(hsDir, 'hostname');
  const deadline = Date.now() + 30_000;
  while (!existsSync(hostnameFile) || readFileSync(hostnameFile, 'utf8').trim() === '') {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`tor ended:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`tor wrote no hostname in 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    hostname: readFileSync(hostnameFile, 'utf8').trim(),
    hostnameFile,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
