import { decryptJson, decryptText } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import { readEvidenceMeta, type EvidenceMeta } from '../reporting/evidence.js';
import { evidenceFileName, nameMismatch } from '../reporting/evidence-names.js';
import { listItem, listLabel, loadLists } from '../settings/lists.js';
import type { ReportDetails } from '../reporting/service.js';
import { CONTACT_LANGUAGES, type ReportInput } from '../reporting/validation.js';
import { staffTranslator, translator } from '../i18n/index.js';
import { messageBody, noteBody, readable, reportField, type OpenCase } from './access.js';
import * as q from './queries.js';
import { isUuid } from '../ids.js';

/**
 * Reading one case as a caseworker sees it: the report as labelled fields,
 * its files, notes, thread, links and history. Everything decrypted here
 * lives in the request's memory only; nothing is logged.
 */

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
  const label = (list: 'region' | 'community' | 'state', code: string) => listLabel(t, 'en', list, listItem(lists, list, code));
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
            language: languageName(contact.language),
          })
        : unreadable,
      dir: 'auto',
    });
  }
  return { narrative, consent: details?.consent ?? null, fields };
}

/**
 * The language the reporter asked for replies in, as a caseworker reads it:
 * its English name, with its own name beside it for matching what the
 * reporter wrote ("Uyghur (ئۇيغۇرچە)", never "ug"). The own name is isolated
 * (U+2068…U+2069) so a right-to-left name cannot reorder the text around it.
 * A code Harbour does not know (none today) is shown as it is.
 */
export function languageName(code: string): string {
  const name = englishName(code);
  if (name === null) return code;
  const own = translator('en')(`form.contact_language.options.${code}`);
  return own === name ? name : staffTranslator()('case.languages.with_own', { name, own });
}

function englishName(code: string): string | null {
  const st = staffTranslator();
  const names: Record<(typeof CONTACT_LANGUAGES)[number], string> = {
    en: st('case.languages.en'),
    'zh-hans': st('case.languages.zh-hans'),
    'zh-hant': st('case.languages.zh-hant'),
    ug: st('case.languages.ug'),
    bo: st('case.languages.bo'),
    other: st('case.languages.other'),
  };
  // Compared with the list, never used as a key straight from the data (`__proto__`, `constructor`).
  return (CONTACT_LANGUAGES as readonly string[]).includes(code) ? names[code as (typeof CONTACT_LANGUAGES)[number]] : null;
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
    authorName:
      m.author === 'reporter' ? staffTranslator()('case.messages.reporter') : (m.author_name ?? staffTranslator()('case.messages.staff_fallback')),
    body: readable(() => decryptText(c.dataKey, m.body, messageBody(m.id))),
    createdAt: m.created_at,
  }));
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

/** The ids of the cases a short id may name (whether this caseworker may open them is the caller's check). */
export const casesWithShortId = (db: Db, shortId: string) => q.caseIdsStartingWith(db, shortId);
export const HISTORY_LIMIT = q.HISTORY_LIMIT;

/** One line of a case's history: something someone did, or their readings of the case on one day (folded). */
export type HistoryItem =
  | { kind: 'action'; seq: number; at: Date; action: string; details: unknown; actor_name: string | null }
  | { kind: 'reading'; seq: number; at: Date; day: string; actor_name: string | null; views: number; images: number };

/**
 * The case's history, newest first: what people did, one line each, and
 * their page views and inline image loads, one line per person per UK day
 * (the audit log keeps every one). Both lists are bounded in the database,
 * so a busy case's thousands of views never reach memory; `truncated` says
 * the page shows only the latest lines.
 */
export async function historyOf(db: Db, c: OpenCase, limit = HISTORY_LIMIT): Promise<{ items: HistoryItem[]; truncated: boolean }> {
  const [actions, readings] = await Promise.all([q.listHistory(db, c.id, limit), q.listReadingDays(db, c.id, limit)]);
  const items: HistoryItem[] = [
    ...actions.map((a) => ({ kind: 'action' as const, ...a, seq: Number(a.seq) })),
    ...readings.map((r) => ({
      kind: 'reading' as const,
      seq: r.last_seq,
      at: r.last_at,
      day: r.day,
      actor_name: r.actor_name,
      views: r.views,
      images: r.images,
    })),
  ].sort((a, b) => b.seq - a.seq);
  // Each list holds its newest `limit` lines, so the newest `limit` of both together are exact.
  return { items: items.slice(0, limit), truncated: actions.length >= limit || readings.length >= limit || items.length > limit };
}

/** Reads an evidence file's row and metadata for download; null when it is not this case's or cannot be opened. */
export async function evidenceFile(db: Db, c: OpenCase, rawId: string) {
  if (!isUuid(rawId)) return null;
  const row = await q.getEvidence(db, c.id, rawId.toLowerCase());
  if (!row?.meta) return null;
  const meta = readable(() => readEvidenceMeta(c.dataKey, row.id, row.meta!));
  return meta ? { row, meta } : null;
}
