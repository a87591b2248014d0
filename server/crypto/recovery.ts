import { sodium } from './sodium.js';

/**
 * The offline recovery key (P7) is the X25519 private key, written as 64 hex
 * digits in groups of eight plus a 4-digit checksum group so that a typing
 * mistake is caught before any decryption is attempted.
 */
export function encodeRecoveryKey(privateKey: Uint8Array): string {
  const s = sodium();
  const hex = s.to_hex(privateKey) + s.to_hex(s.crypto_generichash(16, privateKey, null).subarray(0, 2));
  return (hex.match(/.{1,8}/g) ?? []).join('-').toUpperCase();
}

export function decodeRecoveryKey(text: string): Uint8Array | null {
  const s = sodium();
  const hex = text.replace(/[\s-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{68}$/.test(hex)) return null;
  const key = s.from_hex(hex.slice(0, 64));
  const check = s.to_hex(s.crypto_generichash(16, key, null).subarray(0, 2));
  return check === hex.slice(64) ? key : null;
}
