import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../server/app.js';
import { loadConfig } from '../../../server/config.js';
import { testArgon2Costs, useTestArgon2Costs } from '../../../server/crypto/argon.js';
import { PASSWORD_ARGON2, RECEIPT_ARGON2, derivePasswordKeys, deriveReceiptKeys, readySodium, toHex } from '../../../server/crypto/index.js';
import { rootDir } from '../../../server/paths.js';
import { TEST_ARGON2 } from '../../setup/argon2.js';

/**
 * The suite derives with cheap parameters (tests/setup/argon2.ts); these
 * tests hold the production ones: their values, a known answer computed with
 * them (a change to either constant, or a derivation that stops using them,
 * fails here), and that nothing but a test can install the cheap ones.
 */
const SALT = new Uint8Array(16).fill(7);

describe('production Argon2id parameters', () => {
  beforeAll(async () => {
    await readySodium();
    useTestArgon2Costs(null);
  });
  afterAll(() => useTestArgon2Costs(TEST_ARGON2));

  it('staff passwords: Argon2id, 64 MiB, 3 passes, 1 lane, 32 bytes, frozen', () => {
    expect({ ...PASSWORD_ARGON2 }).toEqual({ type: 2, memoryCost: 64 * 1024, timeCost: 3, parallelism: 1, hashLength: 32 });
    expect(Object.isFrozen(PASSWORD_ARGON2)).toBe(true);
  });

  it('receipts: Argon2id, 32 MiB, 3 passes, 1 lane, 32 bytes, frozen', () => {
    expect({ ...RECEIPT_ARGON2 }).toEqual({ type: 2, memoryCost: 32 * 1024, timeCost: 3, parallelism: 1, hashLength: 32 });
    expect(Object.isFrozen(RECEIPT_ARGON2)).toBe(true);
  });

  it('with nothing installed, a password derives with them (known answer)', async () => {
    expect(testArgon2Costs()).toBeNull();
    const keys = await derivePasswordKeys('correct horse battery staple', SALT);
    expect(toHex(keys.verifier)).toBe('83e41b78b56dcee9a2a5f386150969eba558aa2190ee372003957b5f200ba555');
    expect(toHex(keys.wrapKey)).toBe('73416ab67b15bc1433efc3d09af6d9a2eb25bd967648196a0757d1fea274f74b');
  });

  it('with nothing installed, a receipt derives with them (known answer)', async () => {
    const keys = await deriveReceiptKeys('01234567890123456789', SALT);
    expect(toHex(keys.lookup)).toBe('1f8d3110af3fb5b56f266d41ca89fe3bf036fd1d9e16aa1c533acae1fe9fd16a');
    expect(toHex(keys.wrapKey)).toBe('87957db34b8b7e89dbd39091c964ce561a29baf268d50a4a3f4c5e7fa97c2ffc');
  });

  it('the test parameters give other keys: a database made in tests opens nothing in production', async () => {
    useTestArgon2Costs(TEST_ARGON2);
    try {
      expect(toHex((await derivePasswordKeys('correct horse battery staple', SALT)).verifier)).not.toBe(
        '83e41b78b56dcee9a2a5f386150969eba558aa2190ee372003957b5f200ba555',
      );
    } finally {
      useTestArgon2Costs(null);
    }
  });

  it('no environment variable reaches them, and the configuration carries none', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      IP_HASH_SECRET: 'x'.repeat(32),
      ARGON2_MEMORY_COST: '8',
      ARGON2_TIME_COST: '1',
      RECEIPT_ARGON2: '8',
    });
    expect(JSON.stringify(config)).not.toMatch(/argon|memoryCost|timeCost/i);
    expect(testArgon2Costs()).toBeNull();
  });

  it('installing test parameters is refused under NODE_ENV=production', () => {
    const saved = process.env['NODE_ENV'];
    process.env['NODE_ENV'] = 'production';
    try {
      expect(() => useTestArgon2Costs(TEST_ARGON2)).toThrow(/production/);
      expect(testArgon2Costs()).toBeNull();
    } finally {
      process.env['NODE_ENV'] = saved;
    }
  });

  it('createApp refuses to build a production app while test parameters are installed', async () => {
    useTestArgon2Costs(TEST_ARGON2);
    try {
      const config = loadConfig({ NODE_ENV: 'production', IP_HASH_SECRET: 'x'.repeat(32) });
      await expect(createApp({ config, db: null as never, logger: null as never })).rejects.toThrow(/production/);
    } finally {
      useTestArgon2Costs(null);
    }
  });

  it('only tests install them: no file under server/ calls useTestArgon2Costs', () => {
    const callers: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.(ts|mjs|js)$/.test(e.name) && readFileSync(p, 'utf8').includes('useTestArgon2Costs(')) callers.push(path.relative(rootDir, p));
      }
    };
    walk(path.join(rootDir, 'server'));
    expect(callers).toEqual(['server/crypto/argon.ts']); // its definition
  });
});
