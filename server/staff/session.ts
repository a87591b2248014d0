import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { fromBase64, publicKeyOf, toBase64, type KeyPair } from '../crypto/index.js';
import type { Role } from '../db/schema.js';
import { HttpError, forbidden } from '../errors.js';
import type { AppContext } from '../web/context.js';
import { createSession, endSession, loadSession, type Session } from '../web/session-store.js';
import type { StaffLocals } from './context.js';
import { teamKeysFor } from './keys.js';
import * as q from './queries.js';

/**
 * Staff sessions (P9). Stages: 'password' (password checked, code pending),
 * 'enrol' (first sign-in: TOTP being set up), 'full'. The payload holds the
 * user's unlocked private key — and, before 'full', the password-derived key
 * needed to read or store the TOTP secret — encrypted under the cookie's
 * secret. A new session (new cookie) is created at each stage, so a cookie
 * planted before sign-in is never promoted (no session fixation).
 */
export type StaffPayload = {
  stage: 'password' | 'enrol' | 'full';
  userId: string;
  privateKey: string;
  wrapKey?: string;
  pendingTotp?: string;
  /** Where to land after the second factor: a page asked for while signed out (checked by safeTarget, again before use). */
  next?: string;
};
export type StaffSession = Session<StaffPayload>;

const PENDING_MS = 10 * 60 * 1000;

export async function startStaffSession(ctx: AppContext, req: Request, res: Response, payload: StaffPayload): Promise<StaffSession> {
  await endSession(ctx.db, ctx.config, req, res, 'staff');
  const lifetimeMs = payload.stage === 'full' ? ctx.config.staff.sessionHours * 3600 * 1000 : PENDING_MS;
  return createSession(ctx.db, ctx.config, res, { kind: 'staff', payload, lifetimeMs, userId: payload.userId });
}

export function staffPayload(
  stage: StaffPayload['stage'],
  userId: string,
  keyPair: KeyPair,
  extra: { wrapKey?: Uint8Array; pendingTotp?: string; next?: string | null } = {},
): StaffPayload {
  return {
    stage,
    userId,
    privateKey: toBase64(keyPair.privateKey),
    ...(extra.wrapKey ? { wrapKey: toBase64(extra.wrapKey) } : {}),
    ...(extra.pendingTotp ? { pendingTotp: extra.pendingTotp } : {}),
    ...(extra.next ? { next: extra.next } : {}),
  };
}

/** Longest page address carried through signing in. */
export const TARGET_MAX_LENGTH = 512;

/**
 * A page to land on after signing in, or null. Only a path on this site
 * under /staff or /admin, with an optional query: never another site (no
 * scheme, no `//host`, no `/\host`, which browsers read as `//host`), no
 * dot segments or encoded dots and slashes (a later decoding could climb
 * out), no control characters (CR/LF would split the Location header), no
 * fragment, nothing longer than TARGET_MAX_LENGTH, and not the sign-in pages
 * themselves. Checked where it enters (the redirect to sign in, the form)
 * and again where it is used, so it is never an open redirect.
 */
export function safeTarget(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > TARGET_MAX_LENGTH) return null;
  // Printable ASCII only (no spaces or controls), and no backslash or fragment.
  if (!/^[\x21-\x7e]+$/.test(raw) || /[\\#]/.test(raw)) return null;
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  const query = q === -1 ? '' : raw.slice(q + 1);
  if (!/^\/(staff|admin)(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)*$/.test(path)) return null;
  if (!/^[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/.test(query)) return null;
  // Every % starts an escape, and none of them is a dot, a slash, a backslash or a control character.
  if (/%(?![0-9a-f]{2})/i.test(raw) || /%(2e|2f|5c|[01][0-9a-f]|7f)/i.test(raw)) return null;
  if (path.includes('//') || /\/\.{1,2}(\/|$)/.test(path)) return null;
  if (/^\/staff\/(sign-in|two-factor|sign-out)(\/|$)/.test(path)) return null;
  // And the URL parser agrees: the same site, the same path.
  const base = 'http://harbour.invalid';
  const url = new URL(raw, base);
  if (url.origin !== base || url.pathname !== path) return null;
  return raw;
}

/** The sign-in page's address that comes back to `target` afterwards (the plain one when the target is not safe). */
export function signInHref(target: unknown): string {
  const next = safeTarget(target);
  return next ? `/staff/sign-in?next=${encodeURIComponent(next)}` : '/staff/sign-in';
}

export function loadStaffSession(ctx: AppContext, req: Request): Promise<StaffSession | null> {
  return loadSession<StaffPayload>(ctx.db, ctx.config, req, 'staff', ctx.config.staff.idleMinutes);
}

/**
 * Loads the signed-in staff member into res.locals.staff. A deactivated
 * account, or a password changed since the session began, ends the session
 * on the spot (locked out at once).
 */
export function loadStaff(ctx: AppContext): RequestHandler {
  return async (req, res, next) => {
    const session = await loadStaffSession(ctx, req);
    if (!session || session.payload.stage !== 'full') return next();
    const user = await q.findUser(ctx.db, session.payload.userId);
    if (!user || user.status !== 'active' || user.password_changed_at > session.createdAt) {
      await endSession(ctx.db, ctx.config, req, res, 'staff');
      return next();
    }
    const privateKey = fromBase64(session.payload.privateKey);
    const keyPair = { privateKey, publicKey: publicKeyOf(privateKey) };
    let teamKeys: Promise<Map<number, KeyPair>> | null = null;
    const isCaseworker = user.roles.includes('caseworker');
    const locals: StaffLocals = {
      user: { id: user.id, email: user.email, displayName: user.display_name, roles: user.roles },
      privateKey,
      // P6: only the caseworker role ever unseals a team key.
      teamKeys: () => (teamKeys ??= isCaseworker ? teamKeysFor(ctx.db, user.id, keyPair) : Promise.resolve(new Map())),
    };
    res.locals['staff'] = locals;
    res.locals['staffSession'] = session;
    // Nothing is sealed here: loading a page never grants anyone access (team/access.ts does, when asked).
    next();
  };
}

/**
 * Route guard: a signed-in staff member holding one of the roles. Signed-out
 * GETs go to the sign-in page, which brings them back to the page asked for
 * afterwards (safeTarget); other signed-out requests get 401; a missing role
 * is 403.
 */
export function requireRole(...roles: Role[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const staff = res.locals['staff'] as StaffLocals | undefined;
    if (!staff) {
      if (req.method === 'GET' || req.method === 'HEAD') return res.redirect(302, signInHref(req.originalUrl));
      return next(new HttpError(401, 'staff_signed_out'));
    }
    if (roles.length && !roles.some((r) => staff.user.roles.includes(r))) return next(forbidden('role'));
    next();
  };
}

export const requireSignedIn = requireRole();
