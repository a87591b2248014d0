import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import type { SessionToken } from '../crypto/index.js';
import { createSession, endSession, insertSession, loadSession, saveSessionPayload, type Session } from './session-store.js';

/**
 * Reporter sessions: the report's data key, unlocked by the receipt, kept
 * encrypted under the cookie's secret (P9). Idle timeout from config,
 * absolute lifetime two hours.
 */
export type ReporterPayload = {
  reportId: string;
  dataKey: string; // base64 of the report's data key
  /** Set between submission and the reporter typing the receipt back. */
  receipt?: string;
  urgent?: boolean;
};

export type ReporterSession = Session<ReporterPayload>;

const ABSOLUTE_MS = 2 * 60 * 60 * 1000;

export async function createReporterSession(db: Db, config: Config, res: Response, payload: ReporterPayload): Promise<void> {
  await createSession(db, config, res, { kind: 'reporter', payload, lifetimeMs: ABSOLUTE_MS, reportId: payload.reportId });
}

/** The session row alone, inside the caller's transaction; the caller sets the cookie after it commits. */
export function insertReporterSession(db: Db, payload: ReporterPayload): Promise<SessionToken> {
  return insertSession(db, { kind: 'reporter', payload, lifetimeMs: ABSOLUTE_MS, reportId: payload.reportId });
}

export function loadReporterSession(db: Db, config: Config, req: Request): Promise<ReporterSession | null> {
  return loadSession<ReporterPayload>(db, config, req, 'reporter', config.reporterSessionMinutes);
}

export function updateReporterSession(db: Db, session: ReporterSession): Promise<void> {
  return saveSessionPayload(db, session);
}

export function endReporterSession(db: Db, config: Config, req: Request, res: Response): Promise<void> {
  return endSession(db, config, req, res, 'reporter');
}
