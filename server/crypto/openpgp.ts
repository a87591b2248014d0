import type { Key } from 'openpgp';

// Loaded on first use: most installations never set a key, and the library is large.
const pgp = () => import('openpgp');

/**
 * OpenPGP for e-mail alerts (issue 11): a staff member may paste a public key,
 * and every alert to them is then encrypted to it. openpgp.js does the work;
 * this file only reads a pasted key and encrypts one message.
 */

export type AlertKey = { armored: string; fingerprint: string };

/** Refusals of a pasted key, by cause, so the page can say which in the staff member's language. */
export type AlertKeyProblem = 'unreadable' | 'private' | 'expired' | 'revoked' | 'cannot_encrypt';

/**
 * A pasted armoured public key, checked: one key, public, not expired or
 * revoked, able to encrypt. The key is stored re-armoured (no comments or
 * stray text from the paste); the fingerprint is shown to its owner.
 */
export async function readAlertKey(pasted: string): Promise<AlertKey | { problem: AlertKeyProblem }> {
  const openpgp = await pgp();
  let key: Key;
  try {
    key = await openpgp.readKey({ armoredKey: pasted.trim() });
  } catch {
    return { problem: 'unreadable' };
  }
  if (key.isPrivate()) return { problem: 'private' };
  if (await key.isRevoked()) return { problem: 'revoked' };
  const expires = await key.getExpirationTime();
  if (expires !== Infinity && expires !== null && +expires <= Date.now()) return { problem: 'expired' };
  try {
    await key.getEncryptionKey();
  } catch {
    return { problem: 'cannot_encrypt' };
  }
  return { armored: key.armor(), fingerprint: key.getFingerprint().toUpperCase() };
}

/** One message (a whole MIME entity, for PGP/MIME) encrypted to the key: armoured text. */
export async function encryptToKey(armoredKey: string, text: string): Promise<string> {
  const openpgp = await pgp();
  const encryptionKeys = await openpgp.readKey({ armoredKey });
  const message = await openpgp.createMessage({ text });
  return openpgp.encrypt({ message, encryptionKeys, format: 'armored' });
}

/**
 * Tests only (the linter keeps openpgp out of tests/): a fresh key pair, armoured.
 * `expired` dates it ten days back with a one-day lifetime; `revoked` hands
 * back the public key with its revocation applied; `signOnly` has no
 * encryption subkey.
 */
export async function generateTestKeyPair(opts: { email?: string; expired?: boolean; revoked?: boolean; signOnly?: boolean } = {}) {
  const openpgp = await pgp();
  const { publicKey, privateKey, revocationCertificate } = await openpgp.generateKey({
    userIDs: [{ email: opts.email ?? 'staff@example.org' }],
    ...(opts.expired ? { date: new Date(Date.now() - 10 * 86_400_000), keyExpirationTime: 86_400 } : {}),
    ...(opts.signOnly ? { subkeys: [] } : {}),
    format: 'armored',
  });
  if (!opts.revoked) return { publicKey, privateKey };
  const key = await openpgp.readKey({ armoredKey: publicKey });
  const revoked = await openpgp.revokeKey({ key, revocationCertificate, format: 'armored' });
  return { publicKey: revoked.publicKey, privateKey };
}
