import type { Request, RequestHandler, Response } from 'express';
import { audit } from '../audit/log.js';
import type { Db } from '../db/index.js';
import type { KeyPair } from '../crypto/index.js';
import { HttpError, notFound } from '../errors.js';
import { decryptEvidence } from '../reporting/evidence.js';
import { staffOf } from '../staff/context.js';
import type { AppContext } from '../web/context.js';
import { translator } from '../web/i18n.js';
import {
  DESTINATIONS,
  DESTINATION_LABELS,
  CRIME_REFERENCE_MAX,
  ClientGone,
  chosenNotes,
  openReferral,
  recordReferral,
  referralForm,
  referralsOf,
  today,
  writeBundle,
  type PackFacts,
} from './referral.js';
import {
  CaseInputError,
  HISTORY_LIMIT,
  LIMITS,
  NEXT_STATUSES,
  OUTCOMES,
  OUTCOME_LABELS,
  STATUS_LABELS,
  UUID,
  addNote,
  caseworkerOptions,
  changeStatus,
  consentOf,
  evidenceFile,
  evidenceList,
  historyOf,
  linkCases,
  linksOf,
  markViewed,
  notesOf,
  openCase,
  reportView,
  sendMessage,
  setAssignee,
  setLabels,
  setUrgency,
  threadOf,
  unlinkCases,
  type OpenCase,
} from './service.js';

/** Case page handlers. Each loads the case itself through openCase (P11); POSTs check CSRF first. */

const dateTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Europe/London' });
export const fmt = (d: Date | string) => dateTime.format(new Date(d));

const ACTION_LABELS: Record<string, string> = {
  'case.viewed': 'Viewed the case',
  'case.evidence_downloaded': 'Opened or downloaded a file',
  'case.status_changed': 'Changed the status',
  'case.reopened': 'Reopened the case',
  'case.urgency_changed': 'Changed the urgency',
  'case.assigned': 'Changed the assignee',
  'case.labels_changed': 'Changed the labels',
  'case.linked': 'Linked a case',
  'case.unlinked': 'Unlinked a case',
  'case.note_added': 'Added an internal note',
  'case.message_sent': 'Sent a message to the reporter',
  'case.referred': 'Recorded a referral',
  'case.referral_pack_viewed': 'Viewed a referral pack',
  'case.referral_bundle_downloaded': 'Downloaded a referral bundle',
};

const NOTICES: Record<string, string> = {
  status: 'The status is updated.',
  reopened: 'The case is reopened.',
  urgency: 'The urgency is updated.',
  assignee: 'The assignee is updated.',
  labels: 'The labels are updated.',
  linked: 'The cases are linked.',
  already_linked: 'These cases were already linked.',
  unlinked: 'The cases are no longer linked.',
  note: 'Your note is added.',
  message: 'Your message is sent. The reporter sees it when they next sign in with their receipt.',
  referral: 'The referral is recorded and the case is marked referred.',
};

type PageState = { status?: number; errors?: Record<string, string>; form?: Record<string, unknown>; notice?: string | null };

const caseUrl = (id: string) => `/staff/cases/${id}`;
const idParam = (req: Request, name = 'id') => String(req.params[name] ?? '');

async function load(ctx: AppContext, req: Request, res: Response): Promise<OpenCase> {
  return openCase(ctx.db, await staffOf(res).teamKeys(), idParam(req));
}

function historyEntry(names: Map<string, string>) {
  return (h: { seq: number; at: Date; action: string; details: unknown; actor_name: string | null }) => {
    const raw = h.details && typeof h.details === 'object' ? (h.details as Record<string, unknown>) : {};
    const details = Object.entries(raw).map(([key, value]) => {
      let text = value === null || value === undefined ? '–' : typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
      if ((key === 'from' || key === 'to') && typeof value === 'string') {
        text = h.action === 'case.assigned' ? (names.get(value) ?? value) : (STATUS_LABELS[value] ?? text);
      }
      if (key === 'outcome' && typeof value === 'string') text = OUTCOME_LABELS[value] ?? value;
      if (key === 'destination' && typeof value === 'string') text = DESTINATION_LABELS[value] ?? value;
      return { key, value: text };
    });
    return { seq: h.seq, at: h.at, actor: h.actor_name ?? 'System', action: ACTION_LABELS[h.action] ?? h.action, details };
  };
}

/** Everything the case page shows, decrypted for this response only. */
async function renderCase(ctx: AppContext, res: Response, c: OpenCase, state: PageState = {}) {
  const db = ctx.db;
  const row = c.row;
  const [report, evidence, notes, messages, referrals, links, history, caseworkers] = await Promise.all([
    reportView(db, c),
    evidenceList(db, c),
    notesOf(db, c),
    threadOf(db, c),
    referralsOf(db, c),
    linksOf(db, c),
    historyOf(db, c),
    caseworkerOptions(db, row.assignee_id),
  ]);
  const t = translator('en');
  const names = new Map(caseworkers.map((u) => [u.id, u.name]));
  const errors = state.errors ?? {};
  const form = state.form ?? {};
  const draft = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : '');
  res.status(state.status ?? 200).render('staff/case', {
    title: `${Object.keys(errors).length ? 'Error: ' : ''}Case ${row.id.slice(0, 8)}`,
    fmt,
    c: {
      id: row.id,
      shortId: row.id.slice(0, 8),
      status: row.status,
      statusLabel: STATUS_LABELS[row.status] ?? row.status,
      outcomeLabel: row.closing_outcome ? (OUTCOME_LABELS[row.closing_outcome] ?? row.closing_outcome) : null,
      urgent: row.urgent,
      assigneeId: row.assignee_id,
      labels: row.labels,
      createdAt: row.created_at,
      submittedAt: row.submitted_at,
      triagedAt: row.triaged_at,
      closedAt: row.closed_at,
      firstResponseAt: row.first_response_at,
    },
    report,
    consentLabel: report.consent ? t(`form.consent.options.${report.consent}`) : 'Unknown (the report could not be decrypted)',
    consentGiven: report.consent === 'yes',
    evidence: evidence.map((e) => e.item),
    notes,
    messages,
    referrals,
    links: links.map((l) => ({
      id: l.id,
      statusLabel: STATUS_LABELS[l.status] ?? l.status,
      urgent: l.urgent,
      categories: l.categories.map((code) => t(`categories.${code}.label`, { defaultValue: code })).join(', '),
      createdAt: l.created_at,
    })),
    history: history.map(historyEntry(names)),
    historyTruncated: history.length >= HISTORY_LIMIT,
    caseworkers,
    nextStatuses: (NEXT_STATUSES[row.status] ?? []).map((s) => ({ value: s, label: STATUS_LABELS[s]! })),
    outcomes: OUTCOMES.map((o) => ({ value: o, label: OUTCOME_LABELS[o]! })),
    destinations: DESTINATIONS.map((d) => ({ value: d, label: DESTINATION_LABELS[d]! })),
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
    await ctx.db.transaction().execute((trx) => markViewed(trx, staffOf(res).user.id, c));
    const notice = NOTICES[String(req.query['notice'] ?? '')] ?? null;
    await renderCase(ctx, res, c, { notice });
  };
}

type Actor = { id: string; teamKeys: Map<number, KeyPair> };
type Action = (db: Db, actor: Actor, c: OpenCase, body: Record<string, unknown>, req: Request) => Promise<string>;

/**
 * A POST on a case: CSRF, the case (404 unless openable), then the change and
 * its audit entry in one transaction. Refused input re-renders the page with
 * the message and what was typed (422); nothing is stored.
 */
function caseAction(ctx: AppContext, anchor: string, run: Action): RequestHandler {
  return async (req, res) => {
    ctx.csrf.check(req);
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

export function postReferral(ctx: AppContext): RequestHandler {
  return caseAction(ctx, 'referrals', async (db, actor, c, body) => {
    await recordReferral(db, actor.id, c, consentOf(c), referralForm(body));
    return 'referral';
  });
}

// ---------------------------------------------------------------- files and packs

/** RFC 5987 / 6266: an ASCII fallback name plus the exact UTF-8 name. */
export function contentDisposition(kind: 'attachment' | 'inline', name: string): string {
  const ascii = name.replace(/[^A-Za-z0-9._ -]/g, '_').replace(/^[.\s]+/, '') || 'file';
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** Only what the upload pipeline writes after re-encoding an image (never SVG or anything scriptable). */
const INLINE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif']);

export function downloadEvidence(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const c = await load(ctx, req, res);
    const file = await evidenceFile(ctx.db, c, idParam(req, 'eid'));
    if (!file) throw notFound();
    const inline = req.query['inline'] === '1' && INLINE_TYPES.has(file.meta.type);
    // Recorded before the first byte leaves, so an interrupted download is still on record.
    await audit(ctx.db, { action: 'case.evidence_downloaded', actorId: staffOf(res).user.id, caseId: c.id, details: { evidenceId: file.row.id, inline } });
    res.setHeader('Content-Type', inline ? file.meta.type : 'application/octet-stream');
    res.setHeader('Content-Length', String(file.meta.size));
    res.setHeader('Content-Disposition', contentDisposition(inline ? 'inline' : 'attachment', file.meta.name));
    // Even opened on its own, the file can run nothing and load nothing.
    res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    for await (const chunk of decryptEvidence(ctx.db, c.dataKey, file.row)) {
      if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
    }
    res.end();
  };
}

async function packFacts(ctx: AppContext, c: OpenCase, consent: string | null): Promise<PackFacts> {
  const inst = await ctx.installation();
  return {
    orgName: inst?.orgName ?? 'Harbour',
    caseId: c.id,
    consentLabel: consent ? translator('en')(`form.consent.options.${consent}`) : 'Unknown (the report could not be decrypted)',
    generatedAt: new Date(),
    fmt,
  };
}

export function showPack(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const c = await load(ctx, req, res);
    const referral = await openReferral(ctx.db, c, idParam(req, 'rid'));
    const [report, notes, evidence] = await Promise.all([reportView(ctx.db, c), chosenNotes(ctx.db, c, referral), evidenceList(ctx.db, c)]);
    await audit(ctx.db, { action: 'case.referral_pack_viewed', actorId: staffOf(res).user.id, caseId: c.id, details: { referralId: referral.id } });
    res.render('staff/referral-pack', {
      title: `Referral pack, case ${c.id.slice(0, 8)}`,
      fmt,
      facts: await packFacts(ctx, c, report.consent),
      referral,
      report,
      notes,
      evidence: evidence.map((e) => e.item),
    });
  };
}

export function downloadBundle(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const c = await load(ctx, req, res);
    const referral = await openReferral(ctx.db, c, idParam(req, 'rid'));
    const [report, notes] = await Promise.all([reportView(ctx.db, c), chosenNotes(ctx.db, c, referral)]);
    await audit(ctx.db, { action: 'case.referral_bundle_downloaded', actorId: staffOf(res).user.id, caseId: c.id, details: { referralId: referral.id } });
    res.setHeader('Content-Type', 'application/zip');
    res.setHeader('Content-Disposition', contentDisposition('attachment', `referral-${c.id.slice(0, 8)}-${referral.referredOn}.zip`));
    try {
      await writeBundle(ctx.db, c, await packFacts(ctx, c, report.consent), report, referral, notes, res);
    } catch (err) {
      if (!(err instanceof ClientGone)) throw err;
    }
  };
}
