import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import type { SessionsTable } from '../db/schema.js';

/** Who a session belongs to: a reporter (by report) or a staff member. */
export type SessionKind = SessionsTable['kind'];

/**
 * The sessions table. Times come from the database's clock, like every
 * check against them: an instance whose clock is off cannot end or stretch
 * a session.
 */

export async function insertSessionRow(
  db: Db,
  row: { idHash: Uint8Array; kind: SessionKind; reportId: string | null; userId: string | null; payload: Uint8Array; lifetimeMs: number },
): Promise<void> {
  await db
    .insertInto('sessions')
    .values({
      id_hash: row.idHash,
      kind: row.kind,
      report_id: row.reportId,
      user_id: row.userId,
      payload: row.payload,
      expires_at: sql<Date>`now() + make_interval(secs => ${row.lifetimeMs / 1000})`,
      last_seen_at: sql<Date>`now()`,
    })
    .execute();
}

/** The row of a live session: unexpired and seen within the idle timeout. */
export function findLiveSession(db: Db, idHash: Uint8Array, kind: SessionKind, idleMinutes: number) {
  return db
    .selectFrom('sessions')
    .select(['payload', 'user_id', 'created_at', sql<boolean>`last_seen_at < now() - interval '1 minute'`.as('seen_a_while_ago')])
    .where('id_hash', '=', idHash)
    .where('kind', '=', kind)
    .where('expires_at', '>', sql<Date>`now()`)
    .where('last_seen_at', '>', sql<Date>`now() - make_interval(mins => ${idleMinutes})`)
    .executeTakeFirst();
}

export async function touchSession(db: Db, idHash: Uint8Array): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ last_seen_at: sql`now()` })
    .where('id_hash', '=', idHash)
    .execute();
}

export async function updateSessionPayload(db: Db, idHash: Uint8Array, payload: Uint8Array): Promise<void> {
  await db.updateTable('sessions').set({ payload }).where('id_hash', '=', idHash).execute();
}

export async function deleteSessionRow(db: Db, idHash: Uint8Array): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
}

/** Sessions past their lifetime, or idle longer than their kind allows. */
export async function deleteExpiredSessionRows(db: Db, idleMinutes: Record<SessionKind, number>): Promise<number> {
  const res = await db
    .deleteFrom('sessions')
    .where((eb) =>
      eb.or([
        eb('expires_at', '<=', sql<Date>`now()`),
        eb.and([eb('kind', '=', 'reporter'), eb('last_seen_at', '<=', sql<Date>`now() - make_interval(mins => ${idleMinutes.reporter})`)]),
        eb.and([eb('kind', '=', 'staff'), eb('last_seen_at', '<=', sql<Date>`now() - make_interval(mins => ${idleMinutes.staff})`)]),
      ]),
    )
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}
