import type { Db } from '../db/index.js';

/** What the settings page says about delivery: rows waiting, the last one sent, the last failure. */
export async function selectDeliveryStatus(db: Db) {
  const [waiting, sent, failure] = await Promise.all([
    db
      .selectFrom('mail_outbox')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('state', 'in', ['pending', 'sending'])
      .executeTakeFirstOrThrow(),
    db.selectFrom('mail_outbox').select('sent_at').where('state', '=', 'sent').orderBy('sent_at', 'desc').limit(1).executeTakeFirst(),
    // The latest attempt that failed, whether the row is waiting for its retry or has been given up.
    db
      .selectFrom('mail_outbox')
      .select(['last_error', 'due_at', 'state', 'attempts'])
      .where('last_error', 'is not', null)
      .where('state', 'in', ['pending', 'failed'])
      .orderBy('due_at', 'desc')
      .limit(1)
      .executeTakeFirst(),
  ]);
  return { waiting: Number(waiting.n), lastSentAt: sent?.sent_at ?? null, failure: failure ?? null };
}
