import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { DecryptionError, sodium } from './sodium.js';

export type KeyPair = { publicKey: Uint8Array; privateKey: Uint8Array };

/**
 * Random bytes from the operating system's CSPRNG through node:crypto, which
 * is what libsodium's randombytes uses too, without libsodium-wrappers'
 * per-call copies through WebAssembly memory (measurable on uploads).
 */
export function randomBytes(n: number): Uint8Array {
  return new Uint8Array(nodeRandomBytes(n));
}

/** A fresh 256-bit symmetric key (report data keys, stream keys). */
export function newDataKey(): Uint8Array {
  return randomBytes(32);
}

export function newKeyPair(): KeyPair {
  const kp = sodium().crypto_box_keypair();
  return { publicKey: kp.publicKey, privateKey: kp.privateKey };
}

export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return sodium().crypto_scalarmult_base(privateKey);
}

/** Anonymous sealed box (X25519 + XSalsa20-Poly1305): anyone with the public key can seal (P2). */
export function sealTo(message: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return sodium().crypto_box_seal(message, publicKey);
}

export function unsealWith(sealed: Uint8Array, keyPair: KeyPair, what = 'sealed key'): Uint8Array {
  try {
    return sodium().crypto_box_seal_open(sealed, keyPair.publicKey, keyPair.privateKey);
  } catch {
    throw new DecryptionError(what);
  }
}

export function wipe(...buffers: Uint8Array[]): void {
  for (const b of buffers) sodium().memzero(b);
}

export function toHex(b: Uint8Array): string {
  return sodium().to_hex(b);
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && sodium().memcmp(a, b);
}
