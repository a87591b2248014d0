import { sealTo, unsealWith, type KeyPair } from '../crypto/index.js';
import { audit } from '../audit/log.js';
import type { Db } from '../db/index.js';
import { openTeamKeyWithRecovery } from '../setup/service.js';
import * as q from './queries.js';

/** The team key pairs a user holds: each grant unsealed with the user's private key. */
export async function teamKeysFor(db: Db, userId: string, keyPair: KeyPair): Promise<Map<number, KeyPair>> {
  const keys = new Map<number, KeyPair>();
  for (const g of await q.grantsFor(db, userId)) {
    const privateKey = unsealWith(g.sealed_secret, keyPair, 'team key grant');
    keys.set(g.team_key_id, { publicKey: g.public_key, privateKey });
  }
  return keys;
}

/** Opens a report's data key with whichever team key it is sealed to; null if the user holds none. */
export function openDataKey(teamKeys: Map<number, KeyPair>, report: { team_key_id: number; data_key_sealed: Uint8Array }): Uint8Array | null {
  const team = teamKeys.get(report.team_key_id);
  return team ? unsealWith(report.data_key_sealed, team, 'report data key') : null;
}

/**
 * P7: the offline recovery key grants every active team key to a caseworker
 * (`harbour recover`, run by the operator who holds it). Under the grants
 * lock, like an approval, so a rotation starting meanwhile is not missed.
 */
export async function grantWithRecovery(db: Db, recoveryKey: string, userId: string): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await q.lockGrants(trx);
    const [user] = await q.lockPeople(trx, [userId]);
    if (!user || user.status !== 'active' || !user.roles.includes('caseworker')) throw new Error('only an active caseworker can be given access');
    const ids = (await q.activeTeamKeys(trx)).map((k) => k.id);
    for (const id of ids) {
      const team = await openTeamKeyWithRecovery(trx, recoveryKey, id);
      const sealed = sealTo(team.privateKey, user.public_key);
      await q.upsertGrant(trx, { user_id: userId, team_key_id: id, sealed_secret: sealed, approved_by: null });
    }
    await q.clearAccessRequest(trx, userId);
    await audit(trx, { action: 'keys.recovered', subjectUserId: userId, details: { teamKeys: ids.length } });
    return ids.length;
  });
}
