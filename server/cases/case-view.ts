import { AUDIT_ACTIONS, type AuditAction } from '../audit/log.js';
import { listItem, listLabel, type Lists } from '../settings/lists.js';
import { MAX_EXTENSION_DAYS, RETENTION_NOTICE_DAYS } from '../retention/purge.js';
import { formatDateTime, formatDay, ukToday } from '../i18n/dates.js';
import { staffTranslator, translator } from '../i18n/index.js';
import { noticeFrom } from '../web/notice.js';
import type { CaseRow } from './access.js';
import type { EvidenceItem, HistoryItem, MessageItem, NoteItem, ReportView, linksOf } from './reading.js';
import { DESTINATIONS, CRIME_REFERENCE_MAX, destinationLabel, type ReferralItem } from './referral.js';
import { LIMITS, NEXT_STATUSES, OUTCOMES, isStatus, outcomeLabel, statusLabel } from './vocabulary.js';

/**
 * The case page without its I/O: what the template shows, from what the
 * handler read and decrypted (case-page.ts). Pure, so it is unit-tested
 * without a database.
 */

/** A file's size as the case page and the referral pack show it: '2.4 MB', '12 KB' (never 0 KB). */
export function fileSize(bytes: number): string {
  return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

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

/**
 * The parts of the case page an action belongs to. Its confirmation (after
 * the redirect) and its refused input (422) are shown inside that part, not
 * at the top of a page the caseworker has scrolled away from.
 */
export const CASE_SECTIONS = ['status', 'urgency', 'assignee', 'labels', 'links', 'messages', 'notes', 'referrals', 'retention', 'spam'] as const;
export type CaseSection = (typeof CASE_SECTIONS)[number];

/** The notices a ?notice= code shows after a change (what each case action returns), and the part of the page each belongs to. */
const NOTICE_SECTIONS = {
  status: 'status',
  reopened: 'status',
  urgency: 'urgency',
  assignee: 'assignee',
  labels: 'labels',
  linked: 'links',
  already_linked: 'links',
  unlinked: 'links',
  note: 'notes',
  message: 'messages',
  referral: 'referrals',
  retention: 'retention',
} as const satisfies Record<string, CaseSection>;
export type CaseNoticeCode = keyof typeof NOTICE_SECTIONS;
export const CASE_NOTICES = Object.keys(NOTICE_SECTIONS) as CaseNoticeCode[];

/** The id of the confirmation inside a section: the redirect's #fragment, so the browser scrolls to it and focuses it. */
export const noticeId = (section: CaseSection) => `${section}-notice`;
/** The id of the refused-input box inside a section. */
export const problemId = (section: CaseSection) => `${section}-problem`;

/** Where a case action redirects: the case page, its notice, and the fragment of the confirmation next to the section acted on. */
export function noticeHref(caseId: string, code: CaseNoticeCode): string {
  return `/staff/cases/${caseId}?notice=${code}#${noticeId(NOTICE_SECTIONS[code])}`;
}

export type CaseNotice = { code: CaseNoticeCode; text: string; section: CaseSection; id: string };

export function noticeFor(query: Readonly<Record<string, unknown>>): CaseNotice | null {
  // noticeFrom compares the code with the list, so the lookup below only ever sees one of its own codes.
  const code = noticeFrom(query, CASE_NOTICES, (c) => c) as CaseNoticeCode | null;
  if (code === null) return null;
  const section = NOTICE_SECTIONS[code];
  return { code, text: staffTranslator()(`case.notices.${code}`), section, id: noticeId(section) };
}

/** The case page's label checkboxes: every offered label, and any retired one this case still has. */
function labelOptions(lists: Lists, current: readonly string[]) {
  const t = translator('en');
  return lists.label
    .filter((item) => !item.retired || current.includes(item.code))
    .map((item) => {
      const name = listLabel(t, 'en', 'label', item);
      return {
        code: item.code,
        label: item.retired ? staffTranslator()('case.workflow.label_retired', { label: name }) : name,
        checked: current.includes(item.code),
      };
    });
}

/** What the page was asked to show besides the case: a refused input (422) with what was typed, or a notice. */
export type PageState = {
  status?: number;
  errors?: Record<string, string>;
  form?: Record<string, unknown>;
  /** The part of the page the refused form belongs to: its message is shown there. */
  section?: CaseSection;
  notice?: CaseNotice | null;
};

/** A history line as the page shows it: when, who, what, and the details in words. */
type HistoryLine = {
  seq: number;
  at: Date;
  day: { iso: string; text: string } | null;
  actor: string;
  action: string;
  details: { key: string; value: string }[];
};

function historyEntry(names: Map<string, string>) {
  const st = staffTranslator();
  return (h: HistoryItem): HistoryLine => {
    const actor = h.actor_name ?? st('case.history.system');
    if (h.kind === 'reading') {
      // One line per person per day: "Viewed the case (5 times)", images shown inline counted beside it.
      const action = h.views > 0 ? st('case.readings.viewed', { count: h.views }) : st('case.readings.images_only', { count: h.images });
      const details = h.views > 0 && h.images > 0 ? [{ key: st('case.readings.images'), value: String(h.images) }] : [];
      return { seq: h.seq, at: h.at, day: { iso: h.day, text: formatDay(`${h.day}T12:00:00Z`) }, actor, action, details };
    }
    const raw = h.details && typeof h.details === 'object' ? (h.details as Record<string, unknown>) : {};
    const details = Object.entries(raw).map(([key, value]) => {
      let text =
        value === null || value === undefined
          ? '–'
          : typeof value === 'boolean'
            ? value
              ? st('case.history.yes')
              : st('case.history.no')
            : String(value);
      if ((key === 'from' || key === 'to') && typeof value === 'string') {
        text = h.action === 'case.assigned' ? (names.get(value) ?? value) : isStatus(value) ? statusLabel(value) : text;
      }
      if (key === 'outcome' && typeof value === 'string') text = outcomeLabel(value);
      if (key === 'destination' && typeof value === 'string') text = destinationLabel(value);
      return { key, value: text };
    });
    return { seq: h.seq, at: h.at, day: null, actor, action: actionLabel(h.action), details };
  };
}

/** Everything the handler read for the page, decrypted for this response only. */
export type CaseData = {
  row: CaseRow;
  report: ReportView;
  evidence: EvidenceItem[];
  notes: NoteItem[];
  messages: MessageItem[];
  referrals: ReferralItem[];
  links: Awaited<ReturnType<typeof linksOf>>;
  history: HistoryItem[];
  /** The history shows only its latest lines (the audit log has the rest). */
  historyTruncated: boolean;
  caseworkers: { id: string; name: string }[];
  lists: Lists;
  closedRetentionDays: number;
  /** When retention deletes the case (closed cases only), or null. */
  deletesAt: Date | null;
  now: Date;
};

/** The staff/case template's locals. */
export function caseView(data: CaseData, state: PageState = {}) {
  const { row, report, lists, deletesAt } = data;
  const t = translator('en');
  const st = staffTranslator();
  const names = new Map(data.caseworkers.map((u) => [u.id, u.name]));
  const errors = state.errors ?? {};
  const form = state.form ?? {};
  const draft = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : '');
  // Spam deletion: only a report nobody has triaged.
  const deletableAsSpam = row.status === 'new' && row.triaged_at === null;
  // The sections shown only sometimes; an answer about one that is not on the page goes to the top instead.
  const onPage = (s: CaseSection | null | undefined): s is CaseSection =>
    s !== null && s !== undefined && (s === 'spam' ? deletableAsSpam : s === 'retention' ? deletesAt !== null : true);
  const notice = state.notice ? { ...state.notice, section: onPage(state.notice.section) ? state.notice.section : null } : null;
  return {
    title: Object.keys(errors).length
      ? st('common.error_title', { title: st('case.title', { id: row.id.slice(0, 8) }) })
      : st('case.title', { id: row.id.slice(0, 8) }),
    fmt: formatDateTime,
    size: fileSize,
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
      deletingSoon: deletesAt !== null && deletesAt.getTime() <= data.now.getTime() + RETENTION_NOTICE_DAYS * 86_400_000,
      deletableAsSpam,
    },
    retention: { days: data.closedRetentionDays, noticeDays: RETENTION_NOTICE_DAYS, maxYears: MAX_EXTENSION_DAYS / 365 },
    report,
    consentLabel: report.consent ? t(`form.consent.options.${report.consent}`) : st('case.report.consent_unknown'),
    consentGiven: report.consent === 'yes',
    evidence: data.evidence,
    notes: data.notes,
    messages: data.messages,
    referrals: data.referrals,
    links: data.links.map((l) => ({
      id: l.id,
      statusLabel: statusLabel(l.status),
      urgent: l.urgent,
      categories: l.categories.map((code) => t(`categories.${code}.label`, { defaultValue: code })).join(', '),
      createdAt: l.created_at,
    })),
    history: data.history.map(historyEntry(names)),
    historyTruncated: data.historyTruncated,
    caseworkers: data.caseworkers,
    labelOptions: labelOptions(lists, row.labels),
    nextStatuses: (NEXT_STATUSES[row.status] ?? []).map((s) => ({ value: s, label: statusLabel(s) })),
    outcomes: OUTCOMES.map((o) => ({ value: o, label: outcomeLabel(o) })),
    destinations: DESTINATIONS.map((d) => ({ value: d, label: destinationLabel(d) })),
    limits: { ...LIMITS, crimeReference: CRIME_REFERENCE_MAX },
    today: ukToday(data.now),
    errors,
    errorList: Object.entries(errors).map(([field, message]) => ({ field, message })),
    // Where the refused input's message goes: inside the section whose form was sent (at the top only if none is named).
    problem: Object.keys(errors).length
      ? onPage(state.section)
        ? { section: state.section, id: problemId(state.section) }
        : { section: null, id: 'case-problem' }
      : null,
    draft,
    chosenNoteIds: [form['notes'] ?? []].flat().map(String),
    notice,
  };
}
