import { audit } from '../audit/log.js';
import type { Db } from '../db/index.js';
import { notFound } from '../errors.js';
import * as q from '../staff/queries.js';
import { requestAccessIn } from '../team/access.js';
import { markReactivated } from './account-queries.js';

/**
 * Deactivating and reactivating a staff account. Both run under the grants
 * lock (staff/queries.ts lockGrants), which approvals and the start of a
 * rotation also hold: every change of who is active and who holds a team
 * key happens one at a time, so
 * - the last-administrator rule is checked on what is true at commit (two
 *   administrators deactivating each other at once leave one of them);
 * - a rotation sealing the new key to "everyone with access" cannot seal it
 *   to someone deactivated meanwhile;
 * - any number of parallel deactivate and reactivate requests leave the
 *   account in one state, with one audit entry per change that happened.
 */

export type Deactivation = { result: 'deactivated'; heldKey: boolean } | { result: 'already' } | { result: 'last_admin' } | { result: 'not_allowed' };

/**
 * The actor and the target, locked in id order (the order every locker of
 * people uses), and whether the actor is still an active administrator now:
 * the session check ran before this request waited for the lock, and an
 * administrator deactivated meanwhile must not act through requests already
 * in flight (racing their own deactivation with a reactivation, say).
 */
async function lockActorAndTarget(trx: Db, actorId: string, targetId: string) {
  await q.lockGrants(trx);
  const people = await q.lockPeople(trx, [...new Set([actorId, targetId])]);
  const actor = people.find((p) => p.id === actorId);
  const target = people.find((p) => p.id === targetId);
  if (!target) throw notFound();
  const actorAllowed = actor !== undefined && actor.status === 'active' && actor.roles.includes('admin');
  return { target, actorAllowed };
}

/** Locks the account out at once: sessions ended, team-key copies deleted, invitations it sent revoked. */
export async function deactivateAccount(db: Db, actorId: string, targetId: string): Promise<Deactivation> {
  return db.transaction().execute(async (trx): Promise<Deactivation> => {
    const { target, actorAllowed } = await lockActorAndTarget(trx, actorId, targetId);
    if (!actorAllowed) return { result: 'not_allowed' };
    if (target.status === 'deactivated') return { result: 'already' };
    if (target.roles.includes('admin') && (await q.countActiveAdmins(trx)) <= 1) return { result: 'last_admin' };
    // Whether they held a team key: if so, they may have kept a copy, and the page suggests a rotation.
    const heldKey = (await q.grantedKeyIds(trx, targetId)).length > 0;
    await q.markDeactivated(trx, targetId);
    await q.deleteUserSessions(trx, targetId);
    await q.deleteUserGrants(trx, targetId);
    // An access request still waiting is moot: nobody may approve a deactivated account.
    await q.clearAccessRequest(trx, targetId);
    // Links they sent stop working too: an account should not appear later on the word of someone removed.
    for (const invitation of await q.revokeOpenInvitations(trx, { invitedBy: targetId })) {
      await audit(trx, { action: 'staff.invitation_revoked', actorId, details: { invitation, reason: 'inviter_deactivated' } });
    }
    await audit(trx, { action: 'staff.deactivated', actorId, subjectUserId: targetId });
    return { result: 'deactivated', heldKey };
  });
}

export type Reactivation = { result: 'reactivated'; requested: boolean } | { result: 'already' } | { result: 'not_allowed' };

/**
 * Makes a deactivated account active again: its owner signs in as before
 * (password and second factor unchanged). Nothing it held comes back: no
 * team-key copy (deleted at deactivation, and deleted again here should one
 * remain), no session, no earlier access request. A caseworker's access is
 * requested again, by the administrator who reactivates, through the usual
 * approval: a caseworker who holds the team key must confirm it.
 */
export async function reactivateAccount(db: Db, actorId: string, targetId: string): Promise<Reactivation> {
  // Nobody reactivates themselves: a deactivated account has no session, and one in flight must not undo its own removal.
  if (actorId === targetId) return { result: 'not_allowed' };
  return db.transaction().execute(async (trx): Promise<Reactivation> => {
    const { target, actorAllowed } = await lockActorAndTarget(trx, actorId, targetId);
    if (!actorAllowed) return { result: 'not_allowed' };
    if (target.status === 'active' || !(await markReactivated(trx, targetId))) return { result: 'already' };
    await q.deleteUserGrants(trx, targetId);
    await q.deleteUserSessions(trx, targetId);
    await q.clearAccessRequest(trx, targetId);
    await audit(trx, { action: 'staff.reactivated', actorId, subjectUserId: targetId });
    // The actor is an active administrator other than the target (checked above, under the lock).
    const requested = target.roles.includes('caseworker') && (await requestAccessIn(trx, actorId, targetId)) === 'requested';
    return { result: 'reactivated', requested };
  });
}
