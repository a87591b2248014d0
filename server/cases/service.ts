import { randomUUID } from 'node:crypto';
import { audit } from '../audit/log.js';
import { DecryptionError, decryptJson, decryptText, encryptField, type FieldContext, type KeyPair } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import { notFound } from '../errors.js';
import { readEvidenceMeta, type EvidenceMeta } from '../reporting/evidence.js';
import { evidenceFileName, nameMismatch } from '../reporting/evidence-names.js';
import { MAX_EXTENSION_DAYS, deleteUntriaged, deletionDateOf, extendRetention } from '../retention/purge.js';
import { listItem, listLabel, loadLists, type ListItem } from '../settings/lists.js';
import type { ReportDetails } from '../reporting/service.js';
import { checkText, type ReportInput } from '../reporting/validation.js';
import { openDataKey } from '../staff/keys.js';
import { staffTranslator, translator } from '../i18n/index.js';
import * as q from './queries.js';

/**
 * One case as a caseworker sees and changes it. Everything decrypted here
 * lives in the request's memory only; nothing is logged, and audit entries
 * carry ids and codes, never what anyone wrote.
 */

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const STATUSES = ['new', 'triaged', 'in_progress', 'referred', 'closed'] as const;
export const OUTCOMES = ['resolved', 'referred_to_police', 'support_given', 'no_further_action', 'unable_to_contact', 'duplicate', 'not_tnr'] as const;

export const isStatus = (code: string): boolean => (STATUSES as readonly string[]).includes(code);
export const isOutcome = (code: string): boolean => (OUTCOMES as readonly string[]).includes(code);

/** A status's name on the staff pages (locales/staff/en.json); an unknown code is shown as it is. */
export function statusLabel(code: string): string {
  return isStatus(code) ? staffTranslator()(`common.statuses.${code}`) : code;
}

/** A closing outcome's name on the staff pages; an unknown code is shown as it is. */
export function outcomeLabel(code: string): string {
  return isOutcome(code) ? staffTranslator()(`common.outcomes.${code}`) : code;
}

/**
 * Forward moves only. 'referred' is reached by recording a referral (which
 * needs consent or an override reason), never by the status form; a closed
 * case comes back only through reopen, which needs a reason.
 */
export const NEXT_STATUSES: Record<string, readonly string[]> = {
  new: ['triaged', 'in_progress', 'closed'],
  triaged: ['in_progress', 'closed'],
  in_progress: ['closed'],
  referred: ['closed'],
  closed: [],
};

export const LIMITS = { note: 10_000, message: 10_000, reason: 2_000 } as const;

/** A refused input: the field it concerns and the message shown beside it (422, never 500). */
export class CaseInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'CaseInputError';
  }
}

const reportField = (id: string, field: string): FieldContext => ({ table: 'reports', id, field });
export const noteBody = (id: string): FieldContext => ({ table: 'case_notes', id, field: 'body' });
const messageBody = (id: string): FieldContext => ({ table: 'messages', id, field: 'body' });

export type CaseRow = NonNullable<Awaited<ReturnType<typeof q.getCase>>>;
export type OpenCase = { id: string; row: CaseRow; dataKey: Uint8Array };

/**
 * The one door to a case (P11): a well-formed id of a submitted case whose
 * data key this caseworker's team keys open. Everything else — a malformed
 * or unknown id, a pending report, a key the user does not hold, a sealed
 * key that fails to open — is the same 404.
 */
export async function openCase(db: Db, teamKeys: Map<number, KeyPair>, rawId: string): Promise<OpenCase> {
  if (!UUID.test(rawId)) throw notFound('case_not_found');
  const row = await q.getCase(db, rawId.toLowerCase());
  if (!row) throw notFound('case_not_found');
  let dataKey: Uint8Array | null;
  try {
    dataKey = openDataKey(teamKeys, row);
  } catch (err) {
    if (err instanceof DecryptionError) throw notFound('case_not_found');
    throw err;
  }
  if (!dataKey) throw notFound('case_not_found');
  return { id: row.id, row, dataKey };
}

/** A ciphertext that fails to authenticate (P8) shows as unreadable rather than failing the whole page. */
export function readable<T>(decrypt: () => T): T | null {
  try {
    return decrypt();
  } catch (err) {
    if (err instanceof DecryptionError || err instanceof SyntaxError) return null;
    throw err;
  }
}

// ---------------------------------------------------------------- the report

export type ReportField = { label: string; value: string | string[] | null; dir?: 'auto' | 'ltr'; long?: boolean };
export type ReportView = { narrative: string | null; consent: string | null; fields: ReportField[] };

const monthText = (d: string | null) => {
  if (!d) return null;
  const [y, m] = d.split('-');
  return `${translator('en')(`months.${Number(m)}`)} ${y}`;
};

/** The decrypted report as labelled English fields: one shape for the case page, the pack and report.txt. */
export async function reportView(db: Db, c: OpenCase): Promise<ReportView> {
  const t = translator('en');
  const st = staffTranslator();
  const { row, dataKey: k, id } = c;
  const lists = await loadLists(db);
  const label = (list: 'region' | 'community' | 'state', code: string) =>
    listLabel(t, 'en', list, listItem(lists, list, code));
  const option = (name: string, code: string) => t(`form.${name}.options.${code}`, { defaultValue: code });
  const narrative = readable(() => decryptText(k, row.narrative, reportField(id, 'narrative')));
  const details = readable(() => decryptJson<ReportDetails>(k, row.details, reportField(id, 'details')));
  const contact = row.contact ? readable(() => decryptJson<NonNullable<ReportInput['contact']>>(k, row.contact!, reportField(id, 'contact'))) : null;
  const unreadable = st('common.unreadable');
  const when = [monthText(row.incident_from), monthText(row.incident_to)].filter(Boolean).join(' – ') || null;
  const fields: ReportField[] = [
    { label: st('case.report.fields.urgent'), value: row.urgent ? st('case.report.fields.urgent_yes') : st('common.no') },
    { label: st('case.report.fields.categories'), value: row.categories.map((code) => t(`categories.${code}.label`, { defaultValue: code })) },
    { label: st('case.report.fields.narrative'), value: narrative ?? unreadable, dir: 'auto', long: true },
    { label: st('case.report.fields.when'), value: when },
    { label: st('case.report.fields.ongoing'), value: details ? option('ongoing', details.ongoing) : unreadable },
    { label: st('case.report.fields.region'), value: label('region', row.region) },
    { label: st('case.report.fields.targeted'), value: details ? option('targeted', details.targeted) : unreadable },
    { label: st('case.report.fields.community'), value: label('community', row.community) },
    { label: st('case.report.fields.state'), value: label('state', row.suspected_state) },
    { label: st('case.report.fields.state_reason'), value: details ? details.stateReason || null : unreadable, dir: 'auto', long: true },
    { label: st('case.report.fields.perpetrator'), value: details ? option('perpetrator', details.perpetrator) : unreadable },
    { label: st('case.report.fields.channels'), value: details ? details.channels.map((ch) => option('channels', ch)) : unreadable },
    { label: st('case.report.fields.links'), value: details ? details.links : unreadable, dir: 'ltr' },
    { label: st('case.report.fields.consent'), value: details ? option('consent', details.consent) : unreadable },
    { label: st('case.report.fields.follow_up'), value: details ? option('follow_up', details.followUp) : unreadable },
  ];
  if (row.contact) {
    fields.push({
      label: st('case.report.fields.contact'),
      value: contact
        ? st('case.report.fields.contact_value', {
            method: option('contact_method', contact.method),
            value: contact.value,
            language: option('contact_language', contact.language),
          })
        : unreadable,
      dir: 'auto',
    });
  }
  return { narrative, consent: details?.consent ?? null, fields };
}

/** The reporter's answer to "may we pass this to the police?" ('yes', 'no', 'talk_first'); null if unreadable. */
export function consentOf(c: OpenCase): string | null {
  return readable(() => decryptJson<ReportDetails>(c.dataKey, c.row.details, reportField(c.id, 'details')).consent) ?? null;
}

// ---------------------------------------------------------------- evidence, notes, thread

/**
 * A file as the staff pages list it. `fileName` is ours (evidence-3.txt), the
 * only name it is downloaded or zipped under; `meta.name` is the reporter's,
 * shown as text, with `nameMismatch` when its extension does not fit the type.
 */
export type EvidenceItem = {
  id: string;
  n: number;
  meta: EvidenceMeta | null;
  fileName: string | null;
  nameMismatch: boolean;
  image: boolean;
  addedBy: string;
  createdAt: Date;
};

export async function evidenceList(db: Db, c: OpenCase) {
  const rows = await q.listEvidence(db, c.id);
  return rows.map((e, i) => {
    const meta = e.meta ? readable(() => readEvidenceMeta(c.dataKey, e.id, e.meta!)) : null;
    const item: EvidenceItem = {
      id: e.id,
      n: i + 1,
      meta,
      fileName: meta ? evidenceFileName(i + 1, meta) : null,
      nameMismatch: meta ? nameMismatch(meta) : false,
      image: Boolean(meta?.type.startsWith('image/')),
      addedBy: e.added_by,
      createdAt: e.created_at,
    };
    return { item, row: e };
  });
}

export type NoteItem = { id: string; author: string; body: string | null; createdAt: Date };

export async function notesOf(db: Db, c: OpenCase): Promise<NoteItem[]> {
  const rows = await q.listNotes(db, c.id);
  return rows.map((n) => ({
    id: n.id,
    author: n.author_name ?? staffTranslator()('common.former_staff'),
    body: readable(() => decryptText(c.dataKey, n.body, noteBody(n.id))),
    createdAt: n.created_at,
  }));
}

export type MessageItem = { id: string; author: 'reporter' | 'staff'; authorName: string; body: string | null; createdAt: Date };

export async function threadOf(db: Db, c: OpenCase): Promise<MessageItem[]> {
  const rows = await q.listThread(db, c.id);
  return rows.map((m) => ({
    id: m.id,
    author: m.author,
    authorName: m.author === 'reporter' ? staffTranslator()('case.messages.reporter') : (m.author_name ?? staffTranslator()('case.messages.staff_fallback')),
    body: readable(() => decryptText(c.dataKey, m.body, messageBody(m.id))),
    createdAt: m.created_at,
  }));
}

// ---------------------------------------------------------------- changes (the caller owns the transaction)

/** The free-text fields of the case page; each has its own messages in the staff locale file. */
export const TEXT_FIELDS = ['reopen_reason', 'note', 'message', 'retain_reason', 'crime_reference', 'override_reason'] as const;
export type TextField = (typeof TEXT_FIELDS)[number];

/** Free text from a form: required or not, at most `max` characters, no control or replacement characters. */
export function textInput(raw: unknown, field: TextField, max: number, required = true): string {
  // A repeated field arrives as an array: not text this form sent, so treated as empty.
  const value = (typeof raw === 'string' ? raw : '').replace(/\r\n/g, '\n').trim();
  const problem = checkText(value, max, required);
  if (!problem) return value;
  const st = staffTranslator();
  if (problem.key === 'required') throw new CaseInputError(field, st(`case.errors.text.${field}.required`));
  if (problem.key === 'too_long') throw new CaseInputError(field, st(`case.errors.text.${field}.too_long`, { max: max.toLocaleString('en-GB') }));
  throw new CaseInputError(field, st(`case.errors.text.${field}.unreadable`));
}

async function addNoteRow(db: Db, c: OpenCase, actorId: string, body: string): Promise<string> {
  const id = randomUUID();
  await q.insertNote(db, { id, report_id: c.id, author_id: actorId, body: encryptField(c.dataKey, body, noteBody(id)) });
  return id;
}

/** Moves the case along the workflow; 'reopened' or 'status' says which happened. */
export async function changeStatus(
  db: Db,
  actorId: string,
  c: OpenCase,
  input: { to: string; outcome: string; reason: unknown },
): Promise<'reopened' | 'status'> {
  const current = await q.lockWorkflow(db, c.id);
  if (!current) throw notFound('case_not_found');
  const st = staffTranslator();
  const from = current.status;
  const to = input.to;
  if (from === 'closed') {
    if (to !== 'in_progress') throw new CaseInputError('status', st('case.errors.closed_reopen_only'));
    const reason = textInput(input.reason, 'reopen_reason', LIMITS.reason);
    const noteId = await addNoteRow(db, c, actorId, st('case.notes.reopened', { reason }));
    await q.updateWorkflow(db, c.id, { status: 'in_progress', closing_outcome: null, closed_at: null, triaged: 'set_if_null' });
    await audit(db, { action: 'case.reopened', actorId, caseId: c.id, details: { from, to, outcome: current.closing_outcome, noteId } });
    return 'reopened';
  }
  if (!isStatus(to)) throw new CaseInputError('status', st('case.errors.choose_status'));
  if (to === from) throw new CaseInputError('status', st('case.errors.already_status', { status: st(`case.errors.already.${to}`) }));
  if (to === 'referred') throw new CaseInputError('status', st('case.errors.referred_by_referral'));
  if (!(NEXT_STATUSES[from] ?? []).includes(to)) {
    throw new CaseInputError('status', st('case.errors.cannot_move', { from: statusLabel(from), to: statusLabel(to) }));
  }
  let outcome: string | null = null;
  if (to === 'closed') {
    if (!isOutcome(input.outcome)) throw new CaseInputError('outcome', st('case.errors.choose_outcome'));
    outcome = input.outcome;
  }
  await q.updateWorkflow(db, c.id, {
    status: to,
    ...(to === 'closed' ? { closing_outcome: outcome, closed_at: new Date() } : {}),
    triaged: 'set_if_null', // any move out of 'new' means someone has triaged it
  });
  await audit(db, { action: 'case.status_changed', actorId, caseId: c.id, details: { from, to, outcome } });
  return 'status';
}

export async function setUrgency(db: Db, actorId: string, c: OpenCase, raw: unknown): Promise<void> {
  if (raw !== 'yes' && raw !== 'no') throw new CaseInputError('urgent', staffTranslator()('case.errors.choose_urgency'));
  const current = await q.lockWorkflow(db, c.id);
  if (!current) throw notFound('case_not_found');
  const urgent = raw === 'yes';
  if (current.urgent === urgent) return;
  await q.updateWorkflow(db, c.id, { urgent });
  await audit(db, { action: 'case.urgency_changed', actorId, caseId: c.id, details: { from: current.urgent, to: urgent } });
}

export async function setAssignee(db: Db, actorId: string, c: OpenCase, raw: unknown): Promise<void> {
  const value = String(raw ?? '');
  let assignee: string | null = null;
  if (value) {
    const active = await q.activeCaseworkers(db);
    if (!UUID.test(value) || !active.some((u) => u.id === value.toLowerCase())) {
      throw new CaseInputError('assignee', staffTranslator()('case.errors.choose_assignee'));
    }
    assignee = value.toLowerCase();
  }
  const current = await q.lockWorkflow(db, c.id);
  if (!current) throw notFound('case_not_found');
  if (current.assignee_id === assignee) return;
  await q.updateWorkflow(db, c.id, { assignee_id: assignee });
  await audit(db, { action: 'case.assigned', actorId, caseId: c.id, details: { from: current.assignee_id, to: assignee } });
}

/**
 * The labels a caseworker ticked, as codes of the administrator's label list
 * in the list's order. Each must be an offered item, or one the case already
 * has (a label retired since stays until someone unticks it). Anything else
 * (a typed word, a retired or unknown code, `__proto__`) is refused: no
 * caseworker can put their own words into this plaintext column.
 */
export function chosenLabels(raw: unknown, items: readonly ListItem[], current: readonly string[]): string[] {
  const posted = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const picked = new Set<string>();
  for (const code of posted) {
    if (typeof code !== 'string') throw new CaseInputError('labels', staffTranslator()('case.errors.label_unknown'));
    if (code !== '') picked.add(code);
  }
  const known = new Map(items.map((i) => [i.code, i]));
  for (const code of picked) {
    const item = known.get(code);
    const allowed = current.includes(code) || (item !== undefined && !item.retired);
    if (!allowed) throw new CaseInputError('labels', staffTranslator()('case.errors.label_unknown'));
  }
  // Codes the list no longer has at all (none today: items are retired, never deleted) keep their place at the end.
  return [...items.map((i) => i.code).filter((code) => picked.has(code)), ...[...picked].filter((code) => !known.has(code))];
}

export async function setLabels(db: Db, actorId: string, c: OpenCase, raw: unknown): Promise<void> {
  const current = await q.lockWorkflow(db, c.id);
  if (!current) throw notFound('case_not_found');
  const labels = chosenLabels(raw, (await loadLists(db)).label, current.labels);
  if (current.labels.length === labels.length && current.labels.every((l, i) => l === labels[i])) return;
  await q.updateWorkflow(db, c.id, { labels });
  await audit(db, { action: 'case.labels_changed', actorId, caseId: c.id, details: { count: labels.length } });
}

/** Links two cases; both are audited, so each case's history shows the link. */
export async function linkCases(db: Db, actorId: string, c: OpenCase, other: OpenCase | null): Promise<boolean> {
  if (!other) throw new CaseInputError('link_case', staffTranslator()('case.errors.link_unknown'));
  if (other.id === c.id) throw new CaseInputError('link_case', staffTranslator()('case.errors.link_self'));
  if (!(await q.insertLink(db, c.id, other.id, actorId))) return false;
  await audit(db, { action: 'case.linked', actorId, caseId: c.id, details: { otherCaseId: other.id } });
  await audit(db, { action: 'case.linked', actorId, caseId: other.id, details: { otherCaseId: c.id } });
  return true;
}

export async function unlinkCases(db: Db, actorId: string, c: OpenCase, otherId: string): Promise<void> {
  if (!(await q.deleteLink(db, c.id, otherId))) return;
  await audit(db, { action: 'case.unlinked', actorId, caseId: c.id, details: { otherCaseId: otherId } });
  await audit(db, { action: 'case.unlinked', actorId, caseId: otherId, details: { otherCaseId: c.id } });
}

export async function addNote(db: Db, actorId: string, c: OpenCase, raw: unknown): Promise<string> {
  const body = textInput(raw, 'note', LIMITS.note);
  const noteId = await addNoteRow(db, c, actorId, body);
  await audit(db, { action: 'case.note_added', actorId, caseId: c.id, details: { noteId } });
  return noteId;
}

/** A reply to the reporter, encrypted like theirs (the receipt opens the same data key, P5). */
export async function sendMessage(db: Db, actorId: string, c: OpenCase, raw: unknown): Promise<string> {
  const body = textInput(raw, 'message', LIMITS.message);
  const id = randomUUID();
  await q.insertStaffMessage(db, { id, report_id: c.id, author_id: actorId, body: encryptField(c.dataKey, body, messageBody(id)) });
  await audit(db, { action: 'case.message_sent', actorId, caseId: c.id, details: { messageId: id } });
  return id;
}

/**
 * Showing the case page: clears "unread" (staff_seen_at) and records who
 * looked. `refused` names the field when the page is a re-render after
 * refused input (a code, never what was typed).
 */
export async function markViewed(db: Db, actorId: string, c: OpenCase, refused: string | null = null): Promise<void> {
  await q.markSeen(db, c.id);
  await audit(db, { action: 'case.viewed', actorId, caseId: c.id, ...(refused ? { details: { refused } } : {}) });
}

export async function caseworkerOptions(db: Db, currentAssignee: string | null) {
  const active = (await q.activeCaseworkers(db)).map((u) => ({ id: u.id, name: u.display_name }));
  if (currentAssignee && !active.some((u) => u.id === currentAssignee)) {
    // Assigned to someone since deactivated: still shown, so the form does not silently unassign.
    const gone = await q.findUserName(db, currentAssignee);
    const st = staffTranslator();
    active.unshift({ id: currentAssignee, name: st('common.deactivated_user', { name: gone?.display_name ?? st('common.unknown') }) });
  }
  return active;
}

export const linksOf = (db: Db, c: OpenCase) => q.listLinks(db, c.id);
export const historyOf = (db: Db, c: OpenCase) => q.listHistory(db, c.id);
export const HISTORY_LIMIT = q.HISTORY_LIMIT;

/** Reads an evidence file's row and metadata for download; null when it is not this case's or cannot be opened. */
export async function evidenceFile(db: Db, c: OpenCase, rawId: string) {
  if (!UUID.test(rawId)) return null;
  const row = await q.getEvidence(db, c.id, rawId.toLowerCase());
  if (!row?.meta) return null;
  const meta = readable(() => readEvidenceMeta(c.dataKey, row.id, row.meta!));
  return meta ? { row, meta } : null;
}

// ---------------------------------------------------------------- retention

/**
 * Keeps a closed case past its retention date, until a chosen day (at most
 * MAX_EXTENSION_DAYS ahead). The reason is an encrypted internal note; the
 * audit entry holds the date and the note's id.
 */
export async function keepLonger(db: Db, actorId: string, c: OpenCase, input: { until: unknown; reason: unknown }, closedRetentionDays: number): Promise<void> {
  const st = staffTranslator();
  const current = await q.lockWorkflow(db, c.id);
  if (!current) throw notFound('case_not_found');
  const due = await deletionDateOf(db, c.id, closedRetentionDays);
  if (!due) throw new CaseInputError('retain_until', st('case.errors.retention_not_closed'));
  const raw = typeof input.until === 'string' ? input.until.trim() : '';
  const until = /^\d{4}-\d{2}-\d{2}$/.test(raw) ? new Date(`${raw}T23:59:59Z`) : null;
  if (!until || Number.isNaN(until.getTime()) || until.toISOString().slice(0, 10) !== raw) {
    throw new CaseInputError('retain_until', st('case.errors.retention_date'));
  }
  if (until <= due) throw new CaseInputError('retain_until', st('case.errors.retention_after', { date: due.toISOString().slice(0, 10) }));
  if (until.getTime() > Date.now() + MAX_EXTENSION_DAYS * 86_400_000) {
    throw new CaseInputError('retain_until', st('case.errors.retention_max', { count: MAX_EXTENSION_DAYS / 365 }));
  }
  const reason = textInput(input.reason, 'retain_reason', LIMITS.reason);
  const noteId = await addNoteRow(db, c, actorId, st('case.notes.kept_until', { date: raw, reason }));
  await extendRetention(db, c.id, until);
  await audit(db, { action: 'case.retention_extended', actorId, caseId: c.id, details: { until: raw, noteId } });
}

/**
 * Deletes a never-triaged report as spam, with every row tied to it (keys,
 * fields, evidence chunks, messages, sessions). Needs an explicit
 * confirmation; a case someone has triaged cannot be deleted this way.
 */
export async function deleteAsSpam(db: Db, actorId: string, c: OpenCase, confirm: unknown): Promise<void> {
  if (confirm !== 'yes') throw new CaseInputError('confirm_spam', staffTranslator()('case.errors.spam_confirm'));
  const current = await q.lockWorkflow(db, c.id);
  if (!current) throw notFound('case_not_found');
  if (current.status !== 'new' || current.triaged_at !== null) {
    throw new CaseInputError('confirm_spam', staffTranslator()('case.errors.spam_triaged'));
  }
  if (!(await deleteUntriaged(db, c.id))) throw notFound('case_not_found');
  await audit(db, { action: 'case.deleted_as_spam', actorId, caseId: c.id });
}

