import type { Config } from '../config.js';
import { assertTransaction, type Db } from '../db/index.js';
import { ALERT_KINDS, SETTINGS_SCHEMA, type AllowedAlertKind } from '../settings/settings.js';
import { insertEventAlerts, selectAlertKindsSetting } from './queries.js';

/**
 * Writing alerts, always in the transaction of the event that causes them:
 * a report is never filed without its alerts, nor an alert written for a
 * report that was not filed. Each event costs two statements (the allowed
 * kinds, then one INSERT … SELECT for every recipient at once) and never
 * waits for mail: the worker sends the rows later. Without SMTP_URL nothing
 * is written at all.
 *
 * What the rows hold: a recipient and a kind. Nothing about the report.
 */

/**
 * The kinds an administrator allows (settings `alert_kinds`), read with the
 * settings' own rule: a stored value that no longer validates means the
 * default, every kind.
 */
export async function allowedAlertKinds(db: Db): Promise<ReadonlySet<AllowedAlertKind>> {
  const stored = await selectAlertKindsSetting(db);
  if (stored === undefined) return new Set(ALERT_KINDS);
  const parsed = SETTINGS_SCHEMA.alert_kinds.safeParse(stored);
  return new Set(parsed.success ? parsed.data : ALERT_KINDS);
}

/**
 * A report was filed (reporting/intake.ts, in fileReport's transaction).
 * Urgent: at once to everyone who wants urgent reports at once (if urgent
 * alerts are allowed); everyone else, and every non-urgent report, by each
 * person's choice for the others.
 */
export async function alertReportFiled(trx: Db, config: Config, urgent: boolean): Promise<void> {
  assertTransaction(trx);
  if (!config.mail) return;
  const allowed = await allowedAlertKinds(trx);
  await insertEventAlerts(trx, {
    base: 'new_report',
    urgentNow: urgent && allowed.has('urgent_report'),
    baseAllowed: allowed.has('new_report'),
    assigneeOf: null,
  });
}

/**
 * The reporter wrote a message or sent files on their report: the case's
 * assignee only, by their choice for the others; nobody when the case is
 * unassigned (it is in the queue for everyone).
 */
export async function alertReporterActivity(trx: Db, config: Config, reportId: string): Promise<void> {
  assertTransaction(trx);
  if (!config.mail) return;
  const allowed = await allowedAlertKinds(trx);
  if (!allowed.has('case_activity')) return;
  await insertEventAlerts(trx, { base: 'case_activity', urgentNow: false, baseAllowed: true, assigneeOf: reportId });
}
