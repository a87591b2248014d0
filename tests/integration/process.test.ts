import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../server/db/index.js';
import { freePort, runHarbour, startServer, type Proc } from '../helpers/process.js';
import { formSession, startUpload } from '../helpers/raw-upload.js';

/**
 * The server and the `harbour` command as processes, on the embedded
 * database: what the fault drill and a newcomer following the README found.
 * Before: a second server on one data directory, or `harbour setup` /
 * `harbour user add` beside a running server, each "worked" and then lost
 * what it wrote (or corrupted ./data); a port in use printed a stack trace.
 */
let dir: string;
/** A data directory set up once by `harbour setup` (beforeAll); tests that need one set up copy it. */
let setUp: string;
const running: Proc[] = [];
const made: string[] = [];
const env = () => ({ DATA_DIR: dir });
const pwFile = () => {
  const f = path.join(dir, '..', `pw-${path.basename(dir)}.txt`);
  writeFileSync(f, 'harbour first admin passphrase\n');
  return f;
};
const newDir = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'harbour-proc-'));
  made.push(d, path.join(d, '..', `pw-${path.basename(d)}.txt`));
  return d;
};
/** Each test works in a directory of its own: empty, or a copy of the set-up one. */
const useDir = (opts: { setUp: boolean }) => {
  dir = newDir();
  if (opts.setUp) cpSync(setUp, dir, { recursive: true });
};

beforeAll(async () => {
  dir = setUp = newDir();
  const out = await runHarbour(
    ['setup', '--org', 'Proc Test Org', '--admin-email', 'lead@example.org', '--admin-name', 'Lead', '--password-file', pwFile()],
    env(),
  );
  expect(out.code, out.output).toBe(0);
}, 240_000);
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

describe('one process per embedded data directory', () => {
  it('set-up first, then the server; a second server and every command beside it are refused at once, nothing lost', async () => {
    useDir({ setUp: false });
    // The README's order: set up, then start.
    const setup = await runHarbour(
      ['setup', '--org', 'Proc Test Org', '--admin-email', 'lead@example.org', '--admin-name', 'Lead', '--password-file', pwFile()],
      env(),
    );
    expect(setup.code, setup.output).toBe(0);
    expect(setup.output).toContain('RECOVERY KEY');

    const server = await startServer(env());
    running.push(server);
    expect((await fetch(`${server.base}/en/`)).status).toBe(200); // set up: ready

    // A second server on the same directory: refused at once with one clear line.
    const started = Date.now();
    const second = await startServer(env(), { waitReady: false });
    const { code } = await second.exited;
    expect(code).toBe(75);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(second.output()).toMatch(/is in use by another Harbour process \(server, pid \d+/);
    expect(second.output()).not.toMatch(/\n\s+at /); // no stack trace

    // Commands beside the running server: refused, telling the operator what to do.
    const add = await runHarbour(
      ['user', 'add', '--email', 'late@example.org', '--name', 'Late', '--roles', 'caseworker', '--password-file', pwFile()],
      env(),
    );
    expect(add.code).toBe(75);
    expect(add.output).toMatch(/server \(pid \d+\) is running/);
    expect(add.output).toMatch(/Stop the server first/);
    const again = await runHarbour(['setup', '--org', 'Again', '--no-admin'], env());
    expect(again.code).toBe(75);

    // The first server never noticed: still ready, its data intact.
    expect((await fetch(`${server.base}/readyz`)).status).toBe(200);
    expect((await server.stop()).code).toBe(0);

    // With the server stopped, the same command works and its account is kept.
    const added = await runHarbour(
      ['user', 'add', '--email', 'late@example.org', '--name', 'Late', '--roles', 'caseworker', '--password-file', pwFile()],
      env(),
    );
    expect(added.code, added.output).toBe(0);
    const restarted = await startServer(env());
    running.push(restarted);
    expect((await fetch(`${restarted.base}/readyz`)).status).toBe(200);
    expect((await restarted.stop()).code).toBe(0);
    const duplicate = await runHarbour(
      ['user', 'add', '--email', 'late@example.org', '--name', 'Late', '--roles', 'caseworker', '--password-file', pwFile()],
      env(),
    );
    expect(duplicate.output).toMatch(/already exists/); // the account survived the restart
  }, 300_000);

  it('a server killed outright leaves a lock that the next start takes over', async () => {
    useDir({ setUp: true });
    const first = await startServer(env());
    running.push(first);
    await first.stop('SIGKILL');
    const next = await startServer(env());
    running.push(next);
    expect((await fetch(`${next.base}/readyz`)).status).toBe(200);
    expect((await next.stop()).code).toBe(0);
  }, 240_000);
});

describe('start-up and shut-down', () => {
  it('SIGTERM during a long upload: the upload is told to try again, nothing is kept, the process ends within its grace period', async () => {
    useDir({ setUp: true });
    const server = await startServer({ ...env(), SHUTDOWN_GRACE_SECONDS: '5' });
    running.push(server);
    const session = await formSession(server.base);
    const upload = await startUpload(server.port, session, { fileBytes: 50_000_000, initialFileBytes: 500_000 });
    await new Promise((r) => setTimeout(r, 1000)); // chunks are being stored
    const started = Date.now();
    server.proc.kill('SIGTERM');
    const { code } = await server.exited;
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(6000);
    expect(upload.response()).toMatch(/^HTTP\/1\.1 503/);
    expect(upload.response()).toContain('The service is restarting');
    upload.socket.destroy();
    // Started again, nothing of that upload remains.
    const again = await startServer(env());
    running.push(again);
    expect((await fetch(`${again.base}/readyz`)).status).toBe(200);
    expect((await again.stop()).code).toBe(0);
    const db = await createDb({ kind: 'pglite', dataDir: path.join(dir, 'pgdata') });
    try {
      const pending = await db
        .selectFrom('reports')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('state', '=', 'pending')
        .executeTakeFirstOrThrow();
      const uploading = await db
        .selectFrom('evidence')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('state', '=', 'uploading')
        .executeTakeFirstOrThrow();
      expect([Number(pending.n), Number(uploading.n)]).toEqual([0, 0]);
    } finally {
      await db.destroy();
    }
  }, 300_000);

  it('a port already in use stops start-up with one clear line', async () => {
    useDir({ setUp: true });
    const port = await freePort();
    const holder = net.createServer().listen(port, '127.0.0.1');
    await once(holder, 'listening');
    try {
      const p = await startServer(env(), { waitReady: false, port }); // a set-up directory: no initdb
      const { code } = await p.exited;
      expect(code).toBe(1);
      expect(p.output()).toContain(`127.0.0.1:${port} is already in use`);
      expect(p.output()).not.toMatch(/\n\s+at /);
    } finally {
      holder.close();
    }
  }, 180_000);

  it('a server not set up says to stop it, set up, then start; set-up then prints the sign-in address on PORT (PUBLIC_URL unset)', async () => {
    useDir({ setUp: false });
    const other = dir;
    try {
      const p = await startServer({ DATA_DIR: other });
      running.push(p);
      expect((await fetch(`${p.base}/en/`)).status).toBe(503);
      await new Promise((r) => setTimeout(r, 300));
      expect(p.output()).toMatch(/stop this server \(Ctrl-C\), run `npx harbour setup/);
      expect((await p.stop()).code).toBe(0);
      const out = await runHarbour(
        ['setup', '--org', 'Url Org', '--admin-email', 'u@example.org', '--admin-name', 'U', '--password-file', pwFile()],
        {
          DATA_DIR: other,
          PORT: '4567',
        },
      );
      expect(out.code, out.output).toBe(0);
      expect(out.output).toContain('http://localhost:4567/staff/sign-in');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  }, 240_000);
});
