import type { RequestHandler } from 'express';
import type { TFunction } from 'i18next';
import { loadLists } from '../settings/lists.js';
import { staffOf } from '../staff/context.js';
import type { AppContext } from '../web/context.js';
import { noticeFrom } from '../web/notice.js';
import { staffTranslator, translator } from '../i18n/index.js';
import { requireCaseAccess } from './access.js';
import { countDueForDeletion, countQueue, countsByStatus, findCases, listAssignees, listQueue, type QueuePage } from './queue-queries.js';
import { parseQueueParams, queueView } from './queue-view.js';

/** The count of matching cases stops here ("more than 1,000"): counting stays cheap however large the queue. */
export const COUNT_CAP = 1000;
const PAGE_SIZE = 50;

/**
 * GET /staff/cases: the caseworker queue. Mounted behind the caseworker guard.
 * A caseworker whose access is still waiting for approval is told so (403).
 * Finding a case by id (?id=) looks only at cases sealed to a team key this
 * caseworker holds: exactly one match opens it, several are listed, none
 * (or a restricted one) reads the same, "no case you can open has that id".
 */
export function queuePage(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { user, teamKeys } = staffOf(res);
    const keys = await teamKeys();
    requireCaseAccess(keys);
    const t = (res.locals['t'] as TFunction | undefined) ?? translator('en');
    const [lists, assignees, counts] = await Promise.all([loadLists(ctx.db), listAssignees(ctx.db), countsByStatus(ctx.db)]);
    const { query, params, search } = parseQueueParams(req.query as Record<string, unknown>, {
      communities: lists.community.map((i) => i.code),
      regions: lists.region.map((i) => i.code),
      assigneeIds: assignees.map((a) => a.id),
      labels: lists.label.map((i) => i.code),
      userId: user.id,
    });
    if (search) query.teamKeyIds = [...keys.keys()];
    const settings = await ctx.settings();
    const now = new Date();
    const nothing: QueuePage = { rows: [], nextCursor: null };
    const [page, count, dueForDeletion] = await Promise.all([
      search?.kind === 'bad'
        ? nothing
        : search
          ? findCases(ctx.db, query, settings, PAGE_SIZE, now)
          : listQueue(ctx.db, query, settings, PAGE_SIZE, now),
      search?.kind === 'bad' ? 0 : countQueue(ctx.db, query, settings, COUNT_CAP, now),
      countDueForDeletion(ctx.db, settings.closedRetentionDays, now),
    ]);
    // One case has that id: straight to it (its page checks access again, P11).
    if (search && page.rows.length === 1) return res.redirect(303, `/staff/cases/${page.rows[0]!.id}`);
    const notice = noticeFrom(req.query, ['deleted'], () => staffTranslator()('queue.notices.deleted'));
    // `st` comes from the staff router too; passed here so the handler also renders when mounted on its own.
    res.render('staff/queue', {
      ...queueView(t, lists, { params, ...page, counts, assignees, userId: user.id, dueForDeletion, now, count, countCap: COUNT_CAP, search }),
      notice,
      st: staffTranslator(),
    });
  };
}
