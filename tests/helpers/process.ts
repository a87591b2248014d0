import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The real server and the real `harbour` command, as processes, from the
 * build that tests/global-build.ts makes: for what only a process shows
 * (locks between processes, signals, ports, exit codes, start-up messages).
 */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function freePort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

export type Proc = {
  proc: ChildProcess;
  port: number;
  base: string;
  output(): string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

function track(proc: ChildProcess): Pick<Proc, 'output' | 'exited'> {
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { output: () => out, exited };
}

const baseEnv = (env: Record<string, string>) => {
  const e: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'info', RATE_LIMITS: 'false', ...env };
  if (!('DATABASE_URL' in env)) delete e['DATABASE_URL'];
  return e;
};

/** Starts `node dist/server/index.js`; with `waitReady`, resolves once /healthz answers (else when it exits). */
export async function startServer(env: Record<string, string>, opts: { waitReady?: boolean; port?: number } = {}): Promise<Proc> {
  const port = opts.port ?? (await freePort());
  const proc = spawn(process.execPath, ['dist/server/index.js'], { cwd: ROOT, env: baseEnv({ HOST: '127.0.0.1', PORT: String(port), ...env }) });
  const t = track(proc);
  const base = `http://127.0.0.1:${port}`;
  const p: Proc = {
    proc,
    port,
    base,
    ...t,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return t.exited;
    },
  };
  if (opts.waitReady !== false) {
    const deadline = Date.now() + 150_000; // a first start runs initdb: slow on a busy 2-core machine
    let ended = false;
    void t.exited.then(() => (ended = true));
    for (;;) {
      if (ended) break;
      const ok = await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok && /Harbour is listening/.test(t.output())) break;
      if (Date.now() > deadline) throw new Error(`the server did not start:\n${t.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return p;
}

/** Runs `node bin/harbour.js …` to the end. */
export async function runHarbour(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, ['bin/harbour.js', ...args], { cwd: ROOT, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const t = track(proc);
  const { code } = await t.exited;
  return { code, output: t.output() };
}
