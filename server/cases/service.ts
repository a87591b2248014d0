import { randomUUID } from 'node:crypto';
import { audit } from '../audit/log.js';
import { DecryptionError, decryptJson, decryptText, encryptField, type FieldContext, type KeyPair } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import { notFound } from '../errors.js';
import { readEvidenceMeta, type EvidenceMeta } from '../reporting/evidence.js';
import { listLabel, loadLists } from '../reporting/lists.js';
import type { ReportDetails } from '../reporting/service.js';
import { checkText, type ReportInput } from '../reporting/validation.js';
import { openDataKey } from '../staff/keys.js';
import { translator } from '../web/i18n.js';
import * as q from './queries.js';

/**
 * One case as a caseworker sees and changes it. Everything decrypted here
 * lives in the request's memory only; nothing is logged, and audit entries
 * carry ids and codes, never what anyone wrote.
 */

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const STATUSES = ['new', 'triaged', 'in_progress', 'referred', 'closed'] as const;
export const STATUS_LABELS: Record<string, string> = {
  new: 'New',
  triaged: 'Triaged',
  in_progress: 'In progress',
  referred: 'Referred',
  closed: 'Closed',
};
export const OUTCOMES = ['resolved', 'referred_to_police', 'support_given', 'no_further_action', 'unable_to_contact', 'duplicate', 'not_tnr'] as const;
export const OUTCOME_LABELS: Record<string, string> = {
  resolved: 'Resolved',
  referred_to_police: 'Referred to police',
  support_given: 'Support given',
  no_further_action: 'No further action',
  unable_to_contact: 'Unable to contact the reporter',
  duplicate: 'Duplicate of another case',
  not_tnr: 'Not transnational repression',
};

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

export const LIMITS = { note: 10_000, message: 10_000, reason: 2_000, label: 40, labels: 20 } as const;

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
  const { row, dataKey: k, id } = c;
  const lists = await loadLists(db);
  const label = (list: 'region' | 'community' | 'state', code: string) =>
    listLabel(t, 'en', list, lists[list].find((i) => i.code === code) ?? code);
  const option = (name: string, code: string) => t(`form.${name}.options.${code}`, { defaultValue: code });
  const narrative = readable(() => decryptText(k, row.narrative, reportField(id, 'narrative')));
  const details = readable(() => decryptJson<ReportDetails>(k, row.details, reportField(id, 'details')));
  const contact = row.contact ? readable(() => decryptJson<NonNullable<ReportInput['contact']>>(k, row.contact!, reportField(id, 'contact'))) : null;
  const unreadable = 'This could not be decrypted: it may have been altered.';
  const when = [monthText(row.incident_from), monthText(row.incident_to)].filter(Boolean).join(' – ') || null;
  const fields: ReportField[] = [
    { label: 'Urgent', value: row.urgent ? 'Yes: marked as danger now' : 'No' },
    { label: 'What happened (categories)', value: row.categories.map((code) => t(`categories.${code}.label`, { defaultValue: code })) },
    { label: 'Account in the reporter’s words', value: narrative ?? unreadable, dir: 'auto', long: true },
    { label: 'When', value: when },
    { label: 'Still happening', value: details ? option('ongoing', details.ongoing) : unreadable },
    { label: 'Where', value: label('region', row.region) },
    { label: 'Who was targeted', value: details ? option('targeted', details.targeted) : unreadable },
    { label: 'Community', value: label('community', row.community) },
    { label: 'Suspected state', value: label('state', row.suspected_state) },
    { label: 'Why a state is thought to be involved', value: details ? details.stateReason || null : unreadable, dir: 'auto', long: true },
    { label: 'Who did it', value: details ? option('perpetrator', details.perpetrator) : unreadable },
    { label: 'How they reached the reporter', value: details ? details.channels.map((ch) => option('channels', ch)) : unreadable },
    { label: 'Links', value: details ? details.links : unreadable, dir: 'ltr' },
    { label: 'Consent to a police referral', value: details ? option('consent', details.consent) : unreadable },
    { label: 'Replies', value: details ? option('follow_up', details.followUp) : unreadable },
  ];
  if (row.contact) {
    fields.push({
      label: 'Contact',
      value: contact
        ? `${option('contact_method', contact.method)}: ${contact.value} (replies in ${option('contact_language', contact.language)})`
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

export type EvidenceItem = { id: string; n: number; meta: EvidenceMeta | null; image: boolean; addedBy: string; createdAt: Date };

export async function evidenceList(db: Db, c: OpenCase) {
  const rows = await q.listEvidence(db, c.id);
  return rows.map((e, i) => {
    const meta = e.meta ? readable(() => readEvidenceMeta(c.dataKey, e.id, e.meta!)) : null;
    return {
      item: { id: e.id, n: i + 1, meta, image: Boolean(meta?.type.startsWith('image/')), addedBy: e.added_by, createdAt: e.created_at } satisfies EvidenceItem,
      row: e,
    };
  });
}

export type NoteItem = { id: string; author: string; body: string | null; createdAt: Date };

export async function notesOf(db: Db, c: OpenCase): Promise<NoteItem[]> {
  const rows = await q.listNotes(db, c.id);
  return rows.map((n) => ({
    id: n.id,
    author: n.author_name ?? 'A former staff member',
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
    authorName: m.author === 'reporter' ? 'Reporter' : (m.author_name ?? 'Staff'),
    body: readable(() => decryptText(c.dataKey, m.body, messageBody(m.id))),
    createdAt: m.created_at,
  }));
}

// ---------------------------------------------------------------- changes (the caller owns the transaction)

/** Free text from a form: required or not, at most `max` characters, no control or replacement characters. */
export function textInput(raw: unknown, field: string, what: string, max: number, required = true): string {
  // A repeated field arrives as an array: not text this form sent, so treated as empty.
  const value = (typeof raw === 'string' ? raw : '').replace(/\r\n/g, '\n').trim();
  const problem = checkText(value, max, required);
  if (problem?.key === 'required') throw new CaseInputError(field, `Enter ${what}.`);
  if (problem?.key === 'too_long') throw new CaseInputError(field, `Keep ${what} under ${max.toLocaleString('en-GB')} characters.`);
  if (problem) throw new CaseInputError(field, `${what[0]!.toUpperCase()}${what.slice(1)} contains characters that could not be read. Type it again.`);
  return value;
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
  const from = current.status;
  const to = input.to;
  if (from === 'closed') {
    if (to !== 'in_progress') throw new CaseInputError('status', 'A closed case can only be reopened.');
    const reason = textInput(input.reason, 'reopen_reason', 'a reason for reopening the case', LIMITS.reason);
    const noteId = await addNoteRow(db, c, actorId, `Reopened: ${reason}`);
    await q.updateWorkflow(db, c.id, { status: 'in_progress', closing_outcome: null, closed_at: null, triaged: 'set_if_null' });
    await audit(db, { action: 'case.reopened', actorId, caseId: c.id, details: { from, to, outcome: current.closing_outcome, noteId } });
    return 'reopened';
  }
  if (!(STATUSES as readonly string[]).includes(to)) throw new CaseInputError('status', 'Choose a new status.');
  if (to === from) throw new CaseInputError('status', `The case is already ${STATUS_LABELS[to]!.toLowerCase()}.`);
  if (to === 'referred') throw new CaseInputError('status', 'Record a referral in the referral section to mark the case referred.');
  if (!(NEXT_STATUSES[from] ?? []).includes(to)) {
    throw new CaseInputError('status', `A case cannot move from ${STATUS_LABELS[from] ?? from} to ${STATUS_LABELS[to]}.`);
  }
  let outcome: string | null = null;
  if (to === 'closed') {
    if (!(OUTCOMES as readonly string[]).includes(input.outcome)) throw new CaseInputError('outcome', 'Choose a closing outcome to close the case.');
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
  if (raw !== 'yes' && raw !== 'no') throw new CaseInputError('urgent', 'Choose whether the case is urgent.');
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
      throw new CaseInputError('assignee', 'Choose an active caseworker, or nobody.');
    }
    assignee = value.toLowerCase();
  }
  const current = await q.lockWorkflow(db, c.id);
  if (!current) throw notFound('case_not_found');
  if (current.assignee_id === assignee) return;
  await q.updateWorkflow(db, c.id, { assignee_id: assignee });
  await audit(db, { action: 'case.assigned', actorId, caseId: c.id, details: { from: current.assignee_id, to: assignee } });
}

/** Comma-separated labels: trimmed, inner spaces collapsed, duplicates (ignoring case) dropped. */
export function parseLabels(raw: unknown): string[] {
  const text = typeof raw === 'string' ? raw : '';
  if (checkText(text.trim(), 2_000, false)) throw new CaseInputError('labels', 'Labels contain characters that could not be read, or are too long.');
  const seen = new Set<string>();
  const labels: string[] = [];
  for (const part of text.split(',')) {
    const label = part.replace(/\s+/g, ' ').trim();
    if (!label || seen.has(label.toLowerCase())) continue;
    if (Array.from(label).length > LIMITS.label) throw new CaseInputError('labels', `Each label can have at most ${LIMITS.label} characters.`);
    seen.add(label.toLowerCase());
    labels.push(label);
  }
  if (labels.length > LIMITS.labels) throw new CaseInputError('labels', `A case can have at most ${LIMITS.labels} labels.`);
  return labels;
}

export async function setLabels(db: Db, actorId: string, c: OpenCase, raw: unknown): Promise<void> {
  const labels = parseLabels(raw);
  const current = await q.lockWorkflow(db, c.id);
  if (!current) throw notFound('case_not_found');
  if (current.labels.length === labels.length && current.labels.every((l, i) => l === labels[i])) return;
  await q.updateWorkflow(db, c.id, { labels });
  // Only the count: a label typed by mistake (a name) must not live on in the append-only log.
  await audit(db, { action: 'case.labels_changed', actorId, caseId: c.id, details: { count: labels.length } });
}

/** Links two cases; both are audited, so each case's history shows the link. */
export async function linkCases(db: Db, actorId: string, c: OpenCase, other: OpenCase | null): Promise<boolean> {
  if (!other) throw new CaseInputError('link_case', 'There is no case with that ID that you can open.');
  if (other.id === c.id) throw new CaseInputError('link_case', 'A case cannot be linked to itself.');
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
  const body = textInput(raw, 'note', 'the note', LIMITS.note);
  const noteId = await addNoteRow(db, c, actorId, body);
  await audit(db, { action: 'case.note_added', actorId, caseId: c.id, details: { noteId } });
  return noteId;
}

/** A reply to the reporter, encrypted like theirs (the receipt opens the same data key, P5). */
export async function sendMessage(db: Db, actorId: string, c: OpenCase, raw: unknown): Promise<string> {
  const body = textInput(raw, 'message', 'a message', LIMITS.message);
  const id = randomUUID();
  await q.insertStaffMessage(db, { id, report_id: c.id, author_id: actorId, body: encryptField(c.dataKey, body, messageBody(id)) });
  await audit(db, { action: 'case.message_sent', actorId, caseId: c.id, details: { messageId: id } });
  return id;
}

/** Opening the case page: clears "unread" (staff_seen_at) and records who looked. */
export async function markViewed(db: Db, actorId: string, c: OpenCase): Promise<void> {
  await q.markSeen(db, c.id);
  await audit(db, { action: 'case.viewed', actorId, caseId: c.id });
}

export async function caseworkerOptions(db: Db, currentAssignee: string | null) {
  const active = (await q.activeCaseworkers(db)).map((u) => ({ id: u.id, name: u.display_name }));
  if (currentAssignee && !active.some((u) => u.id === currentAssignee)) {
    // Assigned to someone since deactivated: still shown, so the form does not silently unassign.
    const gone = await q.findUserName(db, currentAssignee);
    active.unshift({ id: currentAssignee, name: `${gone?.display_name ?? 'Unknown'} (deactivated)` });
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
