import { sql } from 'kysely';
import type { Request, Response } from 'express';
import {
  decryptJson,
  encryptJson,
  newSessionToken,
  parseSessionToken,
  toHex,
  type SessionToken,
} from '../crypto/index.js';
import type { Db } from '../db/index.js';
import type { Config } from '../config.js';

/**
 * Sessions for reporters and staff (P9). The cookie holds a random token;
 * the row holds a hash of it and a payload (the unlocked keys) encrypted
 * under a key derived from it. Nothing in the table opens anything without
 * the cookie.
 */
export type SessionKind = 'reporter' | 'staff';
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
 * browser. Times come from the database's clock, like every check against
 * them: an instance whose clock is off cannot end or stretch a session.
 */
export async function insertSession<P>(db: Db, s: NewSession<P>): Promise<SessionToken> {
  const token = newSessionToken();
  await db
    .insertInto('sessions')
    .values({
      id_hash: token.idHash,
      kind: s.kind,
      report_id: s.reportId ?? null,
      user_id: s.userId ?? null,
      payload: encryptJson(token.key, s.payload, payloadContext(token)),
      expires_at: sql<Date>`now() + make_interval(secs => ${s.lifetimeMs / 1000})`,
      last_seen_at: sql<Date>`now()`,
    })
    .execute();
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
export async function loadSession<P>(
  db: Db,
  config: Config,
  req: Request,
  kind: SessionKind,
  idleMinutes: number,
): Promise<Session<P> | null> {
  const token = tokenFromRequest(config, req, kind);
  if (!token) return null;
  const row = await db
    .selectFrom('sessions')
    .select(['payload', 'user_id', 'created_at', sql<boolean>`last_seen_at < now() - interval '1 minute'`.as('seen_a_while_ago')])
    .where('id_hash', '=', token.idHash)
    .where('kind', '=', kind)
    .where('expires_at', '>', sql<Date>`now()`)
    .where('last_seen_at', '>', sql<Date>`now() - make_interval(mins => ${idleMinutes})`)
    .executeTakeFirst();
  if (!row) return null;
  let payload: P;
  try {
    payload = decryptJson<P>(token.key, row.payload, payloadContext(token));
  } catch {
    return null;
  }
  // Sliding idle timeout; written at most once a minute to spare the database.
  if (row.seen_a_while_ago) {
    await db.updateTable('sessions').set({ last_seen_at: sql`now()` }).where('id_hash', '=', token.idHash).execute();
  }
  return { token, payload, userId: row.user_id, createdAt: row.created_at };
}

export async function saveSessionPayload<P>(db: Db, session: Session<P>): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ payload: encryptJson(session.token.key, session.payload, payloadContext(session.token)) })
    .where('id_hash', '=', session.token.idHash)
    .execute();
}

export function clearSessionCookie(config: Config, res: Response, kind: SessionKind): void {
  res.clearCookie(cookieName(config, kind), cookieOptions(config));
}

/** Deletes the request's session row of this kind, if it has one. */
export async function deleteSession(db: Db, config: Config, req: Request, kind: SessionKind): Promise<void> {
  const token = tokenFromRequest(config, req, kind);
  if (token) await db.deleteFrom('sessions').where('id_hash', '=', token.idHash).execute();
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

export async function deleteExpiredSessions(db: Db, config: Config): Promise<number> {
  const res = await db
    .deleteFrom('sessions')
    .where((eb) =>
      eb.or([
        eb('expires_at', '<=', sql<Date>`now()`),
        eb.and([eb('kind', '=', 'reporter'), eb('last_seen_at', '<=', sql<Date>`now() - make_interval(mins => ${config.reporterSessionMinutes})`)]),
        eb.and([eb('kind', '=', 'staff'), eb('last_seen_at', '<=', sql<Date>`now() - make_interval(mins => ${config.staff.idleMinutes})`)]),
      ]),
    )
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}
