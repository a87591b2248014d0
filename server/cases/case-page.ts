import type { Request, RequestHandler, Response } from 'express';
import type { Db } from '../db/index.js';
import type { KeyPair } from '../crypto/index.js';
import { HttpError, notFound } from '../errors.js';
import { loadLists } from '../settings/lists.js';
import { deletionDateOf } from '../retention/queries.js';
import { staffOf } from '../staff/context.js';
import type { AppContext } from '../web/context.js';
import { openCase, type OpenCase } from './access.js';
import { caseView, noticeFor, noticeHref, type CaseData, type CaseNoticeCode, type CaseSection, type PageState } from './case-view.js';
import { CaseInputError } from './input.js';
import { caseworkerOptions, casesWithShortId, consentOf, evidenceList, historyOf, linksOf, notesOf, reportView, threadOf } from './reading.js';
import { recordReferral, referralForm, referralsOf } from './referral.js';
import {
  addNote,
  changeStatus,
  deleteAsSpam,
  keepLonger,
  linkCases,
  markViewed,
  sendMessage,
  setAssignee,
  setLabels,
  setUrgency,
  unlinkCases,
} from './workflow.js';
import { isUuid, shortIdOf } from '../ids.js';
import { staffTranslator } from '../i18n/index.js';

/**
 * Case page handlers. Each loads the case itself through openCase (P11);
 * CSRF is on the route line (routes/staff.ts); what the page shows is
 * caseView (case-view.ts).
 */

const idParam = (req: Request, name = 'id') => String(req.params[name] ?? '');

async function load(ctx: AppContext, req: Request, res: Response): Promise<OpenCase> {
  return openCase(ctx.db, await staffOf(res).teamKeys(), idParam(req));
}

/**
 * Everything the case page shows, decrypted for this response only. Every
 * path to it, the page itself and each action's refused-input (422)
 * re-render alike, is recorded first as a read of the case (case.viewed;
 * after refused input, with the field refused): a caseworker cannot read
 * a whole case by posting a form that is bound to fail.
 */
async function renderCase(ctx: AppContext, res: Response, c: OpenCase, state: PageState = {}) {
  const db = ctx.db;
  const refused = Object.keys(state.errors ?? {})[0] ?? null;
  await db.transaction().execute((trx) => markViewed(trx, staffOf(res).user.id, c, refused));
  const row = c.row;
  const [report, evidence, notes, messages, referrals, links, history, caseworkers, settings, lists] = await Promise.all([
    reportView(db, c),
    evidenceList(db, c),
    notesOf(db, c),
    threadOf(db, c),
    referralsOf(db, c),
    linksOf(db, c),
    historyOf(db, c),
    caseworkerOptions(db, row.assignee_id),
    ctx.settings(),
    loadLists(db),
  ]);
  const deletesAt = await deletionDateOf(db, c.id, settings.closedRetentionDays);
  const data: CaseData = {
    row,
    report,
    evidence: evidence.map((e) => e.item),
    notes,
    messages,
    referrals,
    links,
    history: history.items,
    historyTruncated: history.truncated,
    caseworkers,
    lists,
    closedRetentionDays: settings.closedRetentionDays,
    deletesAt,
    now: new Date(),
  };
  res.status(state.status ?? 200).render('staff/case', caseView(data, state));
}

export function showCase(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const c = await load(ctx, req, res);
    await renderCase(ctx, res, c, { notice: noticeFor(req.query) });
  };
}

type Actor = { id: string; teamKeys: Map<number, KeyPair> };
type Action = (db: Db, actor: Actor, c: OpenCase, body: Record<string, unknown>, req: Request) => Promise<CaseNoticeCode>;

/**
 * A POST on a case (its CSRF token already checked on the route line): the
 * case (404 unless openable), then the change and its audit entry in one
 * transaction. The redirect names the confirmation next to `section` as its
 * #fragment, so the browser scrolls there and focuses it (no script needed).
 * Refused input re-renders the page with the message inside `section` and
 * what was typed (422); nothing is stored.
 */
function caseAction(ctx: AppContext, section: CaseSection, run: Action): RequestHandler {
  return async (req, res) => {
    const staff = staffOf(res);
    const actor: Actor = { id: staff.user.id, teamKeys: await staff.teamKeys() };
    const c = await openCase(ctx.db, actor.teamKeys, idParam(req));
    const body = (req.body ?? {}) as Record<string, unknown>;
    try {
      const notice = await ctx.db.transaction().execute((trx) => run(trx, actor, c, body, req));
      res.redirect(303, noticeHref(c.id, notice));
    } catch (err) {
      if (!(err instanceof CaseInputError)) throw err;
      await renderCase(ctx, res, c, { status: 422, errors: { [err.field]: err.message }, form: body, section });
    }
  };
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');

export const postStatus = (ctx: AppContext) =>
  caseAction(ctx, 'status', (db, actor, c, body) =>
    changeStatus(db, actor.id, c, { to: str(body['status']), outcome: str(body['outcome']), reason: body['reopen_reason'] }),
  );

export const postUrgency = (ctx: AppContext) =>
  caseAction(ctx, 'urgency', async (db, actor, c, body) => (await setUrgency(db, actor.id, c, body['urgent']), 'urgency'));

export const postAssignee = (ctx: AppContext) =>
  caseAction(ctx, 'assignee', async (db, actor, c, body) => (await setAssignee(db, actor.id, c, body['assignee']), 'assignee'));

export const postLabels = (ctx: AppContext) =>
  caseAction(ctx, 'labels', async (db, actor, c, body) => (await setLabels(db, actor.id, c, body['labels']), 'labels'));

/** The case as this caseworker may open it, or null: an unknown id and a case they may not open read the same. */
async function openIfAllowed(db: Db, teamKeys: Map<number, KeyPair>, id: string): Promise<OpenCase | null> {
  try {
    return await openCase(db, teamKeys, id);
  } catch (err) {
    if (err instanceof HttpError && err.status === 404) return null;
    throw err;
  }
}

/**
 * The case a caseworker typed to link: its full id, or its short id (the 8
 * characters shown everywhere). Only cases they can open count, so a short id
 * shared with a case they may not see neither names that case nor makes the
 * short id ambiguous: nothing here tells them it exists.
 */
async function caseToLink(db: Db, teamKeys: Map<number, KeyPair>, typed: string): Promise<OpenCase | null> {
  const shortId = shortIdOf(typed);
  if (!shortId) return openIfAllowed(db, teamKeys, typed.trim());
  const found: OpenCase[] = [];
  for (const id of await casesWithShortId(db, shortId)) {
    const c = await openIfAllowed(db, teamKeys, id);
    if (c) found.push(c);
  }
  if (found.length > 1) throw new CaseInputError('link_case', staffTranslator()('case.errors.link_ambiguous', { id: shortId }));
  return found[0] ?? null;
}

export function postLink(ctx: AppContext): RequestHandler {
  return caseAction(ctx, 'links', async (db, actor, c, body) => {
    // The other case must be one this caseworker can open too; anything else reads as "no such case".
    const other = await caseToLink(db, actor.teamKeys, str(body['link_case']));
    return (await linkCases(db, actor.id, c, other)) ? 'linked' : 'already_linked';
  });
}

export function postUnlink(ctx: AppContext): RequestHandler {
  return caseAction(ctx, 'links', async (db, actor, c, _body, req) => {
    const other = idParam(req, 'other');
    if (!isUuid(other)) throw notFound();
    await unlinkCases(db, actor.id, c, other.toLowerCase());
    return 'unlinked';
  });
}

export const postNote = (ctx: AppContext) =>
  caseAction(ctx, 'notes', async (db, actor, c, body) => (await addNote(db, actor.id, c, body['note']), 'note'));

export const postMessage = (ctx: AppContext) =>
  caseAction(ctx, 'messages', async (db, actor, c, body) => (await sendMessage(db, actor.id, c, body['message']), 'message'));

export function postRetention(ctx: AppContext): RequestHandler {
  return async (req, res, next) => {
    // Read before the action's transaction: the embedded database has one connection, which that transaction holds.
    const { closedRetentionDays } = await ctx.settings();
    return caseAction(ctx, 'retention', async (db, actor, c, body) => {
      await keepLonger(db, actor.id, c, { until: body['retain_until'], reason: body['retain_reason'] }, closedRetentionDays);
      return 'retention';
    })(req, res, next);
  };
}

/** Deleting spam ends on the queue (the case is gone), so it cannot share caseAction's redirect. */
export function postSpam(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const staff = staffOf(res);
    const c = await openCase(ctx.db, await staff.teamKeys(), idParam(req));
    const body = (req.body ?? {}) as Record<string, unknown>;
    try {
      await ctx.db.transaction().execute((trx) => deleteAsSpam(trx, staff.user.id, c, body['confirm_spam']));
      res.redirect(303, '/staff/cases?notice=deleted');
    } catch (err) {
      if (!(err instanceof CaseInputError)) throw err;
      await renderCase(ctx, res, c, { status: 422, errors: { [err.field]: err.message }, form: body, section: 'spam' });
    }
  };
}

export function postReferral(ctx: AppContext): RequestHandler {
  return caseAction(ctx, 'referrals', async (db, actor, c, body) => {
    await recordReferral(db, actor.id, c, consentOf(c), referralForm(body));
    return 'referral';
  });
}
