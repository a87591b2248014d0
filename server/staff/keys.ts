import { sql } from 'kysely';
import { sealTo, unsealWith, type KeyPair } from '../crypto/index.js';
import { audit } from '../audit/log.js';
import type { Db } from '../db/index.js';
import { openTeamKeyWithRecovery } from '../setup/service.js';
import * as q from './queries.js';

/** The team key pairs a user holds: each grant unsealed with the user's private key. */
export async function teamKeysFor(db: Db, userId: string, keyPair: KeyPair): Promise<Map<number, KeyPair>> {
  const keys = new Map<number, KeyPair>();
  for (const g of await q.grantsFor(db, userId)) {
    const privateKey = unsealWith(g.sealed_secret!, keyPair, 'team key grant');
    keys.set(g.team_key_id, { publicKey: g.public_key, privateKey });
  }
  return keys;
}

/** Opens a report's data key with whichever team key it is sealed to; null if the user holds none. */
export function openDataKey(teamKeys: Map<number, KeyPair>, report: { team_key_id: number; data_key_sealed: Uint8Array }): Uint8Array | null {
  const team = teamKeys.get(report.team_key_id);
  return team ? unsealWith(report.data_key_sealed, team, 'report data key') : null;
}

async function activeTeamKeyIds(db: Db): Promise<number[]> {
  return (await db.selectFrom('team_keys').select('id').where('retired_at', 'is', null).execute()).map((r) => r.id);
}

/**
 * P3: approving a caseworker is one action. The grant rows are written at
 * once; if the approver holds the team keys (a signed-in caseworker) they
 * are sealed to the new caseworker immediately. An administrator who is not
 * a caseworker holds no team key (P6): the grant then waits, and the next
 * signed-in caseworker's request seals it (sealPendingGrants).
 */
export async function approveAccess(
  db: Db,
  approver: { id: string; teamKeys: Map<number, KeyPair> } | null,
  userId: string,
): Promise<{ sealed: boolean }> {
  const user = await q.findUser(db, userId);
  if (!user || user.status !== 'active' || !user.roles.includes('caseworker')) throw new Error('only an active caseworker can be approved');
  let sealed = true;
  await db.transaction().execute(async (trx) => {
    for (const teamKeyId of await activeTeamKeyIds(trx)) {
      const team = approver?.teamKeys.get(teamKeyId);
      if (!team) sealed = false;
      const sealedSecret = team ? sealTo(team.privateKey, user.public_key) : null;
      const sealedAt = team ? new Date() : null;
      await trx
        .insertInto('key_grants')
        .values({ user_id: userId, team_key_id: teamKeyId, sealed_secret: sealedSecret, approved_by: approver?.id ?? null, sealed_at: sealedAt })
        .onConflict((oc) =>
          oc.columns(['user_id', 'team_key_id']).doUpdateSet((eb) => ({
            sealed_secret: eb.fn.coalesce('key_grants.sealed_secret', eb.val(sealedSecret)),
            sealed_at: eb.fn.coalesce('key_grants.sealed_at', eb.val(sealedAt)),
          })),
        )
        .execute();
    }
    await audit(trx, { action: 'staff.access_approved', actorId: approver?.id ?? null, subjectUserId: userId, details: { sealed } });
  });
  return { sealed };
}

/** Seals approved-but-unsealed grants with the team keys this caseworker holds. Cheap when there are none. */
export async function sealPendingGrants(db: Db, actorId: string, teamKeys: Map<number, KeyPair>): Promise<number> {
  if (teamKeys.size === 0) return 0;
  const pending = await db
    .selectFrom('key_grants')
    .innerJoin('users', 'users.id', 'key_grants.user_id')
    .select(['key_grants.user_id', 'key_grants.team_key_id', 'users.public_key'])
    .where('key_grants.sealed_secret', 'is', null)
    .where('users.status', '=', 'active')
    .where(sql<boolean>`users.roles @> array['caseworker']::text[]`)
    .execute();
  let count = 0;
  for (const p of pending) {
    const team = teamKeys.get(p.team_key_id);
    if (!team) continue;
    const res = await db
      .updateTable('key_grants')
      .set({ sealed_secret: sealTo(team.privateKey, p.public_key), sealed_at: new Date() })
      .where('user_id', '=', p.user_id)
      .where('team_key_id', '=', p.team_key_id)
      .where('sealed_secret', 'is', null)
      .executeTakeFirst();
    if (res.numUpdatedRows === 1n) {
      count++;
      await audit(db, { action: 'staff.access_sealed', actorId, subjectUserId: p.user_id, details: { teamKeyId: p.team_key_id } });
    }
  }
  return count;
}

/** P7: the offline recovery key grants every active team key to a caseworker. */
export async function grantWithRecovery(db: Db, recoveryKey: string, userId: string): Promise<number> {
  const user = await q.findUser(db, userId);
  if (!user || user.status !== 'active' || !user.roles.includes('caseworker')) throw new Error('only an active caseworker can be given access');
  const ids = await activeTeamKeyIds(db);
  for (const id of ids) {
    const team = await openTeamKeyWithRecovery(db, recoveryKey, id);
    await db
      .insertInto('key_grants')
      .values({ user_id: userId, team_key_id: id, sealed_secret: sealTo(team.privateKey, user.public_key), approved_by: null, sealed_at: new Date() })
      .onConflict((oc) => oc.columns(['user_id', 'team_key_id']).doUpdateSet({ sealed_secret: sealTo(team.privateKey, user.public_key), sealed_at: new Date() }))
      .execute();
  }
  await audit(db, { action: 'keys.recovered', subjectUserId: userId, details: { teamKeys: ids.length } });
  return ids.length;
}
