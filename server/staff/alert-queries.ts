import { sql } from 'kysely';
import { assertTransaction, type Db } from '../db/index.js';
import type { AlertOthers, AlertUrgent } from '../db/schema.js';

/** A staff member's alert choices and the fingerprint of their key (never the key itself: the page does not need it). */
export function selectAlertChoices(db: Db, userId: string) {
  return db
    .selectFrom('users')
    .select(['alert_urgent', 'alert_others', 'alert_batch_minutes', 'alert_pgp_fingerprint'])
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
}

/** The same, locked until the caller's transaction ends, so two saves in a race are audited in the order they were stored. */
export function lockAlertChoices(trx: Db, userId: string) {
  assertTransaction(trx);
  return trx
    .selectFrom('users')
    .select(['alert_urgent', 'alert_others', 'alert_batch_minutes', 'alert_pgp_fingerprint'])
    .where('id', '=', userId)
    .forUpdate()
    .executeTakeFirstOrThrow();
}

export async function updateAlertTiming(
  trx: Db,
  userId: string,
  set: { alert_urgent: AlertUrgent; alert_others: AlertOthers; alert_batch_minutes: number },
): Promise<void> {
  assertTransaction(trx);
  await trx.updateTable('users').set(set).where('id', '=', userId).execute();
}

/** Stores an armoured public key (already checked and re-armoured) with its fingerprint, or clears both. */
export async function updateAlertKey(trx: Db, userId: string, key: { armored: string; fingerprint: string } | null): Promise<void> {
  assertTransaction(trx);
  await trx
    .updateTable('users')
    .set({ alert_pgp_key: key?.armored ?? null, alert_pgp_fingerprint: key?.fingerprint ?? null })
    .where('id', '=', userId)
    .execute();
}

/** The display names of the active administrators: whom to ask when alerts are off. */
export async function activeAdminNames(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('users')
    .select('display_name')
    .where('status', '=', 'active')
    .where(sql<boolean>`roles @> array['admin']::text[]`)
    .orderBy('display_name')
    .execute();
  return rows.map((r) => r.display_name);
}
