import type { Request, Response } from 'express';
import { decryptJson, encryptJson, newSessionToken, parseSessionToken, toHex, type SessionToken } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import type { Config } from '../config.js';
import * as q from './session-queries.js';
import type { SessionKind } from './session-queries.js';

/**
 * Sessions for reporters and staff (P9). The cookie holds a random token;
 * the row holds a hash of it and a payload (the unlocked keys) encrypted
 * under a key derived from it. Nothing in the table opens anything without
 * the cookie.
 */
export type { SessionKind };
export type Session<P> = { token: SessionToken; payload: P; userId: string | null; createdAt: Date };

const COOKIE = { reporter: 'harbour_r', staff: 'harbour_s' } as const;

export function cookieName(config: Config, kind: SessionKind): string {
  return config.secureCookies ? `__Host-${COOKIE[kind]}` : COOKIE[kind];
}

const payloadContext = (token: SessionToken) => ({ table: 'sessions', id: toHex(token.idHash), field: 'payload' });

function cookieOptions(config: Config) {
  return { httpOnly: true, secure: config.secureCookies, sameSite: 'strict' as const, path: '/' };
}

export type NewSession<P> = { kind: SessionKind; payload: P; lifetimeMs: number; reportId?: string | null; userId?: string | null };

/**
 * Inserts a session row (pass a transaction to make it part of a larger
 * change) and returns its token; setSessionCookie then hands it to the
 * browser. Times come from the database's clock (session-queries.ts).
 */
export async function insertSession<P>(db: Db, s: NewSession<P>): Promise<SessionToken> {
  const token = newSessionToken();
  await q.insertSessionRow(db, {
    idHash: token.idHash,
    kind: s.kind,
    reportId: s.reportId ?? null,
    userId: s.userId ?? null,
    payload: encryptJson(token.key, s.payload, payloadContext(token)),
    lifetimeMs: s.lifetimeMs,
  });
  return token;
}

export function setSessionCookie(config: Config, res: Response, kind: SessionKind, token: SessionToken): void {
  res.cookie(cookieName(config, kind), token.cookieValue, cookieOptions(config));
}

export async function createSession<P>(db: Db, config: Config, res: Response, s: NewSession<P>): Promise<Session<P>> {
  const token = await insertSession(db, s);
  setSessionCookie(config, res, s.kind, token);
  return { token, payload: s.payload, userId: s.userId ?? null, createdAt: new Date() };
}

export function tokenFromRequest(config: Config, req: Request, kind: SessionKind): SessionToken | null {
  const raw = req.cookies?.[cookieName(config, kind)];
  return typeof raw === 'string' ? parseSessionToken(raw) : null;
}

/** The live session of this kind for the request's cookie: unexpired, not idle too long, decryptable. */
export async function loadSession<P>(db: Db, config: Config, req: Request, kind: SessionKind, idleMinutes: number): Promise<Session<P> | null> {
  const token = tokenFromRequest(config, req, kind);
  if (!token) return null;
  const row = await q.findLiveSession(db, token.idHash, kind, idleMinutes);
  if (!row) return null;
  let payload: P;
  try {
    payload = decryptJson<P>(token.key, row.payload, payloadContext(token));
  } catch {
    return null;
  }
  // Sliding idle timeout; written at most once a minute to spare the database.
  if (row.seen_a_while_ago) {
    await q.touchSession(db, token.idHash);
  }
  return { token, payload, userId: row.user_id, createdAt: row.created_at };
}

export async function saveSessionPayload<P>(db: Db, session: Session<P>): Promise<void> {
  await q.updateSessionPayload(db, session.token.idHash, encryptJson(session.token.key, session.payload, payloadContext(session.token)));
}

export function clearSessionCookie(config: Config, res: Response, kind: SessionKind): void {
  res.clearCookie(cookieName(config, kind), cookieOptions(config));
}

/** Deletes the request's session row of this kind, if it has one. */
export async function deleteSession(db: Db, config: Config, req: Request, kind: SessionKind): Promise<void> {
  const token = tokenFromRequest(config, req, kind);
  if (token) await q.deleteSessionRow(db, token.idHash);
}

/**
 * Clears the cookie of this kind and deletes the request's session (if
 * any). The cookie goes first: if the database then fails, the browser
 * still holds nothing that opens the session.
 */
export async function endSession(db: Db, config: Config, req: Request, res: Response, kind: SessionKind): Promise<void> {
  clearSessionCookie(config, res, kind);
  await deleteSession(db, config, req, kind);
}

/** Deletes this session's row (the cookie, if the browser still sends it, then opens nothing). */
export function deleteSessionOf<P>(db: Db, session: Session<P>): Promise<void> {
  return q.deleteSessionRow(db, session.token.idHash);
}

export function deleteExpiredSessions(db: Db, config: Config): Promise<number> {
  return q.deleteExpiredSessionRows(db, { reporter: config.reporterSessionMinutes, staff: config.staff.idleMinutes });
}
