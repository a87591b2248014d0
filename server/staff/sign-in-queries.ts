import { sql } from 'kysely';
import type { Db } from '../db/index.js';

/**
 * A completed sign-in (password and second factor), on the database's
 * clock: the alert worker reads users.last_signed_in_at to stop mailing
 * someone who has not signed in since their last alert of a kind.
 */
export async function markSignedIn(db: Db, userId: string): Promise<void> {
  await db
    .updateTable('users')
    .set({ last_signed_in_at: sql<Date>`now()` })
    .where('id', '=', userId)
    .execute();
}
