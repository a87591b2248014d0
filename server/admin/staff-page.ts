import type { Request, RequestHandler, Response } from 'express';
import { audit } from '../audit/log.js';
import { activeKeyHolderCount } from './account-queries.js';
import { deactivateAccount, reactivateAccount } from './accounts.js';
import type { Role } from '../db/schema.js';
import { forbidden, notFound } from '../errors.js';
import { noticeFrom } from '../web/notice.js';
import type { AppContext } from '../web/context.js';
import { staffTranslator } from '../i18n/index.js';
import { AccessRefused, canApprove, requestAccess as recordRequest } from '../team/access.js';
import { staffOf, type StaffLocals } from '../staff/context.js';
import { createInvitation } from '../staff/invitations.js';
import { isUuid } from '../ids.js';
import { accessRequest, colleague, originText, utc, type RequestRow } from '../staff/people.js';
import * as q from '../staff/queries.js';

export const ROLES: readonly Role[] = ['caseworker', 'admin'];
/** The ?notice= codes the staff list shows after a change. */
export const STAFF_NOTICES = [
  'deactivated',
  'reset',
  'requested',
  'already_requested',
  'has_access',
  'deactivated_key_holder',
  'reactivated',
  'reactivated_requested',
] as const;
type StaffNotice = (typeof STAFF_NOTICES)[number];

/** The id of the staff list's confirmation: the redirect's #fragment, so the browser scrolls to it and focuses it. */
const NOTICE_ID = 'staff-notice';
const noticeUrl = (code: StaffNotice) => `/admin/staff?notice=${code}#${NOTICE_ID}`;

async function renderStaffList(ctx: AppContext, res: Response, status = 200, extra: Record<string, unknown> = {}) {
  const staff = staffOf(res);
  const viewer = staff.user.id;
  // A caseworker who holds every team key approves on the case access page; an administrator only asks.
  const approver = await holdsKeys(ctx, staff);
  const users = await q.listUsers(ctx.db);
  const st = staffTranslator();
  res.status(status).render('admin/staff', {
    title: st('staff.title'),
    users: users.map((u) => {
      const caseworker = u.status === 'active' && u.roles.includes('caseworker');
      const hasAccess = u.approved_at !== null;
      const approvedBy = colleague({ name: u.approver_name, status: u.approver_status, id: u.approved_by }, viewer);
      return {
        id: u.id,
        email: u.email,
        name: u.display_name,
        roles: u.roles,
        rolesText: u.roles.map((r) => st(`common.roles.${r}`)).join(', '),
        status: u.status,
        statusText: u.status === 'active' ? st('staff.statuses.active') : st('staff.statuses.deactivated'),
        twoFactor: u.totp_secret_wrapped !== null,
        origin: originText(u, viewer),
        access: !u.roles.includes('caseworker')
          ? st('staff.access.not_applicable')
          : hasAccess
            ? approvedBy
              ? st('staff.access.granted_by', { name: approvedBy, time: utc(u.approved_at!) })
              : st('staff.access.granted')
            : requestedText(u, viewer),
        canRequest: caseworker && !hasAccess && !approver && u.access_requested_at === null && u.id !== viewer,
        canReview: caseworker && !hasAccess && approver && u.id !== viewer,
      };
    }),
    error: null,
    invitation: null,
    notice: null,
    confirmation: null,
    ...extra,
  });
}

/**
 * What the list says after a change, next to nothing else (its id is the
 * redirect's fragment). After deactivating someone who held the team key it
 * suggests a rotation, and why; after a reactivation, that access to cases
 * must be approved again.
 */
function confirmationOf(code: StaffNotice | null, staff: StaffLocals) {
  if (code === null) return null;
  const st = staffTranslator();
  const caseworker = staff.user.roles.includes('caseworker');
  return {
    id: NOTICE_ID,
    text: st(`staff.notices.${code}`),
    // The team key page is for caseworkers; an administrator who is not one is told to ask one.
    rotate: code === 'deactivated_key_holder' ? { link: caseworker } : null,
    approval: code === 'reactivated_requested' ? { link: caseworker } : null,
  };
}

/** The access column of someone without access: who asked, if anyone, and that a caseworker must still confirm. */
function requestedText(u: RequestRow, viewer: string): string {
  const st = staffTranslator();
  const r = accessRequest(u, viewer);
  if (!r) return st('staff.access.not_requested');
  return r.name ? st('staff.access.requested', { name: r.name, time: r.time }) : st('staff.access.requested_unrecorded', { time: r.time });
}

export function staffList(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const code = noticeFrom(req.query, STAFF_NOTICES, (c) => c) as StaffNotice | null;
    await renderStaffList(ctx, res, 200, { confirmation: confirmationOf(code, staffOf(res)) });
  };
}

export function invite(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const st = staffTranslator();
    const { user } = staffOf(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const email = String(body['email'] ?? '').trim();
    const roles = [body['roles'] ?? []]
      .flat()
      .map(String)
      .filter((r): r is Role => (ROLES as readonly string[]).includes(r));
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) || email.length > 320) {
      return renderStaffList(ctx, res, 422, { error: st('staff.errors.email') });
    }
    if (roles.length === 0) return renderStaffList(ctx, res, 422, { error: st('staff.errors.roles') });
    if (await q.findUserByEmail(ctx.db, email)) return renderStaffList(ctx, res, 422, { error: st('staff.errors.taken') });
    // Audited inside, with any earlier invitation to the address it revokes.
    const { token, revoked } = await createInvitation(ctx.db, { email, roles, invitedBy: user.id, days: ctx.config.staff.invitationDays });
    const link = new URL(`/staff/invitations/${token}`, ctx.config.publicUrl).toString();
    await renderStaffList(ctx, res, 201, { invitation: { email, link, days: ctx.config.staff.invitationDays, replaced: revoked.length > 0 } });
  };
}

async function targetUser(ctx: AppContext, req: Request) {
  const id = String(req.params['id'] ?? '');
  if (!isUuid(id)) throw notFound(); // a malformed id never reaches the uuid column (a 404, not a database error)
  const user = await q.findUser(ctx.db, id.toLowerCase());
  if (!user) throw notFound();
  return user;
}

/**
 * The confirmation page of a deactivation (GET /admin/staff/:id/deactivate):
 * who, what happens, and one button; nothing changes until it is pressed.
 */
async function renderDeactivation(ctx: AppContext, res: Response, target: Target, status: number, error: string | null) {
  const st = staffTranslator();
  const staff = staffOf(res);
  const holdsKey = (await q.grantedKeyIds(ctx.db, target.id)).length > 0;
  const lastAdmin = target.roles.includes('admin') && (await q.countActiveAdmins(ctx.db)) <= 1;
  // The only active caseworker holding a key: after this, nobody opens a case until the recovery key grants access.
  const holders = holdsKey ? await activeKeyHolderCount(ctx.db) : 0;
  res.status(status).render('admin/staff-deactivate', {
    title: error
      ? st('common.error_title', { title: st('staff.deactivation.title', { name: target.display_name }) })
      : st('staff.deactivation.title', { name: target.display_name }),
    person: {
      id: target.id,
      name: target.display_name,
      email: target.email,
      rolesText: target.roles.map((r) => st(`common.roles.${r}`)).join(', '),
      holdsKey,
      lastHolder: holdsKey && holders <= 1,
      self: target.id === staff.user.id,
    },
    lastAdmin,
    // The last administrator's page has no button: what it says is why.
    error: lastAdmin ? st('staff.errors.last_admin') : error,
    notice: null,
  });
}

type Target = Awaited<ReturnType<typeof targetUser>>;

export function confirmDeactivation(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const target = await targetUser(ctx, req);
    if (target.status === 'deactivated') return res.redirect(303, noticeUrl('deactivated'));
    await renderDeactivation(ctx, res, target, 200, null);
  };
}

/** POST /admin/staff/:id/deactivate: only with the confirmation page's `confirm=yes`; without it, that page again (422), nothing changed. */
export function deactivate(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const actor = staffOf(res).user;
    const target = await targetUser(ctx, req);
    const st = staffTranslator();
    if (target.status === 'deactivated') return res.redirect(303, noticeUrl('deactivated'));
    if ((req.body as Record<string, unknown> | undefined)?.['confirm'] !== 'yes') {
      return renderDeactivation(ctx, res, target, 422, st('staff.errors.confirm_deactivation'));
    }
    const done = await deactivateAccount(ctx.db, actor.id, target.id);
    if (done.result === 'not_allowed') throw forbidden('role');
    if (done.result === 'last_admin') return renderDeactivation(ctx, res, target, 409, st('staff.errors.last_admin'));
    res.redirect(303, noticeUrl(done.result === 'deactivated' && done.heldKey ? 'deactivated_key_holder' : 'deactivated'));
  };
}

/** POST /admin/staff/:id/reactivate: the account is active again; its access to cases is requested again, never restored. */
export function reactivate(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const actor = staffOf(res).user;
    const target = await targetUser(ctx, req);
    const done = await reactivateAccount(ctx.db, actor.id, target.id);
    if (done.result === 'not_allowed') throw forbidden('role');
    if (done.result === 'already') return res.redirect(303, '/admin/staff');
    res.redirect(303, noticeUrl(done.requested ? 'reactivated_requested' : 'reactivated'));
  };
}

export function resetTwoFactor(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const actor = staffOf(res).user;
    const target = await targetUser(ctx, req);
    await ctx.db.transaction().execute(async (trx) => {
      await q.updateUser(trx, target.id, { totp_secret_wrapped: null, totp_last_step: null });
      await q.deleteUserSessions(trx, target.id);
      await audit(trx, { action: 'staff.totp_reset', actorId: actor.id, subjectUserId: target.id });
    });
    res.redirect(303, '/admin/staff?notice=reset');
  };
}

/**
 * POST /admin/staff/:id/approve: an administrator's half of an approval —
 * a recorded request that a caseworker who holds the team key confirm this
 * person's access. Nothing is sealed here. An administrator who is also such
 * a caseworker is taken to the case access page to confirm it there.
 */
export function requestAccess(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const staff = staffOf(res);
    const target = await targetUser(ctx, req);
    const st = staffTranslator();
    let outcome: Awaited<ReturnType<typeof recordRequest>>;
    try {
      outcome = await recordRequest(ctx.db, staff.user.id, target.id);
    } catch (err) {
      if (!(err instanceof AccessRefused)) throw err;
      if (err.reason === 'not_found') throw notFound();
      const self = err.reason === 'self';
      return renderStaffList(ctx, res, self ? 403 : 422, { error: self ? st('staff.errors.request_self') : st('staff.errors.not_caseworker') });
    }
    if (outcome !== 'has_access' && (await holdsKeys(ctx, staff))) return res.redirect(303, `/staff/access#person-${target.id}`);
    res.redirect(303, `/admin/staff?notice=${outcome}`);
  };
}

async function holdsKeys(ctx: AppContext, staff: StaffLocals): Promise<boolean> {
  return staff.user.roles.includes('caseworker') && canApprove(ctx.db, await staff.teamKeys());
}
