import { beforeAll, describe, expect, it } from 'vitest';
import { decodeRecoveryKey, encodeRecoveryKey, newKeyPair, publicKeyOf, readySodium } from '../../../server/crypto/index.js';

const HEX = '0123456789ABCDEF';

/** A fixed key, so the exhaustive typo test is deterministic. */
const FIXED_KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % 256);

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

describe('recovery key encoding', () => {
  beforeAll(async () => {
    await readySodium();
  });

  it('writes 64 hex digits and a 4-digit checksum in dash-separated groups', () => {
    const text = encodeRecoveryKey(FIXED_KEY);
    expect(text).toMatch(/^([0-9A-F]{8}-){8}[0-9A-F]{4}$/);
    expect(text.replace(/-/g, '').slice(0, 64).toLowerCase()).toBe(hex(FIXED_KEY));
  });

  it('round-trips a real private key, which still yields its public key', () => {
    const kp = newKeyPair();
    const decoded = decodeRecoveryKey(encodeRecoveryKey(kp.privateKey));
    expect(decoded).not.toBeNull();
    expect(hex(decoded!)).toBe(hex(kp.privateKey));
    expect(hex(publicKeyOf(decoded!))).toBe(hex(kp.publicKey));
  });

  it('ignores grouping, spacing and case when decoding', () => {
    const text = encodeRecoveryKey(FIXED_KEY);
    const bare = text.replace(/-/g, '');
    for (const variant of [
      bare,
      bare.toLowerCase(),
      text.replace(/-/g, ' '),
      text.toLowerCase(),
      `  ${text.replace(/-/g, '\n')}  `,
      (bare.match(/.{1,4}/g) ?? []).join(' - '),
    ]) {
      expect(decodeRecoveryKey(variant), variant).not.toBeNull();
      expect(hex(decodeRecoveryKey(variant)!)).toBe(hex(FIXED_KEY));
    }
  });

  it('rejects every single-digit typo (in the key and in the checksum)', () => {
    const bare = encodeRecoveryKey(FIXED_KEY).replace(/-/g, '');
    expect(bare.length).toBe(68);
    for (let i = 0; i < bare.length; i++) {
      for (const digit of HEX) {
        if (digit === bare[i]) continue;
        const typo = bare.slice(0, i) + digit + bare.slice(i + 1);
        expect(decodeRecoveryKey(typo), `position ${i} → ${digit}`).toBeNull();
      }
    }
  });

  it('rejects swapped neighbouring digits', () => {
    const bare = encodeRecoveryKey(FIXED_KEY).replace(/-/g, '');
    for (let i = 0; i < bare.length - 1; i++) {
      if (bare[i] === bare[i + 1]) continue;
      const swapped = bare.slice(0, i) + bare[i + 1] + bare[i] + bare.slice(i + 2);
      expect(decodeRecoveryKey(swapped), `swap at ${i}`).toBeNull();
    }
  });

  it.each([
    ['empty', ''],
    ['a missing digit', (k: string) => k.slice(0, -1)],
    ['an extra digit', (k: string) => k + '0'],
    ['the checksum left off', (k: string) => k.slice(0, 64)],
    ['a non-hex letter', (k: string) => 'G' + k.slice(1)],
    ['dots between groups', (k: string) => (k.match(/.{1,8}/g) ?? []).join('.')],
  ])('rejects %s', (_what, change) => {
    const text = encodeRecoveryKey(FIXED_KEY).replace(/-/g, '');
    const input = typeof change === 'string' ? change : change(text);
    expect(decodeRecoveryKey(input)).toBeNull();
  });
});
