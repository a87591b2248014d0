import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../server/cli.js';
import { encodeRecoveryKey, newKeyPair, readySodium } from '../../server/crypto/index.js';
import { lockDataDir } from '../../server/db/lock.js';

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

  it('refuses a backup of a database that is not set up, and says how to use the commands', async () => {
    useDir('empty');
    expect(await runCli(['migrate'])).toBe(0);
    await expect(runCli(['backup', '--out', path.join(root, 'x.hbk')])).rejects.toThrow(/not set up/);
    expect(existsSync(path.join(root, 'x.hbk'))).toBe(false);
    await expect(runCli(['backup'])).rejects.toThrow(/Usage: harbour backup --out FILE/);
    await expect(runCli(['restore', '--recovery-key-file', 'k'])).rejects.toThrow(/Usage: harbour restore/);
  }, 60_000);
});
