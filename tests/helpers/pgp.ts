import * as openpgp from 'openpgp';

/**
 * OpenPGP for the alert tests only: a staff member's key pair, made here,
 * and decryption with its private half, as their mail client would. The
 * app itself only encrypts (server/crypto/openpgp.ts); this file is the one
 * exception to "openpgp only in server/crypto" (eslint.config.js), because
 * the test must prove the property against the library, not through our code.
 */

export type TestPgpKey = { publicKey: string; privateKey: string; fingerprint: string };

export async function newPgpKey(email = 'caseworker@example.org'): Promise<TestPgpKey> {
  const { publicKey, privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email }], format: 'armored' });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return { publicKey, privateKey, fingerprint: key.getFingerprint().toUpperCase() };
}

/** Decrypts an armoured message with a private key; throws if the key cannot open it. */
export async function decryptWith(privateKeyArmored: string, armoredMessage: string): Promise<string> {
  const privateKey = await openpgp.readPrivateKey({ armoredKey: privateKeyArmored });
  const message = await openpgp.readMessage({ armoredMessage });
  const { data } = await openpgp.decrypt({ message, decryptionKeys: privateKey, format: 'utf8' });
  return data as string;
}
