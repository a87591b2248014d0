import type { Db } from '../db/index.js';

/** The installation row (one, id 1) and the team keys. */

export function selectInstallation(db: Db) {
  return db.selectFrom('installation').selectAll().where('id', '=', 1).executeTakeFirst();
}

export async function installationExists(db: Db): Promise<boolean> {
  return Boolean(await db.selectFrom('installation').select('id').executeTakeFirst());
}

export async function insertInstallation(
  db: Db,
  row: { orgName: string; recoveryPublicKey: Uint8Array; receiptSalt: Uint8Array; csrfSecret: Uint8Array },
): Promise<void> {
  await db
    .insertInto('installation')
    .values({
      id: 1,
      org_name: row.orgName,
      recovery_public_key: row.recoveryPublicKey,
      receipt_salt: row.receiptSalt,
      csrf_secret: row.csrfSecret,
    })
    .execute();
}

/** The team key reports are sealed to now: the newest not retired. */
export function selectCurrentTeamKey(db: Db) {
  return db.selectFrom('team_keys').select(['id', 'public_key']).where('retired_at', 'is', null).orderBy('id', 'desc').executeTakeFirstOrThrow();
}

export async function insertTeamKey(db: Db, publicKey: Uint8Array, secretSealedToRecovery: Uint8Array): Promise<number> {
  const row = await db
    .insertInto('team_keys')
    .values({ public_key: publicKey, secret_sealed_to_recovery: secretSealedToRecovery, retired_at: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** A team key's recovery copy: the given one, or the current one. */
export function selectTeamKeyForRecovery(db: Db, teamKeyId?: number) {
  let q = db.selectFrom('team_keys').select(['public_key', 'secret_sealed_to_recovery']);
  q = teamKeyId === undefined ? q.where('retired_at', 'is', null).orderBy('id', 'desc') : q.where('id', '=', teamKeyId);
  return q.executeTakeFirstOrThrow();
}
