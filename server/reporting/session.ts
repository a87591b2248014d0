import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import { fromBase64, toBase64, type SessionToken } from '../crypto/index.js';
import { HttpError } from '../errors.js';
import type { AppContext } from '../web/context.js';
import type { OpenReport } from './service.js';
import { createSession, deleteSessionOf, endSession, insertSession, loadSession, saveSessionPayload, type Session } from '../web/session-store.js';

/**
 * Reporter sessions: the report's data key, unlocked by the receipt, kept
 * encrypted under the cookie's secret (P9). Idle timeout from config,
 * absolute lifetime two hours.
 *
 * Stages, as the staff session has its own: 'receipt_pending' from filing
 * until the reporter types the receipt back (the session holds the receipt,
 * to show it again), then 'signed_in'. A sign-in with the receipt starts at
 * 'signed_in'. Only 'signed_in' opens the status pages.
 */
export type ReporterStage = 'receipt_pending' | 'signed_in';

type Keys = {
  reportId: string;
  dataKey: string; // base64 of the report's data key
};
export type PendingPayload = Keys & { stage: 'receipt_pending'; receipt: string; urgent: boolean };
export type SignedInPayload = Keys & { stage: 'signed_in' };
export type ReporterPayload = PendingPayload | SignedInPayload;

export type ReporterSession = Session<ReporterPayload>;
export type PendingSession = Session<PendingPayload>;
export type SignedInSession = Session<SignedInPayload>;
type SessionAt = { receipt_pending: PendingSession; signed_in: SignedInSession };

/**
 * A payload as stored. Sessions written before the stage existed have none:
 * a receipt in it meant "not yet typed back". They live at most two hours
 * after the change, and read as their stage until then.
 */
type StoredPayload = Keys & { stage?: string; receipt?: string; urgent?: boolean };

const ABSOLUTE_MS = 2 * 60 * 60 * 1000;

function readPayload(p: StoredPayload): ReporterPayload | null {
  const stage = p.stage ?? (p.receipt ? 'receipt_pending' : 'signed_in');
  if (stage === 'signed_in') return { stage, reportId: p.reportId, dataKey: p.dataKey };
  if (stage === 'receipt_pending' && typeof p.receipt === 'string' && p.receipt) {
    return { stage, reportId: p.reportId, dataKey: p.dataKey, receipt: p.receipt, urgent: Boolean(p.urgent) };
  }
  return null; // an unknown stage opens nothing
}

/** A session for a report just opened (filed, or a receipt typed in). */
export function pendingPayload(report: OpenReport, receipt: string, urgent: boolean): PendingPayload {
  return { stage: 'receipt_pending', reportId: report.reportId, dataKey: toBase64(report.dataKey), receipt, urgent };
}
export function signedInPayload(report: OpenReport): SignedInPayload {
  return { stage: 'signed_in', reportId: report.reportId, dataKey: toBase64(report.dataKey) };
}

/** The report a session opens. */
export function openReportOf(session: ReporterSession): OpenReport {
  return { reportId: session.payload.reportId, dataKey: fromBase64(session.payload.dataKey) };
}

export async function createReporterSession(db: Db, config: Config, res: Response, payload: ReporterPayload): Promise<void> {
  await createSession(db, config, res, { kind: 'reporter', payload, lifetimeMs: ABSOLUTE_MS, reportId: payload.reportId });
}

/** The session row alone, inside the caller's transaction; the caller sets the cookie after it commits. */
export function insertReporterSession(db: Db, payload: ReporterPayload): Promise<SessionToken> {
  return insertSession(db, { kind: 'reporter', payload, lifetimeMs: ABSOLUTE_MS, reportId: payload.reportId });
}

export async function loadReporterSession(db: Db, config: Config, req: Request): Promise<ReporterSession | null> {
  const stored = await loadSession<StoredPayload>(db, config, req, 'reporter', config.reporterSessionMinutes);
  const payload = stored && readPayload(stored.payload);
  return payload && { ...stored, payload };
}

/** The receipt was typed back: the same session, now signed in (the receipt is no longer kept in it). */
export function confirmReporterSession(db: Db, session: PendingSession): Promise<SignedInSession> {
  const signedIn: SignedInSession = {
    ...session,
    payload: { stage: 'signed_in', reportId: session.payload.reportId, dataKey: session.payload.dataKey },
  };
  return saveSessionPayload(db, signedIn).then(() => signedIn);
}

/** The report this session opened is gone (withdrawn, or deleted by retention): the session goes too. */
export function dropReporterSession(db: Db, session: ReporterSession): Promise<void> {
  return deleteSessionOf(db, session);
}

export function endReporterSession(db: Db, config: Config, req: Request, res: Response): Promise<void> {
  return endSession(db, config, req, res, 'reporter');
}

const LOCAL = 'reporterSession';

/** How a route without the stage it needs is refused: the same answers the handlers gave before the guard. */
function refuse(stage: ReporterStage, res: Response, next: NextFunction): void {
  // Just filed and no receipt to show (never filed, expired, already typed back): the sign-in page.
  if (stage === 'receipt_pending') return res.redirect(303, `/${res.locals['lang']}/status`);
  next(new HttpError(401, 'session_expired'));
}

/**
 * The route guard for reporter pages, on the route line:
 * `requireReporter('signed_in')` for /status/*, `requireReporter('receipt_pending')`
 * for the receipt page. Loads the session, refuses a missing, expired or
 * wrong-stage one before any body is read, and leaves it for reporterOf.
 */
export function reporterGuard(ctx: AppContext) {
  return function guardFor(stage: ReporterStage) {
    async function requireReporter(req: Request, res: Response, next: NextFunction): Promise<void> {
      const session = await loadReporterSession(ctx.db, ctx.config, req);
      if (!session || session.payload.stage !== stage) return refuse(stage, res, next);
      res.locals[LOCAL] = session;
      next();
    }
    // For a walk of the router: which stage this line asks for.
    return Object.assign(requireReporter, { stage });
  };
}

/** The session requireReporter(stage) loaded for this request; a route without that guard is a programming error. */
export function reporterOf<S extends ReporterStage = 'signed_in'>(res: Response, stage: S = 'signed_in' as S): SessionAt[S] {
  const session = res.locals[LOCAL] as ReporterSession | undefined;
  if (!session || session.payload.stage !== stage) throw new Error(`reporter route without requireReporter('${stage}')`);
  return session as SessionAt[S];
}
