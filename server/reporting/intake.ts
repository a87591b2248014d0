import { alertReportFiled } from '../alerts/enqueue.js';
import type { Config } from '../config.js';
import type { SessionToken } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import type { Logger } from '../logger.js';
import type { Installation } from '../setup/service.js';
import { sealReceiptForForm, type FormKey } from './form-claims.js';
import { completeFormClaim, forgetClaimReceipt, releaseFormClaim } from './queries.js';
import { discardPendingReport, issueReceipt, markSubmitted, openWithReceipt, reportUrgency, type OpenReport } from './service.js';
import {
  confirmReporterSession,
  insertReporterSession,
  pendingPayload,
  type PendingPayload,
  type PendingSession,
  type SignedInSession,
} from './session.js';

/**
 * Filing a report, after report-page.ts has streamed it in as 'pending':
 * the one transaction that files it, the clean-up of what did not end in a
 * receipt, a repeat of a form already filed, and the receipt typed back.
 */

/**
 * The receipt, the report's 'submitted' state, the reporter's session, the
 * form's "sent" mark and the staff alerts in one transaction: a report is never stored without a
 * session that opens it, nor a session for a report that is not there.
 */
export async function fileReport(
  db: Db,
  config: Config,
  inst: Installation,
  report: OpenReport,
  formKey: FormKey | null,
  urgent: boolean,
): Promise<SessionToken> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const issued = await issueReceipt(inst, report);
    const session = await db.transaction().execute(async (trx) => {
      if (!(await markSubmitted(trx, report, issued))) return null;
      const token = await insertReporterSession(trx, pendingPayload(report, issued.receipt, urgent));
      if (formKey) await completeFormClaim(trx, formKey.idHash, report.reportId, sealReceiptForForm(formKey, issued.receipt));
      // Staff alerts (issue 11): written with the report, sent later by the worker; the reporter never waits for mail.
      await alertReportFiled(trx, config, urgent);
      return token;
    });
    if (session) return session;
  }
  throw new Error('could not issue a unique receipt');
}

/** Removes a pending report (its evidence cascades) and gives the form back; logs, never throws. */
export async function discardUnfiled(db: Db, logger: Logger, open: OpenReport | null, formKey: FormKey | null, claimed: boolean): Promise<void> {
  try {
    if (open) await discardPendingReport(db, open.reportId);
    if (claimed && formKey) await releaseFormClaim(db, formKey.idHash);
  } catch (err) {
    logger.warn({ err }, 'could not discard an unfinished report; housekeeping will');
  }
}

/**
 * A repeat of a form filed but whose receipt was not yet typed back: a new
 * pending session for the same report, from the form's copy of the receipt;
 * null once the report is gone (withdrawn since).
 */
export async function reopenFiled(db: Db, inst: Installation, receipt: string): Promise<PendingPayload | null> {
  const opened = await openWithReceipt(db, inst, receipt);
  if (!opened) return null;
  const urgent = (await reportUrgency(db, opened.reportId)) ?? false;
  return pendingPayload(opened, receipt, urgent);
}

/** The receipt was typed back: the session is signed in, and a repeat of the form now only says "already sent". */
export async function receiptTypedBack(db: Db, session: PendingSession): Promise<SignedInSession> {
  const signedIn = await confirmReporterSession(db, session);
  await forgetClaimReceipt(db, session.payload.reportId);
  return signedIn;
}
