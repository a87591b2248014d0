import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import { loadSettings } from '../settings/settings.js';
import { allowedAlertKinds } from './enqueue.js';
import { claimDigestDay, insertDigestAlerts, insertOverdueAlerts } from './queries.js';

/**
 * The alerts nobody's action writes: the daily digest and overdue cases.
 * Every instance runs these (from its worker), at once if it happens; an
 * INSERT that only one instance can win decides which one writes the rows,
 * so each digest and each overdue alert is written once.
 *
 * `at` replaces the database clock in tests only (a day and an hour to
 * stand in); in the app it is always null: now().
 */

/**
 * The daily digest: once the UK hour has reached ALERT_DIGEST_HOUR, the
 * instance that claims today's date writes one digest row per recipient who
 * takes the others in the digest, on a day with reports or without, so that
 * its arrival says nothing. Returns the rows written, or null when this
 * instance did not claim the day (too early, or already done).
 */
export async function scheduleDigest(db: Db, config: Config, at: Date | null = null): Promise<number | null> {
  if (!config.mail) return null;
  const hour = config.mail.digestHour;
  return db.transaction().execute(async (trx) => {
    if (!(await claimDigestDay(trx, hour, at))) return null;
    // The day is claimed even when the digest is not allowed: allowing it again sends the next day's, not today's.
    if (!(await allowedAlertKinds(trx)).has('digest')) return 0;
    return insertDigestAlerts(trx);
  });
}

/**
 * Overdue cases (the queue's rule, with the administrator's targets): once
 * per wait, to the assignee, or to every recipient when the case is
 * unassigned, with each person's timing for the others.
 */
export async function scheduleOverdue(db: Db, config: Config, at: Date | null = null): Promise<{ cases: number; rows: number }> {
  if (!config.mail) return { cases: 0, rows: 0 };
  const [{ targets }, allowed] = await Promise.all([loadSettings(db, config), allowedAlertKinds(db)]);
  return db.transaction().execute((trx) => insertOverdueAlerts(trx, targets, allowed.has('case_overdue'), at));
}
