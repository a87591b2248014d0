import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { audit } from '../audit/log.js';
import type { Db } from '../db/index.js';
import type { Role } from '../db/schema.js';
import * as q from './queries.js';
import { insertPreparedUser, type PreparedUser } from './users.js';

/** Invitation links carry a random token (32 bytes, base64url); the database keeps only its SHA-256. */
export function hashToken(token: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(token).digest());
}

/**
 * Creates a one-time invitation and returns its token (shown once, in the
 * link). An address has at most one open invitation: a new one revokes the
 * earlier ones rather than being refused, because the earlier link was shown
 * once and may be lost or sent down the wrong channel — the administrator's
 * way out is a new link, and the old one must stop working. A partial unique
 * index enforces the rule in the database; the per-address lock makes two
 * parallel invitations queue instead of tripping over it.
 */
export async function createInvitation(
  db: Db,
  i: { email: string; roles: Role[]; invitedBy: string | null; days: number },
): Promise<{ id: string; token: string; revoked: string[] }> {
  const token = randomBytes(32).toString('base64url');
  const id = randomUUID();
  const email = q.normaliseEmail(i.email);
  const revoked = await db.transaction().execute(async (trx) => {
    await q.lockInvitationAddress(trx, email);
    const ids = await q.revokeOpenInvitations(trx, { email });
    await q.insertInvitation(trx, {
      id,
      token_hash: hashToken(token),
      email,
      roles: i.roles,
      invited_by: i.invitedBy,
      days: i.days,
    });
    for (const old of ids)
      await audit(trx, { action: 'staff.invitation_revoked', actorId: i.invitedBy, details: { invitation: old, reason: 'replaced' } });
    await audit(trx, { action: 'staff.invited', actorId: i.invitedBy, details: { invitation: id, roles: i.roles.join(',') } });
    return ids;
  });
  return { id, token, revoked };
}

/**
 * Accepts an invitation in one transaction: claim it (one atomic update: of
 * parallel accepts exactly one gets it), then create the account recording
 * who invited it. If the address was taken meanwhile (another invitation,
 * `harbour user add`) the insert fails on the unique email, the whole
 * transaction rolls back (the invitation stays unused) and the caller gets
 * EmailTakenError. Null if the invitation was used, revoked or expired.
 *
 * The account's keys are derived before (prepared): the transaction stays a
 * few milliseconds long, which matters on PGlite, where it holds the only
 * connection.
 */
export async function acceptInvitation(db: Db, invitationId: string, prepared: PreparedUser): Promise<{ userId: string } | null> {
  return db.transaction().execute(async (trx) => {
    const inv = await q.claimInvitation(trx, invitationId);
    if (!inv) return null;
    if (q.normaliseEmail(inv.email) !== prepared.row.email) throw new Error('prepared account does not match the invitation');
    await insertPreparedUser(trx, prepared, { via: 'invitation', invitedBy: inv.invited_by, invitedAt: inv.created_at });
    await audit(trx, {
      action: 'staff.invitation_accepted',
      actorId: prepared.id,
      subjectUserId: prepared.id,
      details: { invitation: inv.id, roles: inv.roles.join(','), ...(inv.invited_by ? { invitedBy: inv.invited_by } : {}) },
    });
    return { userId: prepared.id };
  });
}
