import type { Request, RequestHandler, Response } from 'express';
import { audit } from '../audit/log.js';
import type { Role } from '../db/schema.js';
import { notFound } from '../errors.js';
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
export const STAFF_NOTICES = ['deactivated', 'reset', 'requested', 'already_requested', 'has_access'] as const;

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
    ...extra,
  });
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
    const st = staffTranslator();
    await renderStaffList(ctx, res, 200, { notice: noticeFrom(req.query, STAFF_NOTICES, (code) => st(`staff.notices.${code}`)) });
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

export function deactivate(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const actor = staffOf(res).user;
    const target = await targetUser(ctx, req);
    if (target.status === 'deactivated') return res.redirect(303, '/admin/staff?notice=deactivated');
    if (target.roles.includes('admin') && (await q.countActiveAdmins(ctx.db)) <= 1) {
      return renderStaffList(ctx, res, 409, { error: staffTranslator()('staff.errors.last_admin') });
    }
    await ctx.db.transaction().execute(async (trx) => {
      await q.markDeactivated(trx, target.id);
      // Locked out at once: sessions gone, and the team key copies sealed to them deleted.
      await q.deleteUserSessions(trx, target.id);
      await q.deleteUserGrants(trx, target.id);
      // Links they sent stop working too: an account should not appear later on the word of someone removed.
      for (const invitation of await q.revokeOpenInvitations(trx, { invitedBy: target.id })) {
        await audit(trx, { action: 'staff.invitation_revoked', actorId: actor.id, details: { invitation, reason: 'inviter_deactivated' } });
      }
      await audit(trx, { action: 'staff.deactivated', actorId: actor.id, subjectUserId: target.id });
    });
    res.redirect(303, '/admin/staff?notice=deactivated');
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
