import argon2 from 'argon2';
import { deriveTwoSubkeys, testArgon2Costs } from './argon.js';
import { randomBytes } from './keys.js';

/**
 * Staff passwords. One Argon2id derivation per sign-in gives a master secret
 * from which two subkeys are derived with distinct crypto_kdf contexts: the
 * login verifier (stored, compared in constant time) and the key that wraps
 * the user's private key and TOTP secret (never stored; P9 keeps what it
 * unlocks only in the session, encrypted under the cookie's secret).
 *
 * 64 MiB, 3 passes, 1 lane: twice the receipt memory, as staff accounts are
 * the prize for a state adversary with the database (offline guessing).
 */
export const PASSWORD_ARGON2 = Object.freeze({
  type: argon2.argon2id,
  memoryCost: 64 * 1024,
  timeCost: 3,
  parallelism: 1,
  hashLength: 32,
});

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

export type PasswordKeys = { verifier: Uint8Array; wrapKey: Uint8Array };

export function newPasswordSalt(): Uint8Array {
  return randomBytes(16);
}

export async function derivePasswordKeys(password: string, salt: Uint8Array): Promise<PasswordKeys> {
  const [verifier, wrapKey] = await deriveTwoSubkeys(password.normalize('NFC'), salt, testArgon2Costs()?.password ?? PASSWORD_ARGON2, [
    'pwverify',
    'pwwrapky',
  ]);
  return { verifier, wrapKey };
}
