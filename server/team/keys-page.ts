import type { RequestHandler } from 'express';
import type { AppContext } from '../web/context.js';
import { noticeFrom } from '../web/notice.js';
import { staffTranslator } from '../i18n/index.js';
import { staffOf } from '../staff/context.js';
import * as q from '../staff/queries.js';
import { recentTeamKeys } from './queries.js';
import { RotationError, resumeRotation, runningRotation, startRotation } from './rotation.js';

async function render(ctx: AppContext, res: Parameters<RequestHandler>[1], status: number, error: string | null, notice: string | null) {
  const keys = await recentTeamKeys(ctx.db);
  const job = await runningRotation(ctx.db);
  // Who is waiting for access; the case access page is where a key holder approves them.
  const pending = await q.peopleWithoutAccess(ctx.db);
  res
    .status(status)
    .render('staff/keys', { title: staffTranslator()('keys.title'), keys, job, pending: pending.map((p) => p.display_name), error, notice });
}

export function keysPage(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    await render(
      ctx,
      res,
      200,
      null,
      noticeFrom(req.query, ['started'], () => staffTranslator()('keys.started')),
    );
  };
}

/** Starts (or resumes a stalled) team-key rotation in the background; the page shows progress. */
export function rotate(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const staff = staffOf(res);
    const actor = { id: staff.user.id, teamKeys: await staff.teamKeys() };
    try {
      const existing = await runningRotation(ctx.db);
      const job = existing ? await resumeRotation(ctx.db, ctx.logger, actor) : await startRotation(ctx.db, ctx.logger, actor);
      // The job outlives the request; its failure is logged and recorded on the job row.
      job?.promise.catch(() => undefined);
    } catch (err) {
      if (err instanceof RotationError) return render(ctx, res, 409, err.message, null);
      throw err;
    }
    res.redirect(303, '/staff/keys?notice=started');
  };
}
