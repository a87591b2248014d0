import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../server/cli.js';
import { encodeRecoveryKey, newKeyPair, readySodium } from '../../server/crypto/index.js';
import { lockDataDir } from '../../server/db/lock.js';
import { createDb } from '../../server/db/index.js';
import { listenForBackups, socketPath } from '../../server/backup/socket.js';
import { runHarbour, startServer } from '../helpers/process.js';

/**
 * `harbour backup` and `harbour restore` as an operator runs them, on the
 * embedded database: set up in one data directory, backed up (refused while
 * a server holds the directory), restored into another, where the audit
 * chain verifies; a wrong key file is refused.
 */
let root: string;
let saved: NodeJS.ProcessEnv;
let output: string[];
const useDir = (name: string) => {
  process.env['DATA_DIR'] = path.join(root, name);
  return process.env['DATA_DIR'];
};

beforeEach(async () => {
  await readySodium();
  root = mkdtempSync(path.join(os.tmpdir(), 'harbour-backup-cli-'));
  saved = { ...process.env };
  delete process.env['DATABASE_URL'];
  output = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    output.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    output.push(String(chunk));
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  process.env = saved;
  rmSync(root, { recursive: true, force: true });
});

describe('harbour backup / restore (embedded database)', () => {
  it('backs up with the server stopped, refuses beside a running one, and restores into a fresh data directory', async () => {
    const source = useDir('source');
    const pw = path.join(root, 'pw.txt');
    writeFileSync(pw, 'harbour first admin passphrase\n');
    expect(
      await runCli(['setup', '--org', 'Backup Drill Org', '--admin-email', 'lead@example.org', '--admin-name', 'Lead', '--password-file', pw]),
    ).toBe(0);
    const key = /([0-9A-F]{8}(?:-[0-9A-F]{8}){7}-[0-9A-F]{4})/.exec(output.join(''))![1]!;
    const keyFile = path.join(root, 'recovery-key.txt');
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });

    // A server holds the data directory: the backup is refused, and says why.
    const out = path.join(root, 'backups', 'harbour.hbk');
    mkdirSync(path.dirname(out));
    const release = await lockDataDir(source, 'server', () => undefined);
    output.length = 0;
    try {
      expect(await runCli(['backup', '--out', out])).toBe(75);
    } finally {
      await release();
    }
    expect(output.join('')).toMatch(/Stop the server first/);
    expect(existsSync(out)).toBe(false);

    output.length = 0;
    expect(await runCli(['backup', '--out', out])).toBe(0);
    expect(output.join('')).toMatch(/Backup written to .*harbour\.hbk/);
    // The file's fingerprint, to note off the server: restore prints the same one.
    const sha = createHash('sha256').update(readFileSync(out)).digest('hex');
    expect(output.join('')).toContain(`SHA-256 ${sha}`);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readdirSync(path.dirname(out))).toEqual(['harbour.hbk']); // no partial file left beside it
    expect(readFileSync(out).toString('latin1')).not.toContain('Backup Drill Org');

    // A wrong key: refused, nothing restored (the directory is still not set up).
    useDir('target');
    const wrongFile = path.join(root, 'wrong-key.txt');
    writeFileSync(wrongFile, encodeRecoveryKey(newKeyPair().privateKey));
    await expect(runCli(['restore', '--in', out, '--recovery-key-file', wrongFile])).rejects.toThrow(/does not open this backup/);

    output.length = 0;
    expect(await runCli(['restore', '--in', out, '--recovery-key-file', keyFile])).toBe(0);
    expect(output.join('')).toMatch(/Restored \d+ rows from the backup of/);
    expect(output.join('')).toContain(`SHA-256 ${sha}: check it against the one noted at backup`);
    output.length = 0;
    expect(await runCli(['audit', 'verify'])).toBe(0);
    expect(output.join('')).toContain('OK: the chain is intact.');
    // A second restore into the same, now full, installation is refused.
    await expect(runCli(['restore', '--in', out, '--recovery-key-file', keyFile])).rejects.toThrow(/not empty/);
    // The restored installation is usable: the first administrator is there, and recovery works with the same key.
    output.length = 0;
    expect(await runCli(['recover', '--email', 'lead@example.org', '--recovery-key-file', keyFile])).toBe(0);
    expect(output.join('')).toContain('lead@example.org can open every case again');
  }, 120_000);

  it('backs up through the running server on the embedded database, over its 0600 socket', async () => {
    const source = useDir('live');
    const pw = path.join(root, 'pw.txt');
    writeFileSync(pw, 'harbour first admin passphrase\n');
    expect(await runCli(['setup', '--org', 'Live Org', '--admin-email', 'lead@example.org', '--admin-name', 'Lead', '--password-file', pw])).toBe(0);
    const key = /([0-9A-F]{8}(?:-[0-9A-F]{8}){7}-[0-9A-F]{4})/.exec(output.join(''))![1]!;
    const keyFile = path.join(root, 'recovery-key.txt');
    writeFileSync(keyFile, key);

    // What the server does at start (server/index.ts): hold the directory, open the database, listen.
    const release = await lockDataDir(source, 'server', () => undefined);
    const db = await createDb({ kind: 'pglite', dataDir: path.join(source, 'pgdata') });
    const stop = await listenForBackups(db, source, () => {}, 1500);
    try {
      expect(statSync(socketPath(source)).mode & 0o777).toBe(0o600);
      // Anything but the one request is hung up on.
      const junk = net.connect(socketPath(source));
      junk.write('GET / HTTP/1.1\r\n\r\n');
      const reply: Buffer[] = [];
      for await (const c of junk as AsyncIterable<Buffer>) reply.push(c);
      expect(Buffer.concat(reply).length).toBe(0);

      // A client that connects and never asks is let go once it has been silent too long (the backup holds
      // the embedded database's one session while it runs, so no client may hold the socket for ever).
      const silent = net.connect(socketPath(source));
      await new Promise((resolve) => silent.once('close', resolve));

      const out = path.join(root, 'live.hbk');
      output.length = 0;
      expect(await runCli(['backup', '--out', out])).toBe(0);
      expect(output.join('')).toMatch(/Backup written to .*live\.hbk/);
      // The server's database still answers after the backup.
      expect((await db.selectFrom('installation').select('org_name').executeTakeFirstOrThrow()).org_name).toBe('Live Org');

      useDir('restored');
      expect(await runCli(['restore', '--in', out, '--recovery-key-file', keyFile])).toBe(0);
      output.length = 0;
      expect(await runCli(['audit', 'verify'])).toBe(0);
      expect(output.join('')).toContain('OK: the chain is intact.');
    } finally {
      await stop();
      await db.destroy();
      await release();
    }
    expect(existsSync(socketPath(source))).toBe(false);
  }, 120_000);

  it('the real server and the real command: a backup while it serves, restored into a new directory', async () => {
    const live = path.join(root, 'proc');
    const pw = path.join(root, 'pw.txt');
    writeFileSync(pw, 'harbour first admin passphrase\n');
    const setup = await runHarbour(
      ['setup', '--org', 'Proc Backup Org', '--admin-email', 'lead@example.org', '--admin-name', 'Lead', '--password-file', pw],
      { DATA_DIR: live },
    );
    expect(setup.code, setup.output).toBe(0);
    const keyFile = path.join(root, 'key.txt');
    writeFileSync(keyFile, /([0-9A-F]{8}(?:-[0-9A-F]{8}){7}-[0-9A-F]{4})/.exec(setup.output)![1]!);
    const server = await startServer({ DATA_DIR: live });
    try {
      const out = path.join(root, 'proc.hbk');
      const backup = await runHarbour(['backup', '--out', out], { DATA_DIR: live });
      expect(backup.code, backup.output).toBe(0);
      expect(backup.output).toMatch(/Backup written to/);
      expect((await fetch(`${server.base}/readyz`)).status).toBe(200); // it kept serving
      const restored = await runHarbour(['restore', '--in', out, '--recovery-key-file', keyFile], { DATA_DIR: path.join(root, 'proc-restored') });
      expect(restored.code, restored.output).toBe(0);
      const verify = await runHarbour(['audit', 'verify'], { DATA_DIR: path.join(root, 'proc-restored') });
      expect(verify.code, verify.output).toBe(0);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
    expect(existsSync(socketPath(live))).toBe(false);
  }, 300_000);

  it('refuses a backup of a database that is not set up, and says how to use the commands', async () => {
    useDir('empty');
    expect(await runCli(['migrate'])).toBe(0);
    await expect(runCli(['backup', '--out', path.join(root, 'x.hbk')])).rejects.toThrow(/not set up/);
    expect(existsSync(path.join(root, 'x.hbk'))).toBe(false);
    await expect(runCli(['backup'])).rejects.toThrow(/Usage: harbour backup --out FILE/);
    await expect(runCli(['restore', '--recovery-key-file', 'k'])).rejects.toThrow(/Usage: harbour restore/);
  }, 60_000);
});
