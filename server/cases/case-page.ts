import type { Request, RequestHandler, Response } from 'express';
import { AUDIT_ACTIONS, audit, type AuditAction } from '../audit/log.js';
import type { Db } from '../db/index.js';
import type { KeyPair } from '../crypto/index.js';
import { HttpError, notFound } from '../errors.js';
import { listItem, listLabel, loadLists, type Lists } from '../settings/lists.js';
import { MAX_EXTENSION_DAYS, RETENTION_NOTICE_DAYS, deletionDateOf } from '../retention/purge.js';
import { staffOf } from '../staff/context.js';
import type { AppContext } from '../web/context.js';
import { staffTranslator, translator } from '../i18n/index.js';
import {
  DESTINATIONS,
  CRIME_REFERENCE_MAX,
  destinationLabel,
  recordReferral,
  referralForm,
  referralsOf,
  today,
} from './referral.js';
import {
  CaseInputError,
  HISTORY_LIMIT,
  LIMITS,
  NEXT_STATUSES,
  OUTCOMES,
  UUID,
  addNote,
  caseworkerOptions,
  changeStatus,
  consentOf,
  deleteAsSpam,
  evidenceList,
  historyOf,
  isStatus,
  keepLonger,
  linkCases,
  linksOf,
  markViewed,
  notesOf,
  openCase,
  outcomeLabel,
  reportView,
  sendMessage,
  setAssignee,
  setLabels,
  setUrgency,
  statusLabel,
  threadOf,
  unlinkCases,
  type OpenCase,
} from './service.js';

/** Case page handlers. Each loads the case itself through openCase (P11); CSRF is on the route line (routes/staff.ts). */

const dateTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Europe/London' });
export const fmt = (d: Date | string) => dateTime.format(new Date(d));

/**
 * The audit actions a case's history names in words (locales/staff/en.json,
 * case.history.actions): every case action but the spam deletion, which
 * leaves no case to show. Others (none today) show their code.
 */
export const HISTORY_ACTIONS: readonly AuditAction[] = AUDIT_ACTIONS.filter((a) => a.startsWith('case.') && a !== 'case.deleted_as_spam');

function actionLabel(action: string): string {
  if (!(HISTORY_ACTIONS as readonly string[]).includes(action)) return action;
  return staffTranslator()(`case.history.actions.${action.slice('case.'.length)}`);
}

/** The notices a ?notice= code shows after a change (what each case action returns). */
export const CASE_NOTICES = ['status', 'reopened', 'urgency', 'assignee', 'labels', 'linked', 'already_linked', 'unlinked', 'note', 'message', 'referral', 'retention'] as const;

function noticeFor(code: unknown): string | null {
  const notice = String(code ?? '');
  return (CASE_NOTICES as readonly string[]).includes(notice) ? staffTranslator()(`case.notices.${notice}`) : null;
}

/** The case page's label checkboxes: every offered label, and any retired one this case still has. */
function labelOptions(lists: Lists, current: readonly string[]) {
  const t = translator('en');
  return lists.label
    .filter((item) => !item.retired || current.includes(item.code))
    .map((item) => {
      const name = listLabel(t, 'en', 'label', item);
      return { code: item.code, label: item.retired ? staffTranslator()('case.workflow.label_retired', { label: name }) : name, checked: current.includes(item.code) };
    });
}

type PageState = { status?: number; errors?: Record<string, string>; form?: Record<string, unknown>; notice?: string | null };

const caseUrl = (id: string) => `/staff/cases/${id}`;
const idParam = (req: Request, name = 'id') => String(req.params[name] ?? '');

async function load(ctx: AppContext, req: Request, res: Response): Promise<OpenCase> {
  return openCase(ctx.db, await staffOf(res).teamKeys(), idParam(req));
}

function historyEntry(names: Map<string, string>) {
  const st = staffTranslator();
  return (h: { seq: number; at: Date; action: string; details: unknown; actor_name: string | null }) => {
    const raw = h.details && typeof h.details === 'object' ? (h.details as Record<string, unknown>) : {};
    const details = Object.entries(raw).map(([key, value]) => {
      let text = value === null || value === undefined ? '–' : typeof value === 'boolean' ? (value ? st('case.history.yes') : st('case.history.no')) : String(value);
      if ((key === 'from' || key === 'to') && typeof value === 'string') {
        text = h.action === 'case.assigned' ? (names.get(value) ?? value) : isStatus(value) ? statusLabel(value) : text;
      }
      if (key === 'outcome' && typeof value === 'string') text = outcomeLabel(value);
      if (key === 'destination' && typeof value === 'string') text = destinationLabel(value);
      return { key, value: text };
    });
    return { seq: h.seq, at: h.at, actor: h.actor_name ?? st('case.history.system'), action: actionLabel(h.action), details };
  };
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
  const t = translator('en');
  const st = staffTranslator();
  const names = new Map(caseworkers.map((u) => [u.id, u.name]));
  const errors = state.errors ?? {};
  const form = state.form ?? {};
  const draft = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : '');
  res.status(state.status ?? 200).render('staff/case', {
    title: Object.keys(errors).length ? st('common.error_title', { title: st('case.title', { id: row.id.slice(0, 8) }) }) : st('case.title', { id: row.id.slice(0, 8) }),
    fmt,
    c: {
      id: row.id,
      shortId: row.id.slice(0, 8),
      status: row.status,
      statusLabel: statusLabel(row.status),
      outcomeLabel: row.closing_outcome ? outcomeLabel(row.closing_outcome) : null,
      urgent: row.urgent,
      assigneeId: row.assignee_id,
      labels: row.labels.map((code) => listLabel(t, 'en', 'label', listItem(lists, 'label', code))),
      createdAt: row.created_at,
      submittedAt: row.submitted_at,
      triagedAt: row.triaged_at,
      closedAt: row.closed_at,
      firstResponseAt: row.first_response_at,
      deletesAt,
      deletingSoon: deletesAt !== null && deletesAt.getTime() <= Date.now() + RETENTION_NOTICE_DAYS * 86_400_000,
      // Spam deletion: only a report nobody has triaged.
      deletableAsSpam: row.status === 'new' && row.triaged_at === null,
    },
    retention: { days: settings.closedRetentionDays, noticeDays: RETENTION_NOTICE_DAYS, maxYears: MAX_EXTENSION_DAYS / 365 },
    report,
    consentLabel: report.consent ? t(`form.consent.options.${report.consent}`) : st('case.report.consent_unknown'),
    consentGiven: report.consent === 'yes',
    evidence: evidence.map((e) => e.item),
    notes,
    messages,
    referrals,
    links: links.map((l) => ({
      id: l.id,
      statusLabel: statusLabel(l.status),
      urgent: l.urgent,
      categories: l.categories.map((code) => t(`categories.${code}.label`, { defaultValue: code })).join(', '),
      createdAt: l.created_at,
    })),
    history: history.map(historyEntry(names)),
    historyTruncated: history.length >= HISTORY_LIMIT,
    caseworkers,
    labelOptions: labelOptions(lists, row.labels),
    nextStatuses: (NEXT_STATUSES[row.status] ?? []).map((s) => ({ value: s, label: statusLabel(s) })),
    outcomes: OUTCOMES.map((o) => ({ value: o, label: outcomeLabel(o) })),
    destinations: DESTINATIONS.map((d) => ({ value: d, label: destinationLabel(d) })),
    limits: { ...LIMITS, crimeReference: CRIME_REFERENCE_MAX },
    today: today(),
    errors,
    errorList: Object.entries(errors).map(([field, message]) => ({ field, message })),
    draft,
    chosenNoteIds: [form['notes'] ?? []].flat().map(String),
    notice: state.notice ?? null,
  });
}

export function showCase(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const c = await load(ctx, req, res);
    await renderCase(ctx, res, c, { notice: noticeFor(req.query['notice']) });
  };
}

type Actor = { id: string; teamKeys: Map<number, KeyPair> };
type Action = (db: Db, actor: Actor, c: OpenCase, body: Record<string, unknown>, req: Request) => Promise<string>;

/**
 * A POST on a case (its CSRF token already checked on the route line): the case (404 unless openable), then the change and
 * its audit entry in one transaction. Refused input re-renders the page with
 * the message and what was typed (422); nothing is stored.
 */
function caseAction(ctx: AppContext, anchor: string, run: Action): RequestHandler {
  return async (req, res) => {
    const staff = staffOf(res);
    const actor: Actor = { id: staff.user.id, teamKeys: await staff.teamKeys() };
    const c = await openCase(ctx.db, actor.teamKeys, idParam(req));
    const body = (req.body ?? {}) as Record<string, unknown>;
    try {
      const notice = await ctx.db.transaction().execute((trx) => run(trx, actor, c, body, req));
      res.redirect(303, `${caseUrl(c.id)}?notice=${notice}#${anchor}`);
    } catch (err) {
      if (!(err instanceof CaseInputError)) throw err;
      await renderCase(ctx, res, c, { status: 422, errors: { [err.field]: err.message }, form: body });
    }
  };
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');

export const postStatus = (ctx: AppContext) =>
  caseAction(ctx, 'workflow', (db, actor, c, body) =>
    changeStatus(db, actor.id, c, { to: str(body['status']), outcome: str(body['outcome']), reason: body['reopen_reason'] }),
  );

export const postUrgency = (ctx: AppContext) =>
  caseAction(ctx, 'workflow', async (db, actor, c, body) => (await setUrgency(db, actor.id, c, body['urgent']), 'urgency'));

export const postAssignee = (ctx: AppContext) =>
  caseAction(ctx, 'workflow', async (db, actor, c, body) => (await setAssignee(db, actor.id, c, body['assignee']), 'assignee'));

export const postLabels = (ctx: AppContext) =>
  caseAction(ctx, 'workflow', async (db, actor, c, body) => (await setLabels(db, actor.id, c, body['labels']), 'labels'));

export function postLink(ctx: AppContext): RequestHandler {
  return caseAction(ctx, 'links-section', async (db, actor, c, body) => {
    // The other case must be one this caseworker can open too; anything else reads as "no such case".
    let other: OpenCase | null = null;
    try {
      other = await openCase(db, actor.teamKeys, str(body['link_case']).trim());
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 404)) throw err;
    }
    return (await linkCases(db, actor.id, c, other)) ? 'linked' : 'already_linked';
  });
}

export function postUnlink(ctx: AppContext): RequestHandler {
  return caseAction(ctx, 'links-section', async (db, actor, c, _body, req) => {
    const other = idParam(req, 'other');
    if (!UUID.test(other)) throw notFound();
    await unlinkCases(db, actor.id, c, other.toLowerCase());
    return 'unlinked';
  });
}

export const postNote = (ctx: AppContext) =>
  caseAction(ctx, 'notes-section', async (db, actor, c, body) => (await addNote(db, actor.id, c, body['note']), 'note'));

export const postMessage = (ctx: AppContext) =>
  caseAction(ctx, 'messages-section', async (db, actor, c, body) => (await sendMessage(db, actor.id, c, body['message']), 'message'));

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
      await renderCase(ctx, res, c, { status: 422, errors: { [err.field]: err.message }, form: body });
    }
  };
}

export function postReferral(ctx: AppContext): RequestHandler {
  return caseAction(ctx, 'referrals', async (db, actor, c, body) => {
    await recordReferral(db, actor.id, c, consentOf(c), referralForm(body));
    return 'referral';
  });
}
