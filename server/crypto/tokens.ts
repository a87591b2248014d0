import { randomBytes } from './keys.js';
import { sodium } from './sodium.js';

/**
 * Session tokens (P9). The cookie carries one random 32-byte token. The
 * database row is found by a hash of the token (context 'sessidhs') and its
 * payload is encrypted under a second key derived from it (context
 * 'sesskey_'): a copy of the sessions table opens nothing without the cookie.
 */
export type SessionToken = { cookieValue: string; idHash: Uint8Array; key: Uint8Array };

export function newSessionToken(): SessionToken {
  const token = randomBytes(32);
  return fromToken(token);
}

export function parseSessionToken(cookieValue: string): SessionToken | null {
  if (!/^[A-Za-z0-9_-]{43}$/.test(cookieValue)) return null;
  try {
    const token = sodium().from_base64(cookieValue, sodium().base64_variants.URLSAFE_NO_PADDING);
    return token.length === 32 ? fromToken(token) : null;
  } catch {
    return null;
  }
}

function fromToken(token: Uint8Array): SessionToken {
  const s = sodium();
  return {
    cookieValue: s.to_base64(token, s.base64_variants.URLSAFE_NO_PADDING),
    idHash: s.crypto_kdf_derive_from_key(32, 1, 'sessidhs', token),
    key: s.crypto_kdf_derive_from_key(32, 2, 'sesskey_', token),
  };
}

/** Keyed BLAKE2b, hex; used for rate-limit keys over client IPs (P10). */
export function keyedHash(key: Uint8Array, value: string): string {
  const s = sodium();
  return s.to_hex(s.crypto_generichash(16, s.from_string(value), key));
}
