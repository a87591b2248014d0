import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../server/cli.js';
import { createDb } from '../../server/db/index.js';
import { openTeamKeyWithRecovery } from '../../server/setup/service.js';

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
    expect(await runCli(['setup', '--org', 'Hong Kong Watch Test'])).toBe(0);
    const text = output.join('');
    expect(text).toContain('RECOVERY KEY');
    expect(text).toMatch(/keep it offline/);
    const key = /([0-9A-F]{8}(?:-[0-9A-F]{8}){7}-[0-9A-F]{4})/.exec(text)![1]!;

    const db = await createDb({ kind: 'pglite', dataDir: dir });
    try {
      const team = await openTeamKeyWithRecovery(db, key);
      expect(team.privateKey).toHaveLength(32);
      const inst = await db.selectFrom('installation').select('org_name').executeTakeFirstOrThrow();
      expect(inst.org_name).toBe('Hong Kong Watch Test');
      await expect(openTeamKeyWithRecovery(db, key.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')))).rejects.toThrow(/recovery key/);
    } finally {
      await db.destroy();
    }

    await expect(runCli(['setup', '--org', 'Again'])).rejects.toThrow(/already set up/);
  }, 180_000); // three cold starts of an on-disk PGlite

  it('a bad variable stops the command with a message naming it', async () => {
    process.env['PORT'] = 'not-a-port';
    await expect(runCli(['migrate'])).rejects.toThrow(/PORT/);
  });

  it('setup without --org and without a terminal asks for the option', async () => {
    await expect(runCli(['setup'])).rejects.toThrow(/Organisation name/);
  });
});
