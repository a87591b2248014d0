import type { TFunction } from 'i18next';
import { listItem, listLabel, type ListName, type Lists } from '../settings/lists.js';
import { CATEGORIES } from '../reporting/taxonomy.js';
import { textProblem } from '../reporting/validation.js';
import { formatDateTime, formatDay } from '../i18n/dates.js';
import { staffTranslator } from '../i18n/index.js';
import { RETENTION_NOTICE_DAYS } from '../retention/purge.js';
import { SORTS, decodeCursor } from './queue-cursor.js';
import { DEFAULT_QUEUE_QUERY, STATUS_FILTERS, type IdRange, type QueueQuery, type QueueRow, type StatusCounts } from './queue-queries.js';
import { statusLabel } from './vocabulary.js';
import { isUuid, shortIdOf, shortIdRange } from '../ids.js';

/**
 * The queue page without its I/O: the query string read into a query
 * (parseQueueParams), links (queueHref) and the view model (queueView), all
 * pure and unit-tested. Plaintext only (P1): nothing here decrypts.
 */

/** A status tab's name: the case page's status names, and the two tabs only the queue has. */
function tabLabel(status: string): string {
  const st = staffTranslator();
  if (status === 'open') return st('queue.status.open');
  if (status === 'all') return st('queue.status.all');
  return statusLabel(status);
}

/** The filter form's values as the browser sent them (after validation), for links and selected options. */
export type QueueParams = {
  status: string;
  category: string;
  urgent: string;
  community: string;
  region: string;
  assignee: string;
  label: string;
  unread: string;
  overdue: string;
  deleting: string;
  sort: string;
  cursor: string;
  /** The case id searched for, as typed (trimmed); '' when not searching. */
  id: string;
};
const PARAM_NAMES = ['status', 'category', 'urgent', 'community', 'region', 'assignee', 'label', 'unread', 'overdue', 'deleting', 'sort'] as const;
const DEFAULTS: Record<string, string> = { status: 'open', sort: 'triage' };

/**
 * A search by case id: the full id, or its first 8 characters (the short id
 * the pages show). `bad` is anything else; the page says so.
 */
export type CaseSearch = { kind: 'full' | 'short'; ids: IdRange; text: string } | { kind: 'bad'; text: string };

/** The case id search box's text read as a search, or null when it is empty. Spaces and case are forgiven. */
export function readCaseSearch(typed: string): CaseSearch | null {
  const text = typed.trim();
  if (!text) return null;
  const id = text.replace(/\s+/g, '').toLowerCase();
  if (isUuid(id)) return { kind: 'full', ids: { from: id, to: id }, text };
  const short = shortIdOf(id);
  if (short) return { kind: 'short', ids: shortIdRange(short), text };
  return { kind: 'bad', text };
}
const YES_NO = ['yes', 'no'];

export type Known = {
  communities: readonly string[];
  regions: readonly string[];
  assigneeIds: readonly string[];
  /** Codes of the case-label list, retired ones too (old cases keep them). */
  labels: readonly string[];
  userId: string;
};

/**
 * Reads the query string into a QueueQuery. Anything unknown, repeated or
 * malformed resets that one filter (never an error page); a cursor that
 * does not decode, or belongs to another sort, means the first page.
 */
export function parseQueueParams(raw: Record<string, unknown>, known: Known): { query: QueueQuery; params: QueueParams; search: CaseSearch | null } {
  const one = (name: string): string => {
    const v = raw[name];
    return typeof v === 'string' && v.length <= 400 && !textProblem(v) ? v.trim() : '';
  };
  const among = (name: string, allowed: readonly string[]) => {
    const v = one(name);
    return allowed.includes(v) ? v : '';
  };
  const params: QueueParams = {
    status: among('status', STATUS_FILTERS) || 'open',
    category: among('category', CATEGORIES),
    urgent: among('urgent', YES_NO),
    community: among('community', known.communities),
    region: among('region', known.regions),
    assignee: among('assignee', ['me', 'none', ...known.assigneeIds]),
    label: among('label', known.labels),
    unread: among('unread', YES_NO),
    overdue: among('overdue', YES_NO),
    deleting: among('deleting', YES_NO),
    sort: among('sort', SORTS) || 'triage',
    cursor: '',
    id: one('id').slice(0, 100),
  };
  const search = readCaseSearch(params.id);
  if (search) {
    // Finding a case by id looks at every case, whatever the filters (findCases, in id order).
    for (const name of PARAM_NAMES) params[name] = DEFAULTS[name] ?? '';
    params.status = 'all';
  }
  const flag = (v: string) => (v === 'yes' ? true : v === 'no' ? false : null);
  const sort = params.sort as QueueQuery['sort'];
  const cursor = decodeCursor(one('cursor'));
  const usable = cursor && cursor.sort === sort ? cursor : null;
  if (usable) params.cursor = one('cursor');
  return {
    params,
    search,
    query: {
      ...DEFAULT_QUEUE_QUERY,
      status: params.status as QueueQuery['status'],
      category: params.category || null,
      urgent: flag(params.urgent),
      community: params.community || null,
      region: params.region || null,
      assignee: params.assignee === 'me' ? known.userId : params.assignee || null,
      label: params.label || null,
      unread: flag(params.unread),
      overdue: flag(params.overdue),
      deleting: flag(params.deleting),
      sort,
      cursor: usable,
      ids: search && search.kind !== 'bad' ? search.ids : null,
    },
  };
}

/** /staff/cases with the given filters; defaults and empty values are left out so links stay short. */
export function queueHref(params: Partial<QueueParams>): string {
  const qs = new URLSearchParams();
  for (const name of [...PARAM_NAMES, 'id', 'cursor'] as const) {
    const v = params[name];
    if (v && v !== DEFAULTS[name]) qs.set(name, v);
  }
  const s = qs.toString();
  return s ? `/staff/cases?${s}` : '/staff/cases';
}

type Option = { value: string; label: string; selected: boolean };

export function queueView(
  t: TFunction,
  lists: Lists,
  data: {
    params: QueueParams;
    rows: QueueRow[];
    nextCursor: string | null;
    counts: StatusCounts;
    assignees: { id: string; name: string; active: boolean }[];
    userId: string;
    /** Closed cases deleted within the notice period, and the moment the page is for. */
    dueForDeletion?: number;
    now?: Date;
    /** Cases the filters match, counted up to `countCap` + 1; null when not counted. */
    count?: number | null;
    countCap?: number;
    /** The case id searched for, if any. */
    search?: CaseSearch | null;
  },
) {
  const st = staffTranslator();
  const now = data.now ?? new Date();
  const noticeEnd = now.getTime() + RETENTION_NOTICE_DAYS * 86_400_000;
  const { params } = data;
  const options = (name: keyof QueueParams, entries: [string, string][], anyLabel: string | null): Option[] => [
    ...(anyLabel === null ? [] : [{ value: '', label: anyLabel, selected: params[name] === '' }]),
    ...entries.map(([value, label]) => ({ value, label, selected: params[name] === value })),
  ];
  const listOptions = (list: ListName): [string, string][] =>
    lists[list].map((item) => {
      const name = listLabel(t, 'en', list, item);
      return [item.code, item.retired ? st('queue.options.retired', { label: name }) : name];
    });
  const label = (list: ListName, code: string) => listLabel(t, 'en', list, listItem(lists, list, code));
  const yesNo = (yes: string, no: string): [string, string][] => [
    ['yes', yes],
    ['no', no],
  ];
  const filtered = PARAM_NAMES.some((n) => n !== 'status' && n !== 'sort' && params[n] !== '');
  const filtersOn = PARAM_NAMES.filter((n) => n !== 'status' && n !== 'sort' && params[n] !== '').length;
  const search = data.search ?? null;
  const cap = data.countCap ?? 1000;
  const count = data.count ?? null;
  const countText =
    count === null
      ? null
      : count > cap
        ? st('queue.count.more_than', { cap: cap.toLocaleString('en-GB') })
        : st('queue.count.match', { count, formatted: count.toLocaleString('en-GB') });
  let searchMessage: string | null = null;
  if (search?.kind === 'bad') searchMessage = st('queue.find.bad');
  else if (search && data.rows.length === 0) searchMessage = st('queue.find.none');
  else if (search) searchMessage = st('queue.find.several', { count: data.rows.length, prefix: search.ids.from.slice(0, 8) });

  const sortLabels: Record<string, string> = {
    triage: st('queue.triage_sort'),
    newest: st('queue.sorts.newest'),
    oldest: st('queue.sorts.oldest'),
    urgent: st('queue.sorts.urgent'),
  };
  const sortInCaption: Record<string, string> = {
    triage: st('queue.triage_caption'),
    newest: st('queue.caption.sorts.newest'),
    oldest: st('queue.caption.sorts.oldest'),
    urgent: st('queue.caption.sorts.urgent'),
  };

  return {
    title: st('queue.title'),
    params,
    filtered,
    filters: {
      status: options(
        'status',
        STATUS_FILTERS.map((s) => [s, tabLabel(s)]),
        null,
      ),
      category: options(
        'category',
        CATEGORIES.map((c) => [c, t(`categories.${c}.label`)]),
        st('queue.options.any_category'),
      ),
      urgent: options('urgent', yesNo(st('queue.options.urgent_only'), st('queue.options.not_urgent')), st('queue.options.any_urgency')),
      community: options('community', listOptions('community'), st('queue.options.any_community')),
      region: options('region', listOptions('region'), st('queue.options.any_region')),
      assignee: options(
        'assignee',
        [
          ['me', st('queue.options.me')],
          ['none', st('queue.options.unassigned')],
          ...data.assignees.map((a): [string, string] => [a.id, a.active ? a.name : st('queue.options.deactivated', { name: a.name })]),
        ],
        st('queue.options.anyone'),
      ),
      label: options('label', listOptions('label'), st('queue.options.any_label')),
      unread: options('unread', yesNo(st('queue.options.unread_only'), st('queue.options.no_unread')), st('queue.options.any')),
      overdue: options('overdue', yesNo(st('queue.options.overdue_only'), st('queue.options.not_overdue')), st('queue.options.any')),
      deleting: options(
        'deleting',
        yesNo(st('queue.options.deleting_soon', { days: RETENTION_NOTICE_DAYS }), st('queue.options.not_due')),
        st('queue.options.any'),
      ),
      sort: options(
        'sort',
        SORTS.map((s) => [s, sortLabels[s]!]),
        null,
      ),
    },
    tabs: STATUS_FILTERS.map((s) => ({
      label: tabLabel(s),
      count: data.counts[s].toLocaleString('en-GB'),
      href: queueHref({ ...params, status: s, cursor: '' }),
      current: params.status === s,
    })),
    caption: search
      ? st('queue.find.caption', { prefix: search.kind === 'bad' ? '' : search.ids.from.slice(0, 8) })
      : st('queue.caption.text', { status: tabLabel(params.status), sort: sortInCaption[params.sort] }) +
        (filtered ? st('queue.caption.filtered') : '') +
        (params.cursor ? st('queue.caption.continued') : ''),
    filtersOn,
    filtersSummary: filtersOn ? st('queue.bar.filters_on', { count: filtersOn }) : st('queue.bar.filters'),
    countText,
    search: search ? { value: search.text, message: searchMessage } : null,
    rows: data.rows.map((r) => ({
      href: `/staff/cases/${r.id}`,
      shortId: r.id.slice(0, 8),
      receivedIso: r.createdAt.toISOString(),
      received: formatDateTime(r.createdAt),
      urgent: r.urgent,
      categories: r.categories.map((c) => t(`categories.${c}.label`, { defaultValue: c })),
      community: label('community', r.community),
      region: label('region', r.region),
      status: statusLabel(r.status),
      assignee: r.assigneeName === null ? null : r.assigneeId === data.userId ? st('queue.you', { name: r.assigneeName }) : r.assigneeName,
      labels: r.labels.map((code) => label('label', code)),
      overdue: r.overdue,
      unread: r.unread,
      deletesOn: r.deletesAt && r.deletesAt.getTime() <= noticeEnd ? formatDay(r.deletesAt) : null,
    })),
    dueForDeletion: data.dueForDeletion ?? 0,
    dueHref: queueHref({ status: 'closed', deleting: 'yes', sort: 'oldest' }),
    noticeDays: RETENTION_NOTICE_DAYS,
    nextHref: data.nextCursor ? queueHref({ ...params, cursor: data.nextCursor }) : null,
    firstHref: params.cursor ? queueHref({ ...params, cursor: '' }) : null,
    clearHref: search ? queueHref({}) : queueHref({ status: params.status, sort: params.sort }),
  };
}
