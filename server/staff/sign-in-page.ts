import type { Request, RequestHandler, Response } from 'express';
import { audit } from '../audit/log.js';
import { checkTotp, fromBase64, newTotpSecret, publicKeyOf, totpUri } from '../crypto/index.js';
import { HttpError, notFound } from '../errors.js';
import { noticeFrom } from '../web/notice.js';
import type { AppContext } from '../web/context.js';
import { staffTranslator } from '../i18n/index.js';
import { endSession } from '../web/session-store.js';
import { renderAccount } from './account-page.js';
import { staffOf } from './context.js';
import { PASSWORD_MESSAGES, passwordProblem } from './passwords.js';
import * as q from './queries.js';
import { loadStaffSession, safeTarget, staffPayload, startStaffSession, type StaffSession } from './session.js';
import { markSignedIn } from './sign-in-queries.js';
import { EmailTakenError, changePassword, prepareUser, unlockWithPassword, unwrapTotpSecret, wrapTotpSecret } from './users.js';
import { acceptInvitation as claimAndCreate, hashToken } from './invitations.js';

const field = (req: Request, name: string) => String((req.body as Record<string, unknown> | undefined)?.[name] ?? '');

/**
 * Where a completed sign-in lands: the page asked for while signed out, if
 * it is still a safe target (safeTarget) that these roles can open;
 * otherwise the queue (caseworkers) or the staff list (administrators).
 */
export function landingFor(roles: readonly string[], target: unknown = null): string {
  const home = roles.includes('caseworker') ? '/staff/cases' : '/admin/staff';
  const next = safeTarget(target);
  if (!next) return home;
  const path = next.split('?')[0]!;
  if (path === '/staff' || path === '/staff/') return home;
  if (/^\/admin(\/|$)/.test(path) && !roles.includes('admin')) return home;
  if (/^\/staff\/(cases|keys|access)(\/|$)/.test(path) && !roles.includes('caseworker')) return home;
  return next;
}

function renderSignIn(
  res: Response,
  status: number,
  locals: { error?: string | null; email?: string; notice?: string | null; next?: string | null },
) {
  res
    .status(status)
    .render('staff/sign-in', { title: staffTranslator()('sign_in.title'), error: null, email: '', notice: null, next: null, ...locals });
}

/** The ?notice= codes the sign-in page shows (after a sign-out, a password change, an accepted invitation). */
export const SIGN_IN_NOTICES = ['password_changed', 'signed_out', 'everywhere', 'invitation'] as const;

export const showSignIn: RequestHandler = (req, res) => {
  const st = staffTranslator();
  const next = safeTarget(req.query['next']);
  renderSignIn(res, 200, {
    notice: noticeFrom(req.query, SIGN_IN_NOTICES, (code) => st(`sign_in.notices.${code}`)),
    next,
  });
};

/**
 * Takes the attempt's point before the password or code is checked (a
 * count read first and written after lets parallel guesses all through);
 * the caller hands it back on success, so only failures count. A throttled
 * attempt answers as a page, not an error screen, so the form stays usable;
 * it returns null then.
 */
async function attempt(ctx: AppContext, req: Request, res: Response, account: string, render: (status: number, error: string) => unknown) {
  try {
    return await ctx.rateLimits.signInAttempt(req, account);
  } catch (err) {
    if (!(err instanceof HttpError) || err.status !== 429) throw err;
    res.setHeader('Retry-After', String(err.retryAfterSeconds ?? 900));
    await render(429, staffTranslator()('sign_in.errors.throttled')); // a page that reads the database is awaited: its failure goes to the error handler
    return null;
  }
}

export function signIn(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const email = field(req, 'email').trim().slice(0, 320);
    const password = field(req, 'password').slice(0, 1024);
    // The page asked for before signing in (a hidden field), checked here and again after the second factor.
    const next = safeTarget(field(req, 'next'));
    const taken = await attempt(ctx, req, res, email, (s, e) => renderSignIn(res, s, { error: e, email, next }));
    if (!taken) return;
    const unlocked = email && password ? await unlockWithPassword(ctx.db, email, password) : null;
    if (!unlocked || unlocked.user.status !== 'active') {
      const known = unlocked?.user ?? (email ? await q.findUserByEmail(ctx.db, email) : undefined);
      await audit(ctx.db, { action: 'staff.sign_in_failed', subjectUserId: known?.id ?? null, details: { step: 'password' } });
      return renderSignIn(res, 401, { error: staffTranslator()('sign_in.errors.no_match'), email, next });
    }
    await taken.succeeded();
    const { user, keyPair, wrapKey } = unlocked;
    const enrol = !user.totp_secret_wrapped;
    await startStaffSession(
      ctx,
      req,
      res,
      staffPayload(enrol ? 'enrol' : 'password', user.id, keyPair, { wrapKey, next, ...(enrol ? { pendingTotp: newTotpSecret() } : {}) }),
    );
    res.redirect(303, '/staff/two-factor');
  };
}

async function pendingSession(ctx: AppContext, req: Request): Promise<StaffSession | null> {
  const s = await loadStaffSession(ctx, req);
  return s && s.payload.stage !== 'full' && s.payload.wrapKey ? s : null;
}

async function renderTwoFactor(ctx: AppContext, res: Response, s: StaffSession, status: number, error: string | null) {
  const st = staffTranslator();
  if (s.payload.stage === 'enrol') {
    const user = await q.findUser(ctx.db, s.payload.userId);
    const uri = totpUri(s.payload.pendingTotp!, user?.email ?? 'staff', 'Harbour');
    // Rendered on the server as inline SVG: no third-party QR service, no script.
    const { default: QRCode } = await import('qrcode'); // loaded for enrolment only
    const qr = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return res.status(status).render('staff/enrol', { title: st('sign_in.enrol.title'), qr, secret: s.payload.pendingTotp, error });
  }
  res.status(status).render('staff/two-factor', { title: st('sign_in.two_factor.title'), error });
}

export function showTwoFactor(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const s = await pendingSession(ctx, req);
    if (!s) return res.redirect(302, '/staff/sign-in');
    await renderTwoFactor(ctx, res, s, 200, null);
  };
}

export function verifyTwoFactor(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const s = await pendingSession(ctx, req);
    if (!s) return res.redirect(303, '/staff/sign-in');
    const user = await q.findUser(ctx.db, s.payload.userId);
    if (!user || user.status !== 'active') {
      await endSession(ctx.db, ctx.config, req, res, 'staff');
      return res.redirect(303, '/staff/sign-in');
    }
    const taken = await attempt(ctx, req, res, user.email, (status, e) => void renderTwoFactor(ctx, res, s, status, e));
    if (!taken) return;
    const wrapKey = fromBase64(s.payload.wrapKey!);
    const code = field(req, 'code');
    const enrolling = s.payload.stage === 'enrol';
    const secret = enrolling ? s.payload.pendingTotp! : unwrapTotpSecret(wrapKey, user);
    const step = secret ? checkTotp(code, secret, enrolling ? null : user.totp_last_step) : null;
    // The step is stored atomically: the same code cannot be used twice, even in a race.
    const accepted = step !== null && (enrolling ? true : await q.setTotpStep(ctx.db, user.id, step));
    if (!accepted) {
      await audit(ctx.db, { action: 'staff.sign_in_failed', subjectUserId: user.id, details: { step: enrolling ? 'enrol' : 'totp' } });
      return renderTwoFactor(ctx, res, s, 401, staffTranslator()('sign_in.errors.wrong_code'));
    }
    await taken.succeeded();
    if (enrolling) {
      await q.updateUser(ctx.db, user.id, { totp_secret_wrapped: wrapTotpSecret(wrapKey, user.id, secret!), totp_last_step: step });
      await audit(ctx.db, { action: 'staff.totp_enrolled', actorId: user.id, subjectUserId: user.id });
    }
    const privateKey = fromBase64(s.payload.privateKey);
    await startStaffSession(ctx, req, res, staffPayload('full', user.id, { privateKey, publicKey: publicKeyOf(privateKey) }));
    await markSignedIn(ctx.db, user.id);
    await audit(ctx.db, { action: 'staff.sign_in', actorId: user.id, subjectUserId: user.id });
    res.redirect(303, landingFor(user.roles, s.payload.next));
  };
}

export function signOut(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const s = await loadStaffSession(ctx, req);
    await endSession(ctx.db, ctx.config, req, res, 'staff');
    if (s) await audit(ctx.db, { action: 'staff.sign_out', actorId: s.payload.userId, subjectUserId: s.payload.userId });
    res.redirect(303, '/staff/sign-in?notice=signed_out');
  };
}

export function signOutEverywhere(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { user } = staffOf(res);
    await q.deleteUserSessions(ctx.db, user.id);
    await endSession(ctx.db, ctx.config, req, res, 'staff');
    await audit(ctx.db, { action: 'staff.sign_out_everywhere', actorId: user.id, subjectUserId: user.id });
    res.redirect(303, '/staff/sign-in?notice=everywhere');
  };
}

export function updatePassword(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const st = staffTranslator();
    const { user } = staffOf(res);
    const current = field(req, 'current_password');
    const next = field(req, 'new_password');
    const problem = await passwordProblem(next, user.email, field(req, 'confirm_password'));
    if (problem) return renderAccount(ctx, res, 422, { passwordError: PASSWORD_MESSAGES[problem] });
    const taken = await attempt(ctx, req, res, user.email, (s, e) => renderAccount(ctx, res, s, { passwordError: e }));
    if (!taken) return;
    const unlocked = await unlockWithPassword(ctx.db, user.email, current);
    if (!unlocked) return renderAccount(ctx, res, 401, { passwordError: st('account.errors.current_wrong') });
    await taken.succeeded();
    await changePassword(ctx.db, unlocked, next);
    await endSession(ctx.db, ctx.config, req, res, 'staff');
    await audit(ctx.db, { action: 'staff.password_changed', actorId: user.id, subjectUserId: user.id });
    res.redirect(303, '/staff/sign-in?notice=password_changed');
  };
}

async function liveInvitation(ctx: AppContext, req: Request) {
  const token = String(req.params['token'] ?? '');
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) throw notFound('invitation');
  const inv = await q.findLiveInvitation(ctx.db, hashToken(token));
  if (!inv) throw notFound('invitation');
  return inv;
}

export function showInvitation(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const inv = await liveInvitation(ctx, req);
    res.render('staff/invitation', { title: staffTranslator()('invitation.title'), email: inv.email, name: '', error: null });
  };
}

/**
 * Creating an account from an invitation. The cheap checks and the lookup of
 * the link come first, so a dead link or a weak password costs no Argon2id;
 * then the keys are derived, and one transaction claims the invitation and
 * creates the account (invitations.ts). Parallel accepts of one link, or of
 * two links for one address, end with one account: the others see the link
 * used (404) or the address taken (422), never a database error.
 */
export function acceptInvitation(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const inv = await liveInvitation(ctx, req);
    const st = staffTranslator();
    const name = field(req, 'display_name').trim();
    const password = field(req, 'password');
    const render = (error: string) => res.status(422).render('staff/invitation', { title: st('invitation.title'), email: inv.email, name, error });
    if (!name || name.length > 100) return render(st('invitation.errors.name'));
    const problem = await passwordProblem(password, inv.email, field(req, 'confirm_password'));
    if (problem) return render(PASSWORD_MESSAGES[problem]);
    if (await q.findUserByEmail(ctx.db, inv.email)) return render(st('invitation.errors.taken'));
    const prepared = await prepareUser({ email: inv.email, displayName: name, roles: inv.roles, password });
    try {
      if (!(await claimAndCreate(ctx.db, inv.id, prepared))) throw notFound('invitation');
    } catch (err) {
      if (err instanceof EmailTakenError) return render(st('invitation.errors.taken'));
      throw err;
    }
    res.redirect(303, '/staff/sign-in?notice=invitation');
  };
}
