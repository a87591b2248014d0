import { beforeAll, describe, expect, it } from 'vitest';
import { keyedHash, newSessionToken, parseSessionToken, randomBytes, readySodium } from '../../../server/crypto/index.js';

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

describe('session tokens (P9)', () => {
  beforeAll(async () => {
    await readySodium();
  });

  it('puts 32 random bytes in the cookie as unpadded base64url', () => {
    const t = newSessionToken();
    expect(t.cookieValue).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(t.cookieValue, 'base64url').length).toBe(32);
  });

  it('parses its own cookie back to the same id hash and key', () => {
    for (let i = 0; i < 20; i++) {
      const t = newSessionToken();
      const parsed = parseSessionToken(t.cookieValue);
      expect(parsed).not.toBeNull();
      expect(parsed!.cookieValue).toBe(t.cookieValue);
      expect(hex(parsed!.idHash)).toBe(hex(t.idHash));
      expect(hex(parsed!.key)).toBe(hex(t.key));
    }
  });

  it('derives distinct 32-byte id hash and key, neither equal to the token', () => {
    const t = newSessionToken();
    const token = Buffer.from(t.cookieValue, 'base64url').toString('hex');
    expect(t.idHash.length).toBe(32);
    expect(t.key.length).toBe(32);
    expect(hex(t.idHash)).not.toBe(hex(t.key));
    expect(hex(t.idHash)).not.toBe(token);
    expect(hex(t.key)).not.toBe(token);
  });

  it('gives a fresh token each time', () => {
    const values = new Set(Array.from({ length: 100 }, () => newSessionToken().cookieValue));
    expect(values.size).toBe(100);
  });

  it.each([
    ['empty', ''],
    ['too short', 'A'.repeat(42)],
    ['too long', 'A'.repeat(44)],
    ['standard base64 characters', '+'.repeat(43)],
    ['slashes', '/'.repeat(43)],
    ['padding', 'A'.repeat(42) + '='],
    ['whitespace', ' ' + 'A'.repeat(42)],
    ['a dot', 'A'.repeat(42) + '.'],
    ['a non-ASCII letter', 'A'.repeat(42) + 'é'],
    ['a cookie signature suffix', 'A'.repeat(43) + '.sig'],
    // 43 characters carry 258 bits; the last two must be zero for 32 bytes.
    ['non-canonical trailing bits', 'A'.repeat(42) + 'B'],
  ])('refuses a malformed cookie: %s', (_what, value) => {
    expect(parseSessionToken(value)).toBeNull();
  });

  it('accepts the canonical all-zero token (format, not content, is checked)', () => {
    expect(parseSessionToken('A'.repeat(43))).not.toBeNull();
  });

  describe('keyedHash', () => {
    it('is deterministic for the same key and value', () => {
      const key = randomBytes(32);
      expect(keyedHash(key, '203.0.113.7')).toBe(keyedHash(key, '203.0.113.7'));
      expect(keyedHash(key, '203.0.113.7')).toMatch(/^[0-9a-f]{32}$/);
    });

    it('differs per key, so a rotated key unlinks yesterday’s hashes (P10)', () => {
      const a = randomBytes(32);
      const b = randomBytes(32);
      expect(keyedHash(a, '203.0.113.7')).not.toBe(keyedHash(b, '203.0.113.7'));
    });

    it('differs per value', () => {
      const key = randomBytes(32);
      expect(keyedHash(key, '203.0.113.7')).not.toBe(keyedHash(key, '203.0.113.8'));
    });

    it('is a fixed-length digest that carries nothing of the value', () => {
      // A fixed key keeps this deterministic: with a random key, a 32-digit
      // hex digest contains any given 3 digits by chance about 1 run in 140.
      const key = new Uint8Array(32).fill(7);
      for (const value of ['1', '203.0.113.7', '2001:db8::1'.repeat(50)]) {
        expect(keyedHash(key, value)).toMatch(/^[0-9a-f]{32}$/);
      }
      expect(keyedHash(key, '203.0.113.7')).not.toContain('203');
    });
  });
});
