import { sealTo, type KeyPair } from '../crypto/index.js';
import { audit } from '../audit/log.js';
import { assertTransaction, type Db } from '../db/index.js';
import type { Role } from '../db/schema.js';
import * as q from './queries.js';
import { createUser } from './users.js';

/**
 * The first staff account, created by `harbour setup` while the freshly made
 * team key is still in memory: if the account is a caseworker, the team key
 * is sealed to it at once (later caseworkers are approved by a colleague, P3).
 * The caller owns the transaction: the account, its grant and the audit
 * entry are written together or not at all.
 */
export async function createFirstStaff(
  db: Db,
  a: { email: string; displayName: string; password: string; roles: Role[]; team: KeyPair; teamKeyId: number },
): Promise<string> {
  assertTransaction(db);
  const { id, keyPair } = await createUser(
    db,
    { email: a.email, displayName: a.displayName, roles: a.roles, password: a.password },
    { via: 'setup' },
  );
  if (a.roles.includes('caseworker')) {
    await q.insertGrant(db, {
      user_id: id,
      team_key_id: a.teamKeyId,
      sealed_secret: sealTo(a.team.privateKey, keyPair.publicKey),
      approved_by: null,
    });
  }
  await audit(db, { action: 'staff.created', subjectUserId: id, details: { roles: a.roles.join(','), via: 'setup' } });
  return id;
}
