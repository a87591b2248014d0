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
 * Reporter sessions (P9). The cookie holds a random token; the row holds a
 * hash of it and the unlocked data key encrypted under a key derived from
 * it. Idle timeout from config, absolute lifetime two hours.
 */
export type ReporterPayload = {
  reportId: string;
  dataKey: string; // base64 of the report's data key
  /** Set between submission and the reporter typing the receipt back. */
  receipt?: string;
  urgent?: boolean;
};

export type ReporterSession = { token: SessionToken; payload: ReporterPayload };

const ABSOLUTE_MS = 2 * 60 * 60 * 1000;

export function reporterCookieName(config: Config): string {
  return config.secureCookies ? '__Host-harbour_r' : 'harbour_r';
}

const ctx = (token: SessionToken) => ({ table: 'sessions', id: toHex(token.idHash), field: 'payload' });

export async function createReporterSession(
  db: Db,
  config: Config,
  res: Response,
  payload: ReporterPayload,
): Promise<void> {
  const token = newSessionToken();
  await db
    .insertInto('sessions')
    .values({
      id_hash: token.idHash,
      kind: 'reporter',
      report_id: payload.reportId,
      payload: encryptJson(token.key, payload, ctx(token)),
      expires_at: new Date(Date.now() + ABSOLUTE_MS),
      last_seen_at: new Date(),
    })
    .execute();
  res.cookie(reporterCookieName(config), token.cookieValue, {
    httpOnly: true,
    secure: config.secureCookies,
    sameSite: 'strict',
    path: '/',
  });
}

export async function loadReporterSession(db: Db, config: Config, req: Request): Promise<ReporterSession | null> {
  const raw = req.cookies?.[reporterCookieName(config)];
  if (typeof raw !== 'string') return null;
  const token = parseSessionToken(raw);
  if (!token) return null;
  const idleMinutes = config.reporterSessionMinutes;
  const row = await db
    .selectFrom('sessions')
    .select(['payload', 'last_seen_at'])
    .where('id_hash', '=', token.idHash)
    .where('kind', '=', 'reporter')
    .where('expires_at', '>', sql<Date>`now()`)
    .where('last_seen_at', '>', sql<Date>`now() - make_interval(mins => ${idleMinutes})`)
    .executeTakeFirst();
  if (!row) return null;
  let payload: ReporterPayload;
  try {
    payload = decryptJson<ReporterPayload>(token.key, row.payload, ctx(token));
  } catch {
    return null;
  }
  // Sliding idle timeout; written at most once a minute to spare the database.
  if (Date.now() - new Date(row.last_seen_at).getTime() > 60_000) {
    await db.updateTable('sessions').set({ last_seen_at: sql`now()` }).where('id_hash', '=', token.idHash).execute();
  }
  return { token, payload };
}

export async function updateReporterSession(db: Db, session: ReporterSession): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ payload: encryptJson(session.token.key, session.payload, ctx(session.token)) })
    .where('id_hash', '=', session.token.idHash)
    .execute();
}

export async function endReporterSession(db: Db, config: Config, req: Request, res: Response): Promise<void> {
  const raw = req.cookies?.[reporterCookieName(config)];
  const token = typeof raw === 'string' ? parseSessionToken(raw) : null;
  if (token) await db.deleteFrom('sessions').where('id_hash', '=', token.idHash).execute();
  res.clearCookie(reporterCookieName(config), { path: '/', httpOnly: true, secure: config.secureCookies, sameSite: 'strict' });
}

export async function deleteExpiredSessions(db: Db, idleMinutes: number): Promise<number> {
  const res = await db
    .deleteFrom('sessions')
    .where((eb) =>
      eb.or([
        eb('expires_at', '<=', sql<Date>`now()`),
        eb('last_seen_at', '<=', sql<Date>`now() - make_interval(mins => ${idleMinutes})`),
      ]),
    )
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}
