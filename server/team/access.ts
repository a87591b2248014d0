import { audit } from '../audit/log.js';
import { constantTimeEqual, publicKeyOf, sealTo, type KeyPair } from '../crypto/index.js';
import { assertTransaction, type Db } from '../db/index.js';
import * as q from '../staff/queries.js';

/**
 * Case access (P3 without giving up P6). Access to every case is the team
 * private key sealed to a caseworker's own public key. It is granted only
 * here, by an explicit, confirmed action of a signed-in caseworker who holds
 * every active team key, for someone else, who is an active caseworker —
 * never as a side effect of a page view, never to oneself. An administrator
 * who is not a caseworker holds no team key: they can only *request* access,
 * which a key holder then sees (with who invited the person, and who asked)
 * and confirms or not.
 */

export type AccessRefusal = 'self' | 'no_keys' | 'not_found' | 'not_eligible' | 'not_confirmed';

export class AccessRefused extends Error {
  constructor(readonly reason: AccessRefusal) {
    super(reason);
  }
}

export type Approver = { id: string; teamKeys: Map<number, KeyPair> };

/** Refusals worth a line in the audit log: someone tried what the rules forbid (a missing tick or a stale id is not that). */
const AUDITED: ReadonlySet<AccessRefusal> = new Set(['self', 'no_keys', 'not_eligible']);

async function auditingRefusals<T>(db: Db, actorId: string, subjectId: string, step: 'approve' | 'request', run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    // Written after the rollback, outside the refused transaction.
    if (err instanceof AccessRefused && AUDITED.has(err.reason)) {
      await audit(db, { action: 'staff.access_refused', actorId, subjectUserId: subjectId, details: { reason: err.reason, step } });
    }
    throw err;
  }
}

/** True if these key pairs open every active team key: held, and the private half matches the public key on record. */
export function holdsEveryKey(active: { id: number; public_key: Uint8Array }[], teamKeys: Map<number, KeyPair>): boolean {
  return (
    active.length > 0 &&
    active.every((k) => {
      const held = teamKeys.get(k.id);
      return held !== undefined && constantTimeEqual(publicKeyOf(held.privateKey), k.public_key);
    })
  );
}

/** Whether this caseworker can approve anyone at all (for the page; the approval checks again under its lock). */
export async function canApprove(db: Db, teamKeys: Map<number, KeyPair>): Promise<boolean> {
  return holdsEveryKey(await q.activeTeamKeys(db), teamKeys);
}

async function missingKeys(trx: Db, userId: string) {
  const held = new Set(await q.grantedKeyIds(trx, userId));
  const active = await q.activeTeamKeys(trx);
  return { active, missing: active.filter((k) => !held.has(k.id)) };
}

/**
 * Seals every active team key the person lacks, in one transaction under the
 * grants lock, so parallel approvals seal each key once and a rotation
 * starting meanwhile cannot leave them without its new key. Returns how many
 * keys were sealed: 0 if they already had access (a double click).
 */
export async function approveAccess(db: Db, approver: Approver, targetId: string, confirmed: boolean): Promise<{ sealed: number }> {
  return auditingRefusals(db, approver.id, targetId, 'approve', async () => {
    if (approver.id === targetId) throw new AccessRefused('self');
    return db.transaction().execute(async (trx) => {
      await q.lockGrants(trx);
      const people = new Map((await q.lockPeople(trx, [approver.id, targetId])).map((p) => [p.id, p]));
      const me = people.get(approver.id);
      const { active, missing } = await missingKeys(trx, targetId);
      if (!me || me.status !== 'active' || !me.roles.includes('caseworker') || !holdsEveryKey(active, approver.teamKeys)) {
        throw new AccessRefused('no_keys');
      }
      const target = people.get(targetId);
      if (!target) throw new AccessRefused('not_found');
      if (target.status !== 'active' || !target.roles.includes('caseworker')) throw new AccessRefused('not_eligible');
      if (missing.length === 0) return { sealed: 0 };
      if (!confirmed) throw new AccessRefused('not_confirmed');
      const request = await q.accessRequestOf(trx, targetId);
      let sealed = 0;
      for (const k of missing) {
        const team = approver.teamKeys.get(k.id)!;
        const grant = { user_id: targetId, team_key_id: k.id, sealed_secret: sealTo(team.privateKey, target.public_key), approved_by: approver.id };
        if (await q.insertGrant(trx, grant)) sealed++;
      }
      await q.clearAccessRequest(trx, targetId);
      await audit(trx, {
        action: 'staff.access_approved',
        actorId: approver.id,
        subjectUserId: targetId,
        details: { teamKeys: sealed, requestedBy: request?.access_requested_by ?? null },
      });
      return { sealed };
    });
  });
}

/**
 * An administrator asks for someone's access to be approved. Nothing is
 * sealed; the request is recorded (who, when) for the approving caseworker
 * to see. The first request stands.
 */
export async function requestAccess(db: Db, requesterId: string, targetId: string): Promise<AccessRequestOutcome> {
  return auditingRefusals(db, requesterId, targetId, 'request', async () => {
    if (requesterId === targetId) throw new AccessRefused('self');
    return db.transaction().execute((trx) => requestAccessIn(trx, requesterId, targetId));
  });
}

export type AccessRequestOutcome = 'requested' | 'already_requested' | 'has_access';

/**
 * The request itself, in the caller's transaction: requestAccess, and a
 * reactivation, which asks again for the access the account lost (it is
 * never restored as it was: a key holder confirms it, as for anyone new).
 */
export async function requestAccessIn(trx: Db, requesterId: string, targetId: string): Promise<AccessRequestOutcome> {
  assertTransaction(trx);
  if (requesterId === targetId) throw new AccessRefused('self');
  const [target] = await q.lockPeople(trx, [targetId]);
  if (!target) throw new AccessRefused('not_found');
  if (target.status !== 'active' || !target.roles.includes('caseworker')) throw new AccessRefused('not_eligible');
  if ((await missingKeys(trx, targetId)).missing.length === 0) return 'has_access';
  if (!(await q.recordAccessRequest(trx, targetId, requesterId))) return 'already_requested';
  await audit(trx, { action: 'staff.access_requested', actorId: requesterId, subjectUserId: targetId });
  return 'requested';
}
