import { sql } from 'kysely';
import { assertTransaction, type Db } from '../db/index.js';
import type { Database, Role, UsersTable } from '../db/schema.js';
import type { Insertable, UpdateObject } from 'kysely';

export const normaliseEmail = (email: string) => email.trim().toLowerCase();

export class EmailTakenError extends Error {
  constructor() {
    super('A staff account with that email address already exists.');
  }
}

/** PostgreSQL's unique_violation on the named constraint (PGlite reports the same code). */
export function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: unknown; constraint?: unknown };
  return e.code === '23505' && (e.constraint === undefined || e.constraint === constraint);
}

/**
 * Inserts a user. The email's unique constraint is the last word on "taken":
 * a race with another invitation or `harbour user add` that passed the
 * earlier lookup ends here, as EmailTakenError, never as a raw database error.
 */
export async function insertUser(db: Db, row: Insertable<UsersTable>): Promise<void> {
  try {
    await db.insertInto('users').values(row).execute();
  } catch (err) {
    if (isUniqueViolation(err, 'users_email_key')) throw new EmailTakenError();
    throw err;
  }
}

export function findUserByEmail(db: Db, email: string) {
  return db.selectFrom('users').selectAll().where('email', '=', normaliseEmail(email)).executeTakeFirst();
}

export function findUser(db: Db, id: string) {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Every staff account with where it came from and its case access (the grant of the newest active team key). */
export function listUsers(db: Db) {
  return db
    .selectFrom('users as u')
    .leftJoin('users as inviter', 'inviter.id', 'u.invited_by')
    .leftJoin('users as requester', 'requester.id', 'u.access_requested_by')
    .leftJoin('key_grants as g', (j) =>
      j.onRef('g.user_id', '=', 'u.id').on(
        'g.team_key_id',
        '=',
        db
          .selectFrom('team_keys')
          .select((eb) => eb.fn.max('id').as('id'))
          .where('retired_at', 'is', null),
      ),
    )
    .leftJoin('users as approver', 'approver.id', 'g.approved_by')
    .select([
      'u.id',
      'u.email',
      'u.display_name',
      'u.roles',
      'u.status',
      'u.created_at',
      'u.totp_secret_wrapped',
      'u.created_via',
      'u.invited_by',
      'u.invited_at',
      'u.access_requested_by',
      'u.access_requested_at',
      'inviter.display_name as inviter_name',
      'inviter.status as inviter_status',
      'requester.display_name as requester_name',
      'requester.status as requester_status',
      'g.approved_by',
      'g.approved_at',
      'approver.display_name as approver_name',
      'approver.status as approver_status',
    ])
    .orderBy('u.display_name')
    .execute();
}

export async function updateUser(db: Db, id: string, set: UpdateObject<Database, 'users'>): Promise<void> {
  await db.updateTable('users').set(set).where('id', '=', id).execute();
}

/**
 * New password material (and whatever else changes with it), stamped with
 * the database's clock: sessions.created_at is compared with it, so both
 * come from the same clock.
 */
export async function setPassword(trx: Db, id: string, set: UpdateObject<Database, 'users'>): Promise<void> {
  assertTransaction(trx);
  await trx
    .updateTable('users')
    .set({ ...set, password_changed_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}

export async function markDeactivated(trx: Db, id: string): Promise<void> {
  assertTransaction(trx);
  await trx
    .updateTable('users')
    .set({ status: 'deactivated', deactivated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}

export async function setTotpStep(db: Db, id: string, step: number): Promise<boolean> {
  // Only moves forward: a code replayed in a race is refused by the database too.
  const res = await db
    .updateTable('users')
    .set({ totp_last_step: step })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
    .executeTakeFirst();
  return res.numUpdatedRows === 1n;
}

export async function deleteUserSessions(db: Db, userId: string, exceptIdHash?: Uint8Array): Promise<void> {
  let q = db.deleteFrom('sessions').where('user_id', '=', userId);
  if (exceptIdHash) q = q.where('id_hash', '!=', exceptIdHash);
  await q.execute();
}

export async function countActiveAdmins(db: Db): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('status', '=', 'active')
    .where(sql<boolean>`roles @> array['admin']::text[]`)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertInvitation(
  db: Db,
  row: { id: string; token_hash: Uint8Array; email: string; roles: Role[]; invited_by: string | null; days: number },
): Promise<void> {
  const { days, ...values } = row;
  // Expiry by the database's clock, as every check of it is.
  await db
    .insertInto('invitations')
    .values({ ...values, expires_at: sql<Date>`now() + make_interval(days => ${days})` })
    .execute();
}

/** Unused, unrevoked and unexpired (by the database's clock). */
export function findLiveInvitation(db: Db, tokenHash: Uint8Array) {
  return db
    .selectFrom('invitations')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
}

/**
 * Claims a live invitation: one atomic update, so of any number of parallel
 * accepts exactly one gets the row back. Null if it was used, revoked or
 * expired meanwhile.
 */
export function claimInvitation(db: Db, id: string) {
  return db
    .updateTable('invitations')
    .set({ used_at: sql`now()` })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .returning(['id', 'email', 'roles', 'invited_by', 'created_at'])
    .executeTakeFirst();
}

/** Revokes the open invitations to an address, or sent by someone; returns their ids. */
export async function revokeOpenInvitations(db: Db, where: { email: string } | { invitedBy: string }): Promise<string[]> {
  let q = db
    .updateTable('invitations')
    .set({ revoked_at: sql`now()` })
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null);
  q = 'email' in where ? q.where('email', '=', normaliseEmail(where.email)) : q.where('invited_by', '=', where.invitedBy);
  return (await q.returning('id').execute()).map((r) => r.id);
}

/** Every team-key grant of a user (deactivation, a key reset): the keys sealed to them are gone. */
export async function deleteUserGrants(trx: Db, userId: string): Promise<void> {
  assertTransaction(trx);
  await trx.deleteFrom('key_grants').where('user_id', '=', userId).execute();
}

/** Seals a grant, replacing the one that exists (the recovery key re-grants every active key). */
export async function upsertGrant(
  trx: Db,
  row: { user_id: string; team_key_id: number; sealed_secret: Uint8Array; approved_by: string | null },
): Promise<void> {
  assertTransaction(trx);
  await trx
    .insertInto('key_grants')
    .values({ ...row, sealed_at: new Date() })
    .onConflict((oc) => oc.columns(['user_id', 'team_key_id']).doUpdateSet({ sealed_secret: row.sealed_secret, sealed_at: new Date() }))
    .execute();
}

/** Serialises invitations to one address across instances, for the caller's transaction. */
export async function lockInvitationAddress(trx: Db, email: string): Promise<void> {
  assertTransaction(trx);
  await sql`select pg_advisory_xact_lock(hashtext(${'harbour.invitation.' + normaliseEmail(email)}))`.execute(trx);
}

export function grantsFor(db: Db, userId: string) {
  return db
    .selectFrom('key_grants')
    .innerJoin('team_keys', 'team_keys.id', 'key_grants.team_key_id')
    .select(['key_grants.team_key_id', 'key_grants.sealed_secret', 'team_keys.public_key'])
    .where('key_grants.user_id', '=', userId)
    .execute();
}

// ---------------------------------------------------------------- case access (see team/access.ts)

/**
 * Serialises everything that writes team-key grants (approvals, the start of
 * a rotation) across instances, for the caller's transaction: an approval
 * cannot miss a key a concurrent rotation is adding, and parallel approvals
 * of one person seal each key once.
 */
export async function lockGrants(trx: Db): Promise<void> {
  assertTransaction(trx);
  await sql`select pg_advisory_xact_lock(hashtext('harbour.key_grants'))`.execute(trx);
}

/**
 * The people an approval or a request is about, their rows locked until the
 * transaction ends: a deactivation or a key reset (which update the row)
 * waits for the approval to commit and then deletes its grants, or commits
 * first and the approval sees it. FOR UPDATE rather than FOR SHARE because
 * the caller goes on to update the row (the request fields): two share
 * locks both upgrading would deadlock.
 */
export function lockPeople(trx: Db, ids: string[]) {
  return trx.selectFrom('users').select(['id', 'status', 'roles', 'public_key']).where('id', 'in', ids).orderBy('id').forUpdate().execute();
}

export function activeTeamKeys(db: Db) {
  return db.selectFrom('team_keys').select(['id', 'public_key']).where('retired_at', 'is', null).orderBy('id').execute();
}

export async function grantedKeyIds(db: Db, userId: string): Promise<number[]> {
  return (await db.selectFrom('key_grants').select('team_key_id').where('user_id', '=', userId).execute()).map((g) => g.team_key_id);
}

export function accessRequestOf(db: Db, userId: string) {
  return db
    .selectFrom('users')
    .select(['access_requested_by', 'access_requested_at'])
    .where('id', '=', userId)
    .where('access_requested_at', 'is not', null)
    .executeTakeFirst();
}

/** Seals one grant unless it exists; true if this call wrote it. */
export async function insertGrant(
  trx: Db,
  row: { user_id: string; team_key_id: number; sealed_secret: Uint8Array; approved_by: string | null; approved_at?: Date },
): Promise<boolean> {
  const inserted = await trx
    .insertInto('key_grants')
    .values({ ...row, sealed_at: new Date() })
    .onConflict((oc) => oc.columns(['user_id', 'team_key_id']).doNothing())
    .returning('user_id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Active caseworkers missing a grant of some active team key, with where their account came from. */
export function peopleWithoutAccess(db: Db) {
  return (
    db
      .selectFrom('users as u')
      .leftJoin('users as inviter', 'inviter.id', 'u.invited_by')
      .leftJoin('users as requester', 'requester.id', 'u.access_requested_by')
      .select([
        'u.id',
        'u.email',
        'u.display_name',
        'u.roles',
        'u.created_at',
        'u.created_via',
        'u.invited_at',
        'u.invited_by',
        'u.access_requested_by',
        'u.access_requested_at',
        'u.totp_secret_wrapped',
        'inviter.display_name as inviter_name',
        'inviter.status as inviter_status',
        'requester.display_name as requester_name',
        'requester.status as requester_status',
      ])
      .where('u.status', '=', 'active')
      .where(sql<boolean>`u.roles @> array['caseworker']::text[]`)
      // Demo data's fictional caseworkers can never sign in: nothing to approve.
      .where('u.created_via', '!=', 'seed')
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('team_keys as k')
            .select('k.id')
            .where('k.retired_at', 'is', null)
            .where((eb2) =>
              eb2.not(
                eb2.exists(
                  eb2.selectFrom('key_grants as g').select('g.user_id').whereRef('g.user_id', '=', 'u.id').whereRef('g.team_key_id', '=', 'k.id'),
                ),
              ),
            ),
        ),
      )
      .orderBy('u.access_requested_at', (ob) => ob.desc().nullsLast())
      .orderBy('u.created_at')
      .execute()
  );
}

/** Records an administrator's request; false if one is already recorded (the first stands). */
export async function recordAccessRequest(trx: Db, userId: string, requesterId: string): Promise<boolean> {
  const res = await trx
    .updateTable('users')
    .set({ access_requested_by: requesterId, access_requested_at: sql`now()` })
    .where('id', '=', userId)
    .where('access_requested_at', 'is', null)
    .executeTakeFirst();
  return res.numUpdatedRows === 1n;
}

export async function clearAccessRequest(trx: Db, userId: string): Promise<void> {
  await trx.updateTable('users').set({ access_requested_by: null, access_requested_at: null }).where('id', '=', userId).execute();
}
