import type { Db } from '../db/index.js';

/** What the settings page says about delivery: rows waiting, the last one sent, the last failure. */
export async function selectDeliveryStatus(db: Db) {
  const [waiting, sent] = await Promise.all([
    db
      .selectFrom('mail_outbox')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('state', 'in', ['pending', 'sending'])
      .executeTakeFirstOrThrow(),
    db.selectFrom('mail_outbox').select('sent_at').where('state', '=', 'sent').orderBy('sent_at', 'desc').limit(1).executeTakeFirst(),
  ]);
  const lastSentAt = sent?.sent_at ?? null;
  // The latest attempt that failed: a row waiting for its retry, or one given up since the last alert that went.
  // (A row's due_at is set when its attempt fails: the failure's time plus the backoff.)
  let failures = db
    .selectFrom('mail_outbox')
    .select(['last_error', 'due_at', 'state', 'attempts'])
    .where('last_error', 'is not', null)
    .where('state', 'in', ['pending', 'failed']);
  if (lastSentAt) failures = failures.where((eb) => eb.or([eb('state', '=', 'pending'), eb('due_at', '>', lastSentAt)]));
  const failure = await failures.orderBy('due_at', 'desc').limit(1).executeTakeFirst();
  return { waiting: Number(waiting.n), lastSentAt, failure: failure ?? null };
}
