import { deleteOldAlerts } from './alerts/queries.js';
import type { Config } from './config.js';
import type { Db } from './db/index.js';
import type { Logger } from './logger.js';
import { deleteAbandonedEvidence, deleteAbandonedReports, deleteOldFormClaims } from './reporting/queries.js';
import { purge } from './retention/purge.js';
import { loadSettings } from './settings/settings.js';
import { deleteExpiredRateLimits } from './web/rate-limit.js';
import { deleteExpiredSessions } from './web/session-store.js';

/** How long sent and given-up alert rows are kept (kind, recipient and times only). */
export const ALERT_HISTORY_DAYS = 30;

/**
 * Periodic clean-up, safe to run in every instance at once: expired
 * sessions, expired rate-limit rows, abandoned uploads, old alert rows (idempotent
 * DELETEs), and retention (serialised by an advisory lock).
 */
export async function runHousekeeping(db: Db, config: Config): Promise<void> {
  await deleteExpiredSessions(db, config);
  await deleteExpiredRateLimits(db);
  // A request that fails deletes what it wrote at once; these sweeps only
  // catch what a crash left, so they wait past the longest a request may run.
  const crashedMinutes = Math.ceil(config.requestTimeoutMs / 60_000) + 5;
  await deleteAbandonedReports(db, Math.max(60, crashedMinutes));
  await deleteAbandonedEvidence(db, crashedMinutes);
  // A form's receipt copy lives as long as a reporter session can (two hours).
  await deleteOldFormClaims(db, Math.max(120, crashedMinutes));
  // Sent and given-up alerts after a month, keeping each person's newest of each kind (the "not since you signed in" rule reads it).
  await deleteOldAlerts(db, ALERT_HISTORY_DAYS);
  const { closedRetentionDays } = await loadSettings(db, config); // the administrator's setting, or CLOSED_RETENTION_DAYS
  await purge(db, { closedRetentionDays }); // one instance at a time (advisory lock)
}

export function startHousekeeping(db: Db, config: Config, logger: Logger, everyMs = 5 * 60 * 1000): () => void {
  const timer = setInterval(() => {
    runHousekeeping(db, config).catch((err) => logger.warn({ err }, 'housekeeping failed'));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
