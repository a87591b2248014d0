import type { RequestHandler, Response } from 'express';
import { notFound } from '../errors.js';
import { noticeFrom } from '../web/notice.js';
import type { AppContext } from '../web/context.js';
import { staffTranslator } from '../i18n/index.js';
import { AccessRefused, approveAccess, canApprove, type AccessRefusal } from './access.js';
import { staffOf, type StaffLocals } from '../staff/context.js';
import { isUuid } from '../ids.js';
import { originText, requestText, utc } from '../staff/people.js';
import * as q from '../staff/queries.js';

/** The ?notice= codes the case access page shows after an approval. */
export const ACCESS_NOTICES = ['approved', 'already'] as const;

/**
 * The case access page (/staff/access): the people waiting for access, each
 * with what the approving caseworker needs to judge them — who they are,
 * how their account came to exist, who asked — and a form that approves
 * only with an explicit tick. Caseworkers without every team key see why
 * they cannot approve, and nobody else.
 */

type Refusal = Exclude<AccessRefusal, 'not_found'>;
const STATUS: Record<Refusal, number> = { self: 403, no_keys: 403, not_eligible: 422, not_confirmed: 422 };

function refusalMessage(reason: Refusal): string {
  const st = staffTranslator();
  const messages: Record<Refusal, string> = {
    self: st('access.errors.self'),
    no_keys: st('access.errors.no_keys'),
    not_eligible: st('access.errors.not_eligible'),
    not_confirmed: st('access.errors.not_confirmed'),
  };
  return messages[reason];
}

type Problem = { message: string; /** the checkbox it belongs to, for the summary's link */ field: string | null };

async function render(
  ctx: AppContext,
  res: Response,
  staff: StaffLocals,
  status: number,
  extra: { notice?: string | null; problem?: Problem | null },
) {
  const st = staffTranslator();
  const viewer = staff.user.id;
  const allowed = await canApprove(ctx.db, await staff.teamKeys());
  const rows = allowed ? await q.peopleWithoutAccess(ctx.db) : [];
  const people = rows
    .filter((p) => p.id !== viewer)
    .map((p) => ({
      id: p.id,
      name: p.display_name,
      email: p.email,
      rolesText: p.roles.map((r) => st(`common.roles.${r}`)).join(', '),
      origin: originText(p, viewer),
      created: utc(p.created_at),
      requested: requestText(p, viewer) ?? st('access.not_requested'),
      twoFactor: p.totp_secret_wrapped !== null,
    }));
  res.status(status).render('staff/access', {
    title: st('access.title'),
    canApprove: allowed,
    people,
    notice: extra.notice ?? null,
    problem: extra.problem ?? null,
  });
}

export function accessPage(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const st = staffTranslator();
    await render(ctx, res, staffOf(res), 200, { notice: noticeFrom(req.query, ACCESS_NOTICES, (code) => st(`access.notices.${code}`)) });
  };
}

/** POST /staff/access/:id/approve: seals every current team key to the person, once, if the tick is there. */
export function approve(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const staff = staffOf(res);
    const id = String(req.params['id'] ?? '');
    if (!isUuid(id)) throw notFound();
    const confirmed = (req.body as Record<string, unknown> | undefined)?.['confirm'] === 'yes';
    try {
      const { sealed } = await approveAccess(ctx.db, { id: staff.user.id, teamKeys: await staff.teamKeys() }, id.toLowerCase(), confirmed);
      res.redirect(303, `/staff/access?notice=${sealed > 0 ? 'approved' : 'already'}`);
    } catch (err) {
      if (!(err instanceof AccessRefused)) throw err;
      if (err.reason === 'not_found') throw notFound();
      const message = refusalMessage(err.reason);
      const field = err.reason === 'not_confirmed' ? `confirm-${id.toLowerCase()}` : null;
      await render(ctx, res, staff, STATUS[err.reason], { problem: { message, field } });
    }
  };
}
