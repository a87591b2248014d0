import { randomUUID } from 'node:crypto';
import {
  constantTimeEqual,
  decryptField,
  decryptText,
  derivePasswordKeys,
  encryptField,
  newKeyPair,
  newPasswordSalt,
  publicKeyOf,
  type KeyPair,
} from '../crypto/index.js';
import type { Insertable } from 'kysely';
import type { Db } from '../db/index.js';
import type { Role, UsersTable } from '../db/schema.js';
import * as q from './queries.js';
import { EmailTakenError } from './queries.js';

export { EmailTakenError };

type UserRow = NonNullable<Awaited<ReturnType<typeof q.findUser>>>;

const privateKeyCtx = (id: string) => ({ table: 'users', id, field: 'private_key' });
const totpCtx = (id: string) => ({ table: 'users', id, field: 'totp_secret' });

export type Unlocked = { user: UserRow; keyPair: KeyPair; wrapKey: Uint8Array };

/** Password material for a user: salt, verifier, and the private key wrapped under the password-derived key. */
async function passwordMaterial(id: string, password: string, keyPair: KeyPair) {
  const salt = newPasswordSalt();
  const keys = await derivePasswordKeys(password, salt);
  return {
    password_salt: salt,
    password_verifier: keys.verifier,
    private_key_wrapped: encryptField(keys.wrapKey, keyPair.privateKey, privateKeyCtx(id)),
    wrapKey: keys.wrapKey,
  };
}

/** How an account came to exist, recorded on it and shown to whoever approves its access. */
export type Origin = { via: 'setup' | 'cli' } | { via: 'invitation'; invitedBy: string | null; invitedAt: Date };

type NewUser = { email: string; displayName: string; roles: Role[]; password: string };
export type PreparedUser = { id: string; keyPair: KeyPair; wrapKey: Uint8Array; row: Insertable<UsersTable> };

/** Keys and password material for a new account, computed before anything is written (the Argon2id derivation is the slow part). */
export async function prepareUser(u: NewUser): Promise<PreparedUser> {
  const id = randomUUID();
  const keyPair = newKeyPair();
  const { wrapKey, ...material } = await passwordMaterial(id, u.password, keyPair);
  const row: Insertable<UsersTable> = {
    id,
    email: q.normaliseEmail(u.email),
    display_name: u.displayName.trim(),
    roles: [...new Set(u.roles)],
    status: 'active',
    public_key: keyPair.publicKey,
    totp_secret_wrapped: null,
    totp_last_step: null,
    deactivated_at: null,
    ...material,
  };
  return { id, keyPair, wrapKey, row };
}

/** Writes a prepared account; EmailTakenError if the address is taken (also when a parallel insert won). */
export async function insertPreparedUser(db: Db, p: PreparedUser, origin?: Origin): Promise<void> {
  const provenance =
    origin?.via === 'invitation'
      ? { created_via: origin.via, invited_by: origin.invitedBy, invited_at: origin.invitedAt }
      : origin
        ? { created_via: origin.via }
        : {};
  await q.insertUser(db, { ...p.row, ...provenance });
}

export async function createUser(db: Db, u: NewUser, origin?: Origin): Promise<{ id: string; keyPair: KeyPair; wrapKey: Uint8Array }> {
  if (await q.findUserByEmail(db, u.email)) throw new EmailTakenError();
  const prepared = await prepareUser(u);
  await insertPreparedUser(db, prepared, origin);
  return { id: prepared.id, keyPair: prepared.keyPair, wrapKey: prepared.wrapKey };
}

// A fixed salt for the dummy derivation that keeps "no such user" as slow as "wrong password".
const DUMMY_SALT = new Uint8Array(16).fill(7);

/** The user and their unlocked keys if the password is right; null otherwise (unknown email takes as long). */
export async function unlockWithPassword(db: Db, email: string, password: string): Promise<Unlocked | null> {
  const user = await q.findUserByEmail(db, email);
  if (!user) {
    await derivePasswordKeys(password, DUMMY_SALT);
    return null;
  }
  const keys = await derivePasswordKeys(password, user.password_salt);
  if (!constantTimeEqual(keys.verifier, user.password_verifier)) return null;
  const privateKey = decryptField(keys.wrapKey, user.private_key_wrapped, privateKeyCtx(user.id));
  return { user, keyPair: { privateKey, publicKey: publicKeyOf(privateKey) }, wrapKey: keys.wrapKey };
}

export function wrapTotpSecret(wrapKey: Uint8Array, userId: string, secret: string): Uint8Array {
  return encryptField(wrapKey, secret, totpCtx(userId));
}

export function unwrapTotpSecret(wrapKey: Uint8Array, user: { id: string; totp_secret_wrapped: Uint8Array | null }): string | null {
  return user.totp_secret_wrapped ? decryptText(wrapKey, user.totp_secret_wrapped, totpCtx(user.id)) : null;
}

/** Re-wraps the same private key and TOTP secret under a new password; every session ends. */
export async function changePassword(db: Db, unlocked: Unlocked, newPassword: string): Promise<void> {
  const { user, keyPair, wrapKey } = unlocked;
  const totp = unwrapTotpSecret(wrapKey, user);
  const { wrapKey: newWrap, ...material } = await passwordMaterial(user.id, newPassword, keyPair);
  await db.transaction().execute(async (trx) => {
    await q.setPassword(trx, user.id, { ...material, totp_secret_wrapped: totp ? wrapTotpSecret(newWrap, user.id, totp) : null });
    await q.deleteUserSessions(trx, user.id);
  });
}

/**
 * A new password with a NEW key pair, for recovery when the old password is
 * lost (the old private key cannot be unwrapped). Old key grants are
 * dropped (they were sealed to the lost key) and TOTP must be enrolled again.
 */
export async function resetPasswordWithNewKeys(db: Db, userId: string, newPassword: string): Promise<KeyPair> {
  const keyPair = newKeyPair();
  const { wrapKey: _unused, ...material } = await passwordMaterial(userId, newPassword, keyPair);
  await db.transaction().execute(async (trx) => {
    await q.setPassword(trx, userId, { ...material, public_key: keyPair.publicKey, totp_secret_wrapped: null, totp_last_step: null });
    await q.deleteUserGrants(trx, userId);
    await q.deleteUserSessions(trx, userId);
  });
  return keyPair;
}
