import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../server/cli.js';
import { createDb } from '../../server/db/index.js';
import { openTeamKeyWithRecovery } from '../../server/setup/service.js';
import { teamKeysFor } from '../../server/staff/keys.js';
import { unlockWithPassword } from '../../server/staff/users.js';

/** The `harbour` command on the embedded database in a temporary DATA_DIR. */
let dir: string;
let saved: NodeJS.ProcessEnv;
let output: string[];
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'harbour-cli-'));
  saved = { ...process.env };
  delete process.env['DATABASE_URL'];
  process.env['DATA_DIR'] = dir;
  output = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    output.push(String(chunk));
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  process.env = saved;
  rmSync(dir, { recursive: true, force: true });
});

describe('harbour CLI', () => {
  it('migrate, then setup prints the recovery key once; it opens the team key; a second setup is refused', async () => {
    expect(await runCli(['migrate'])).toBe(0);
    expect(output.join('')).toContain('applied 2026_11_23_120000_foundation');

    output.length = 0;
    const pwFile = path.join(dir, 'pw.txt');
    writeFileSync(pwFile, 'harbour first admin passphrase\n');
    expect(
      await runCli([
        'setup',
        '--org',
        'Hong Kong Watch Test',
        '--admin-email',
        'Lead@Example.org',
        '--admin-name',
        'Lead',
        '--password-file',
        pwFile,
      ]),
    ).toBe(0);
    const text = output.join('');
    expect(text).toContain('Created Lead@Example.org (admin and caseworker)');
    expect(text).toContain('RECOVERY KEY');
    expect(text).toMatch(/keep it offline/);
    const key = /([0-9A-F]{8}(?:-[0-9A-F]{8}){7}-[0-9A-F]{4})/.exec(text)![1]!;

    const db = await createDb({ kind: 'pglite', dataDir: path.join(dir, 'pgdata') });
    try {
      const team = await openTeamKeyWithRecovery(db, key);
      expect(team.privateKey).toHaveLength(32);
      const inst = await db.selectFrom('installation').select('org_name').executeTakeFirstOrThrow();
      expect(inst.org_name).toBe('Hong Kong Watch Test');
      await expect(
        openTeamKeyWithRecovery(
          db,
          key.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
        ),
      ).rejects.toThrow(/recovery key/);
      // The first administrator is a caseworker holding the team key, and can sign in with the password.
      const unlocked = await unlockWithPassword(db, 'lead@example.org', 'harbour first admin passphrase');
      expect(unlocked?.user.roles).toEqual(['admin', 'caseworker']);
      expect((await teamKeysFor(db, unlocked!.user.id, unlocked!.keyPair)).size).toBe(1);
      const entries = await db.selectFrom('audit_log').select('action').execute();
      expect(entries.map((e) => e.action)).toContain('staff.created');
    } finally {
      await db.destroy();
    }

    await expect(runCli(['setup', '--org', 'Again', '--no-admin'])).rejects.toThrow(/already set up/);

    // user add, then recover with the recovery key from a file.
    output.length = 0;
    writeFileSync(pwFile, 'second caseworker passphrase\n');
    expect(await runCli(['user', 'add', '--email', 'cw@example.org', '--name', 'CW', '--roles', 'caseworker', '--password-file', pwFile])).toBe(0);
    expect(output.join('')).toContain('must approve');
    const keyFile = path.join(dir, 'recovery.txt');
    writeFileSync(keyFile, key + '\n');
    output.length = 0;
    expect(await runCli(['recover', '--email', 'cw@example.org', '--recovery-key-file', keyFile])).toBe(0);
    expect(output.join('')).toContain('can open every case again');
    // seed --demo: two years of work that the first retention runs leave alone, with a verifiable history.
    for (const bad of ['0', '100001', '1.5', 'many'])
      await expect(runCli(['seed', '--demo', '--cases', bad])).rejects.toThrow(/--cases takes a whole number/);
    output.length = 0;
    expect(await runCli(['seed', '--demo', '--cases', '60'])).toBe(0);
    const seeded = output.join('');
    expect(seeded).toContain('Seeded 60 fictional cases');
    expect(seeded).toMatch(/with [\d,]+ messages, [\d,]+ internal notes, [\d,]+ referral records/);
    expect(seeded).toMatch(/[1-9][\d,]* older cases already deleted by the 365-day retention period/);
    await expect(runCli(['seed', '--demo'])).rejects.toThrow(/already has reports/);
    output.length = 0;
    expect(await runCli(['purge'])).toBe(0);
    expect(output.join('')).toContain('Deleted 0 closed case(s)');
    expect(await runCli(['housekeeping'])).toBe(0);
    const after = await createDb({ kind: 'pglite', dataDir: path.join(dir, 'pgdata') });
    try {
      expect(
        Number(
          (
            await after
              .selectFrom('reports')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        ),
      ).toBe(60);
    } finally {
      await after.destroy();
    }
    output.length = 0;
    expect(await runCli(['audit', 'verify'])).toBe(0);
    expect(output.join('')).toContain('OK: the chain is intact.');
  }, 240_000); // several cold starts of an on-disk PGlite

  it('a bad variable stops the command with a message naming it', async () => {
    process.env['PORT'] = 'not-a-port';
    await expect(runCli(['migrate'])).rejects.toThrow(/PORT/);
  });

  it('setup without --org and without a terminal asks for the option', async () => {
    await expect(runCli(['setup'])).rejects.toThrow(/Organisation name/);
    await expect(runCli(['setup', '--org', 'X'])).rejects.toThrow(/administrator email/);
  });

  it('a weak first password is refused before anything is written', async () => {
    const pwFile = path.join(dir, 'weak.txt');
    writeFileSync(pwFile, 'password1234\n');
    await expect(runCli(['setup', '--org', 'X', '--admin-email', 'a@example.org', '--password-file', pwFile])).rejects.toThrow(/common/);
  });
});
