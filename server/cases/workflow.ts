import { randomUUID } from 'node:crypto';
import { audit } from '../audit/log.js';
import { encryptField } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import { notFound } from '../errors.js';
import { MAX_EXTENSION_DAYS } from '../retention/purge.js';
import { deleteUntriaged, deletionDateOf, extendRetention } from '../retention/queries.js';
import { loadLists } from '../settings/lists.js';
import { staffTranslator } from '../i18n/index.js';
import { messageBody, noteBody, type OpenCase } from './access.js';
import { CaseInputError, chosenLabels, textInput } from './input.js';
import * as q from './queries.js';
import { LIMITS, NEXT_STATUSES, isOutcome, isStatus, statusLabel } from './vocabulary.js';
import { isUuid } from '../ids.js';

/**
 * The changes a caseworker makes to a case. The caller owns the
 * transaction: each change and its audit entry are written in it, and
 * audit entries carry ids and codes, never what anyone wrote.
 */

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
    if (!isUuid(value) || !active.some((u) => u.id === value.toLowerCase())) {
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

// ---------------------------------------------------------------- retention

/**
 * Keeps a closed case past its retention date, until a chosen day (at most
 * MAX_EXTENSION_DAYS ahead). The reason is an encrypted internal note; the
 * audit entry holds the date and the note's id.
 */
export async function keepLonger(
  db: Db,
  actorId: string,
  c: OpenCase,
  input: { until: unknown; reason: unknown },
  closedRetentionDays: number,
): Promise<void> {
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
