import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'harbour-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = 'k2T9wq7ZpV4mX1bN8cR6yH3jL5sD0fGa';

function refusal(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('IP_HASH_SECRET and IP_HASH_SECRET_FILE', () => {
  it('unset: null (each process then makes its own, in memory)', () => {
    expect(loadConfig({}).ipHashSecret).toBeNull();
  });

  it('taken as given, or from a file without its trailing newline', () => {
    expect(loadConfig({ IP_HASH_SECRET: SECRET }).ipHashSecret).toBe(SECRET);
    const file = path.join(dir, 'secret');
    writeFileSync(file, `${SECRET}\n`);
    expect(loadConfig({ IP_HASH_SECRET_FILE: file }).ipHashSecret).toBe(SECRET);
  });

  it('refuses a short secret, naming the variable and never showing the value', () => {
    const message = refusal({ IP_HASH_SECRET: 'short-secret-value' });
    expect(message).toContain('IP_HASH_SECRET');
    expect(message).not.toContain('short-secret-value');
    const file = path.join(dir, 'short');
    writeFileSync(file, 'short-secret-value\n');
    const fromFile = refusal({ IP_HASH_SECRET_FILE: file });
    expect(fromFile).toContain('IP_HASH_SECRET_FILE');
    expect(fromFile).not.toContain('short-secret-value');
  });

  it('refuses a file it cannot read, and both variables at once', () => {
    expect(refusal({ IP_HASH_SECRET_FILE: path.join(dir, 'missing') })).toContain('IP_HASH_SECRET_FILE');
    const file = path.join(dir, 'both');
    writeFileSync(file, SECRET);
    expect(refusal({ IP_HASH_SECRET: SECRET, IP_HASH_SECRET_FILE: file })).toMatch(/IP_HASH_SECRET.*not both/);
  });
});
