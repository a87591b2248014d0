import { randomUUID } from 'node:crypto';
import { audit } from '../audit/log.js';
import { newKeyPair, sealTo, unsealWith, type KeyPair } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import type { Logger } from '../logger.js';
import { getInstallation } from '../setup/service.js';
import { staffTranslator } from '../i18n/index.js';
import * as q from '../staff/queries.js';
import * as tq from './queries.js';

/**
 * Team-key rotation (P4). A signed-in caseworker starts it: a new team key
 * pair is made and sealed to the recovery key and to every caseworker who
 * currently has access; new reports are sealed to it at once (it is the
 * newest key). A background job then re-seals every report's data key from
 * the old team keys to the new one, in batches, and finally retires the old
 * keys and deletes every grant of them. A caseworker removed before the
 * rotation — even one who kept a copy of the old team private key — opens
 * nothing submitted or re-sealed afterwards.
 *
 * The job needs the old private keys, which exist only in a caseworker's
 * session; it holds them in memory while it runs. If the process stops, the
 * job's lease (updated_at) goes stale and any caseworker can resume it.
 */
const BATCH = 500;
const LEASE_MS = 2 * 60 * 1000;

export type RotationJob = { id: string; promise: Promise<void> };

export class RotationError extends Error {}

export const runningRotation = tq.runningRotation;

/** Starts a rotation with the caller's team keys; returns the job and its completion promise. */
export async function startRotation(db: Db, logger: Logger, actor: { id: string; teamKeys: Map<number, KeyPair> }): Promise<RotationJob> {
  const inst = await getInstallation(db);
  if (!inst) throw new RotationError(staffTranslator()('keys.errors.not_set_up'));
  const next = newKeyPair();
  const jobId = randomUUID();
  let newKeyId = 0;
  await db.transaction().execute(async (trx) => {
    // Checked under the grants lock: an approval running meanwhile either
    // finished (its person is a holder below) or waits and then seals the new
    // key too; of two parallel starts, the second sees the first's job.
    await q.lockGrants(trx);
    const active = await q.activeTeamKeys(trx);
    if (active.some((k) => !actor.teamKeys.has(k.id))) throw new RotationError(staffTranslator()('keys.errors.not_holding_all'));
    if (await runningRotation(trx)) throw new RotationError(staffTranslator()('keys.errors.already_running'));
    newKeyId = await tq.insertTeamKey(trx, {
      public_key: next.publicKey,
      secret_sealed_to_recovery: sealTo(next.privateKey, inst.recoveryPublicKey),
    });
    // Everyone who holds a current key gets the new one, keeping who approved
    // them and when. Only sealed grants exist: an access request that nobody
    // has confirmed gets nothing from a rotation.
    const holders = await tq.keyHolders(
      trx,
      active.map((k) => k.id),
    );
    for (const h of holders) {
      await q.insertGrant(trx, {
        user_id: h.id,
        team_key_id: newKeyId,
        sealed_secret: sealTo(next.privateKey, h.public_key),
        approved_by: h.approved_by,
        approved_at: h.approved_at,
      });
    }
    await tq.insertRotationJob(trx, { id: jobId, startedBy: actor.id, newKeyId });
    await audit(trx, { action: 'keys.rotation_started', actorId: actor.id, details: { newKeyId } });
  });
  const keys = new Map(actor.teamKeys);
  keys.set(newKeyId, next);
  return { id: jobId, promise: runRotation(db, logger, jobId, newKeyId, keys, actor.id) };
}

/** Resumes a rotation whose lease went stale (its process stopped). */
export async function resumeRotation(db: Db, logger: Logger, actor: { id: string; teamKeys: Map<number, KeyPair> }): Promise<RotationJob | null> {
  const job = await runningRotation(db);
  if (!job) return null;
  // The lease is judged by the database's clock, which wrote it: an instance
  // whose clock runs ahead must not take over a rotation still running elsewhere.
  if (await tq.leaseIsLive(db, job.id, LEASE_MS)) throw new RotationError(staffTranslator()('keys.errors.still_running'));
  const newKeyId = Number((job.progress as { newKeyId?: number }).newKeyId);
  if (!actor.teamKeys.has(newKeyId)) throw new RotationError(staffTranslator()('keys.errors.not_holding_new'));
  await tq.touchJob(db, job.id);
  return { id: job.id, promise: runRotation(db, logger, job.id, newKeyId, actor.teamKeys, actor.id) };
}

async function runRotation(db: Db, logger: Logger, jobId: string, newKeyId: number, keys: Map<number, KeyPair>, actorId: string): Promise<void> {
  const target = keys.get(newKeyId)!;
  let resealed = 0;
  try {
    for (;;) {
      const rows = await tq.reportsToReseal(db, newKeyId, BATCH);
      if (rows.length === 0) break;
      await db.transaction().execute(async (trx) => {
        for (const r of rows) {
          const old = keys.get(r.team_key_id);
          if (!old) throw new RotationError(`no key for team key ${r.team_key_id}`);
          const dataKey = unsealWith(r.data_key_sealed, old, 'report data key');
          await tq.resealReport(trx, { id: r.id, fromKeyId: r.team_key_id, toKeyId: newKeyId, sealed: sealTo(dataKey, target.publicKey) });
        }
        resealed += rows.length;
        await tq.touchJob(trx, jobId, { progress: { newKeyId, resealed } });
      });
    }
    await db.transaction().execute(async (trx) => {
      // An approval sealing the old keys right now finishes first, so its grants are deleted with the rest.
      await q.lockGrants(trx);
      await tq.retireOtherKeys(trx, newKeyId);
      await tq.touchJob(trx, jobId, { state: 'done' });
      await audit(trx, { action: 'keys.rotation_finished', actorId, details: { newKeyId, resealed } });
    });
  } catch (err) {
    logger.error({ err }, 'team-key rotation failed');
    await tq.touchJob(db, jobId, { state: 'failed' });
    throw err;
  }
}
