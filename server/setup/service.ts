import { decodeRecoveryKey, encodeRecoveryKey, newKeyPair, publicKeyOf, randomBytes, sealTo, unsealWith, type KeyPair } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import { seedDefaultLists } from '../settings/lists.js';
import * as q from './queries.js';

export type Installation = Readonly<{
  orgName: string;
  receiptSalt: Uint8Array;
  csrfSecret: Uint8Array;
  recoveryPublicKey: Uint8Array;
}>;

export type TeamPublicKey = { id: number; publicKey: Uint8Array };

export class AlreadySetUpError extends Error {
  constructor() {
    super('Harbour is already set up for an organisation.');
  }
}

export async function getInstallation(db: Db): Promise<Installation | null> {
  const row = await q.selectInstallation(db);
  if (!row) return null;
  return Object.freeze({
    orgName: row.org_name,
    receiptSalt: row.receipt_salt,
    csrfSecret: row.csrf_secret,
    recoveryPublicKey: row.recovery_public_key,
  });
}

export async function currentTeamKey(db: Db): Promise<TeamPublicKey> {
  const row = await q.selectCurrentTeamKey(db);
  return { id: row.id, publicKey: row.public_key };
}

/**
 * Creates the organisation: the team key pair (reports are sealed to its
 * public half, P2) and the offline recovery key pair; the team private key
 * is stored only sealed to the recovery key (P7). Returns the recovery key
 * text, which exists nowhere else once the caller has shown it.
 */
export async function setupOrganisation(db: Db, opts: { orgName: string }): Promise<{ recoveryKey: string; team: KeyPair; teamKeyId: number }> {
  const orgName = opts.orgName.trim();
  if (!orgName || orgName.length > 200) throw new Error('The organisation name must be 1 to 200 characters.');
  const team = newKeyPair();
  const recovery = newKeyPair();
  let teamKeyId = 0;
  await db.transaction().execute(async (trx) => {
    if (await q.installationExists(trx)) throw new AlreadySetUpError();
    await q.insertInstallation(trx, {
      orgName,
      recoveryPublicKey: recovery.publicKey,
      receiptSalt: randomBytes(16),
      csrfSecret: randomBytes(32),
    });
    teamKeyId = await q.insertTeamKey(trx, team.publicKey, sealTo(team.privateKey, recovery.publicKey));
    await seedDefaultLists(trx);
  });
  // The team key pair is returned in memory only, so set-up can grant it to
  // the first caseworker; it is never written anywhere unsealed.
  return { recoveryKey: encodeRecoveryKey(recovery.privateKey), team, teamKeyId };
}

/** Opens a team key pair with the offline recovery key (P7). */
export async function openTeamKeyWithRecovery(db: Db, recoveryKeyText: string, teamKeyId?: number): Promise<KeyPair> {
  const privateKey = decodeRecoveryKey(recoveryKeyText);
  if (!privateKey) throw new Error('That is not a valid recovery key (check for typing mistakes).');
  const recovery = { privateKey, publicKey: publicKeyOf(privateKey) };
  const row = await q.selectTeamKeyForRecovery(db, teamKeyId);
  const teamPrivate = unsealWith(row.secret_sealed_to_recovery, recovery, 'team key (wrong recovery key?)');
  return { publicKey: row.public_key, privateKey: teamPrivate };
}
