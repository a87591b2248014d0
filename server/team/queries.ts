import { sql } from 'kysely';
import { assertTransaction, type Db } from '../db/index.js';

/**
 * The SQL of team keys and their rotation (P4): the jobs row that tracks a
 * rotation, the team_keys rows, and the re-sealing of report data keys.
 * Grants and people are in staff/queries.ts.
 */

/** The newest team keys, for the keys page. */
export function recentTeamKeys(db: Db, limit = 10) {
  return db.selectFrom('team_keys').select(['id', 'created_at', 'retired_at']).orderBy('id', 'desc').limit(limit).execute();
}

export function runningRotation(db: Db) {
  return db.selectFrom('jobs').selectAll().where('kind', '=', 'team_key_rotation').where('state', '=', 'running').executeTakeFirst();
}

/** A new team key, sealed to the recovery key; its id. */
export async function insertTeamKey(trx: Db, row: { public_key: Uint8Array; secret_sealed_to_recovery: Uint8Array }): Promise<number> {
  assertTransaction(trx);
  const inserted = await trx
    .insertInto('team_keys')
    .values({ ...row, retired_at: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return inserted.id;
}

/**
 * Active caseworkers who hold one of the given team keys, once each, with
 * who approved them and when (a rotation keeps both on the new grant).
 */
export function keyHolders(db: Db, teamKeyIds: number[]) {
  return db
    .selectFrom('key_grants')
    .innerJoin('users', 'users.id', 'key_grants.user_id')
    .select(['users.id', 'users.public_key', 'key_grants.approved_by', 'key_grants.approved_at'])
    .distinctOn('users.id')
    .where('users.status', '=', 'active')
    .where(sql<boolean>`users.roles @> array['caseworker']::text[]`)
    .where('key_grants.team_key_id', 'in', teamKeyIds)
    .orderBy('users.id')
    .execute();
}

export async function insertRotationJob(trx: Db, job: { id: string; startedBy: string; newKeyId: number }): Promise<void> {
  assertTransaction(trx);
  await trx
    .insertInto('jobs')
    .values({
      id: job.id,
      kind: 'team_key_rotation',
      state: 'running',
      started_by: job.startedBy,
      progress: JSON.stringify({ newKeyId: job.newKeyId, resealed: 0 }),
      updated_at: sql<Date>`now()`,
    })
    .execute();
}

/** Whether the job's lease is live, judged by the database's clock, which wrote it. */
export async function leaseIsLive(db: Db, jobId: string, leaseMs: number): Promise<boolean> {
  const lease = await db
    .selectFrom('jobs')
    .select(sql<boolean>`updated_at > now() - make_interval(secs => ${leaseMs / 1000})`.as('live'))
    .where('id', '=', jobId)
    .executeTakeFirst();
  return Boolean(lease?.live);
}

/** Renews the lease; with a progress or a final state when there is one. */
export async function touchJob(db: Db, jobId: string, set: { progress?: unknown; state?: 'done' | 'failed' } = {}): Promise<void> {
  await db
    .updateTable('jobs')
    .set({
      ...(set.progress !== undefined ? { progress: JSON.stringify(set.progress) } : {}),
      ...(set.state ? { state: set.state } : {}),
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', jobId)
    .execute();
}

/** The next reports still sealed to another team key than `newKeyId`. */
export function reportsToReseal(db: Db, newKeyId: number, limit: number) {
  return db
    .selectFrom('reports')
    .select(['id', 'team_key_id', 'data_key_sealed'])
    .where('team_key_id', '!=', newKeyId)
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** Re-seals one report's data key, unless it moved to another key meanwhile. */
export async function resealReport(trx: Db, r: { id: string; fromKeyId: number; toKeyId: number; sealed: Uint8Array }): Promise<void> {
  assertTransaction(trx);
  await trx
    .updateTable('reports')
    .set({ data_key_sealed: r.sealed, team_key_id: r.toKeyId })
    .where('id', '=', r.id)
    .where('team_key_id', '=', r.fromKeyId)
    .execute();
}

/** Retires every active team key but `keepId` and deletes their grants; the retired ids. */
export async function retireOtherKeys(trx: Db, keepId: number): Promise<number[]> {
  assertTransaction(trx);
  const old = await trx.selectFrom('team_keys').select('id').where('id', '!=', keepId).where('retired_at', 'is', null).execute();
  const oldIds = old.map((k) => k.id);
  if (oldIds.length) {
    await trx.updateTable('team_keys').set({ retired_at: new Date() }).where('id', 'in', oldIds).execute();
    await trx.deleteFrom('key_grants').where('team_key_id', 'in', oldIds).execute();
  }
  return oldIds;
}
