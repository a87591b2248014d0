import { beforeAll, describe, expect, it } from 'vitest';
import {
  DecryptionError,
  constantTimeEqual,
  newDataKey,
  newKeyPair,
  publicKeyOf,
  readySodium,
  sealTo,
  unsealWith,
  wipe,
} from '../../../server/crypto/index.js';

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

describe('key pairs and sealed boxes', () => {
  beforeAll(async () => {
    await readySodium();
  });

  it('seals to a public key and opens with the matching pair', () => {
    const team = newKeyPair();
    const dataKey = newDataKey();
    const sealed = sealTo(dataKey, team.publicKey);
    expect(hex(unsealWith(sealed, team))).toBe(hex(dataKey));
  });

  it('seals the same message differently each time (ephemeral sender key)', () => {
    const team = newKeyPair();
    const dataKey = newDataKey();
    expect(hex(sealTo(dataKey, team.publicKey))).not.toBe(hex(sealTo(dataKey, team.publicKey)));
  });

  it('refuses to open with another key pair', () => {
    const team = newKeyPair();
    const other = newKeyPair();
    const sealed = sealTo(newDataKey(), team.publicKey);
    expect(() => unsealWith(sealed, other)).toThrow(DecryptionError);
  });

  it('refuses a tampered or truncated sealed box', () => {
    const team = newKeyPair();
    const sealed = sealTo(newDataKey(), team.publicKey);
    for (const i of [0, 31, 32, sealed.length - 1]) {
      const bad = new Uint8Array(sealed);
      bad[i] = bad[i]! ^ 0x01;
      expect(() => unsealWith(bad, team), `byte ${i}`).toThrow(DecryptionError);
    }
    expect(() => unsealWith(sealed.subarray(0, sealed.length - 1), team)).toThrow(DecryptionError);
    expect(() => unsealWith(new Uint8Array(0), team)).toThrow(DecryptionError);
  });

  it('names what failed in the error', () => {
    const sealed = sealTo(newDataKey(), newKeyPair().publicKey);
    expect(() => unsealWith(sealed, newKeyPair(), 'team key')).toThrow(/team key/);
  });

  it('derives the public key from the private key', () => {
    const kp = newKeyPair();
    expect(hex(publicKeyOf(kp.privateKey))).toBe(hex(kp.publicKey));
  });

  it('makes fresh 32-byte data keys', () => {
    const a = newDataKey();
    const b = newDataKey();
    expect(a.length).toBe(32);
    expect(hex(a)).not.toBe(hex(b));
  });

  it('compares in constant time with the right answer', () => {
    const a = newDataKey();
    expect(constantTimeEqual(a, new Uint8Array(a))).toBe(true);
    const b = new Uint8Array(a);
    b[31] = b[31]! ^ 1;
    expect(constantTimeEqual(a, b)).toBe(false);
    expect(constantTimeEqual(a, a.subarray(0, 31))).toBe(false);
  });

  it('wipes buffers', () => {
    const a = newDataKey();
    const b = newDataKey();
    wipe(a, b);
    expect(a.every((x) => x === 0)).toBe(true);
    expect(b.every((x) => x === 0)).toBe(true);
  });
});
