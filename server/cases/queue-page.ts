import type { RequestHandler } from 'express';
import type { TFunction } from 'i18next';
import { loadLists } from '../settings/lists.js';
import { staffOf } from '../staff/context.js';
import type { AppContext } from '../web/context.js';
import { noticeFrom } from '../web/notice.js';
import { staffTranslator, translator } from '../i18n/index.js';
import { countDueForDeletion, countsByStatus, listAssignees, listQueue } from './queue-queries.js';
import { parseQueueParams, queueView } from './queue-view.js';

/** GET /staff/cases: the caseworker queue. Mounted behind the caseworker guard. */
export function queuePage(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { user } = staffOf(res);
    const t = (res.locals['t'] as TFunction | undefined) ?? translator('en');
    const [lists, assignees, counts] = await Promise.all([loadLists(ctx.db), listAssignees(ctx.db), countsByStatus(ctx.db)]);
    const { query, params } = parseQueueParams(req.query as Record<string, unknown>, {
      communities: lists.community.map((i) => i.code),
      regions: lists.region.map((i) => i.code),
      assigneeIds: assignees.map((a) => a.id),
      labels: lists.label.map((i) => i.code),
      userId: user.id,
    });
    const settings = await ctx.settings();
    const now = new Date();
    const [page, dueForDeletion] = await Promise.all([
      listQueue(ctx.db, query, settings, 50, now),
      countDueForDeletion(ctx.db, settings.closedRetentionDays, now),
    ]);
    const notice = noticeFrom(req.query, ['deleted'], () => staffTranslator()('queue.notices.deleted'));
    // `st` comes from the staff router too; passed here so the handler also renders when mounted on its own.
    res.render('staff/queue', {
      ...queueView(t, lists, { params, ...page, counts, assignees, userId: user.id, dueForDeletion, now }),
      notice,
      st: staffTranslator(),
    });
  };
}
