import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import type { Role, UsersTable } from '../db/schema.js';
import type { Insertable } from 'kysely';

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

export function listUsers(db: Db) {
  return db
    .selectFrom('users')
    .leftJoin('key_grants', (j) =>
      j.onRef('key_grants.user_id', '=', 'users.id').on(
        'key_grants.team_key_id',
        '=',
        db.selectFrom('team_keys').select((eb) => eb.fn.max('id').as('id')).where('retired_at', 'is', null),
      ),
    )
    .select([
      'users.id',
      'users.email',
      'users.display_name',
      'users.roles',
      'users.status',
      'users.created_at',
      'users.totp_secret_wrapped',
      'key_grants.approved_at',
      'key_grants.sealed_at',
    ])
    .orderBy('users.display_name')
    .execute();
}

export async function updateUser(db: Db, id: string, set: Partial<Insertable<UsersTable>>): Promise<void> {
  await db.updateTable('users').set(set).where('id', '=', id).execute();
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
  row: { id: string; token_hash: Uint8Array; email: string; roles: Role[]; invited_by: string | null; expires_at: Date },
): Promise<void> {
  await db.insertInto('invitations').values(row).execute();
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
  let q = db.updateTable('invitations').set({ revoked_at: sql`now()` }).where('used_at', 'is', null).where('revoked_at', 'is', null);
  q = 'email' in where ? q.where('email', '=', normaliseEmail(where.email)) : q.where('invited_by', '=', where.invitedBy);
  return (await q.returning('id').execute()).map((r) => r.id);
}

export function grantsFor(db: Db, userId: string) {
  return db
    .selectFrom('key_grants')
    .innerJoin('team_keys', 'team_keys.id', 'key_grants.team_key_id')
    .select(['key_grants.team_key_id', 'key_grants.sealed_secret', 'team_keys.public_key'])
    .where('key_grants.user_id', '=', userId)
    .where('key_grants.sealed_secret', 'is not', null)
    .execute();
}
