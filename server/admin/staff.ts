import type { Request, RequestHandler, Response } from 'express';
import { audit } from '../audit/log.js';
import type { Role } from '../db/schema.js';
import { badRequest, notFound } from '../errors.js';
import { own } from '../own.js';
import type { AppContext } from '../web/context.js';
import { staffTranslator } from '../web/i18n.js';
import { staffOf } from '../staff/context.js';
import { createInvitation } from '../staff/invitations.js';
import { approveAccess } from '../staff/keys.js';
import * as q from '../staff/queries.js';

export const ROLES: readonly Role[] = ['caseworker', 'admin'];

async function renderStaffList(ctx: AppContext, res: Response, status = 200, extra: Record<string, unknown> = {}) {
  const users = await q.listUsers(ctx.db);
  const st = staffTranslator();
  res.status(status).render('admin/staff', {
    title: st('staff.title'),
    users: users.map((u) => ({
      id: u.id,
      email: u.email,
      name: u.display_name,
      roles: u.roles,
      rolesText: u.roles.map((r) => st(`common.roles.${r}`)).join(', '),
      status: u.status,
      statusText: u.status === 'active' ? st('staff.statuses.active') : st('staff.statuses.deactivated'),
      twoFactor: u.totp_secret_wrapped !== null,
      access: !u.roles.includes('caseworker')
        ? st('staff.access.not_applicable')
        : u.sealed_at
          ? st('staff.access.granted')
          : u.approved_at
            ? st('staff.access.approved')
            : st('staff.access.not_approved'),
      canApprove: u.status === 'active' && u.roles.includes('caseworker') && !u.approved_at,
    })),
    error: null,
    invitation: null,
    notice: null,
    ...extra,
  });
}

export function staffList(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const st = staffTranslator();
    const notices: Record<string, string> = {
      deactivated: st('staff.notices.deactivated'),
      reset: st('staff.notices.reset'),
      approved: st('staff.notices.approved'),
      approved_pending: st('staff.notices.approved_pending'),
    };
    await renderStaffList(ctx, res, 200, { notice: own(notices, req.query['notice']) ?? null });
  };
}

export function invite(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    ctx.csrf.check(req);
    const st = staffTranslator();
    const { user } = staffOf(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const email = String(body['email'] ?? '').trim();
    const roles = [body['roles'] ?? []].flat().map(String).filter((r): r is Role => (ROLES as readonly string[]).includes(r));
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
  if (!/^[0-9a-f-]{36}$/.test(id)) throw notFound();
  const user = await q.findUser(ctx.db, id);
  if (!user) throw notFound();
  return user;
}

export function deactivate(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    ctx.csrf.check(req);
    const actor = staffOf(res).user;
    const target = await targetUser(ctx, req);
    if (target.status === 'deactivated') return res.redirect(303, '/admin/staff?notice=deactivated');
    if (target.roles.includes('admin') && (await q.countActiveAdmins(ctx.db)) <= 1) {
      return renderStaffList(ctx, res, 409, { error: staffTranslator()('staff.errors.last_admin') });
    }
    await ctx.db.transaction().execute(async (trx) => {
      await q.updateUser(trx, target.id, { status: 'deactivated', deactivated_at: new Date() });
      // Locked out at once: sessions gone, and the team key copies sealed to them deleted.
      await q.deleteUserSessions(trx, target.id);
      await trx.deleteFrom('key_grants').where('user_id', '=', target.id).execute();
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
    ctx.csrf.check(req);
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

export function approve(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    ctx.csrf.check(req);
    const staff = staffOf(res);
    const target = await targetUser(ctx, req);
    if (target.status !== 'active' || !target.roles.includes('caseworker')) throw badRequest('not_caseworker');
    const { sealed } = await approveAccess(ctx.db, { id: staff.user.id, teamKeys: await staff.teamKeys() }, target.id);
    res.redirect(303, `/admin/staff?notice=${sealed ? 'approved' : 'approved_pending'}`);
  };
}
