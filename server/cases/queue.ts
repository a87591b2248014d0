import type { RequestHandler } from 'express';
import type { TFunction } from 'i18next';
import { listLabel, loadLists, type ListName, type Lists } from '../reporting/lists.js';
import { CATEGORIES } from '../reporting/taxonomy.js';
import { textProblem } from '../reporting/validation.js';
import { staffOf } from '../staff/context.js';
import type { AppContext } from '../web/context.js';
import { translator } from '../web/i18n.js';
import {
  DEFAULT_QUEUE_QUERY,
  SORTS,
  STATUS_FILTERS,
  countsByStatus,
  decodeCursor,
  listAssignees,
  listLabels,
  listQueue,
  type QueueQuery,
  type QueueRow,
  type StatusCounts,
} from './queue-queries.js';
import { STATUS_LABELS as CASE_STATUS_LABELS } from './service.js';

/** Staff pages are English for now: the case page's status names, and the two tabs only the queue has. */
const STATUS_LABELS: Record<string, string> = { open: 'Open', ...CASE_STATUS_LABELS, all: 'All' };
const SORT_LABELS: Record<string, string> = { newest: 'Newest first', oldest: 'Oldest first', urgent: 'Urgent first' };

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
  sort: string;
  cursor: string;
};
const PARAM_NAMES = ['status', 'category', 'urgent', 'community', 'region', 'assignee', 'label', 'unread', 'overdue', 'sort'] as const;
const DEFAULTS: Record<string, string> = { status: 'open', sort: 'newest' };
const YES_NO = ['yes', 'no'];

export type Known = {
  communities: readonly string[];
  regions: readonly string[];
  assigneeIds: readonly string[];
  labels: readonly string[];
  userId: string;
};

/**
 * Reads the query string into a QueueQuery. Anything unknown, repeated or
 * malformed resets that one filter (never an error page); a cursor that
 * does not decode, or belongs to another sort, means the first page.
 */
export function parseQueueParams(raw: Record<string, unknown>, known: Known): { query: QueueQuery; params: QueueParams } {
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
    sort: among('sort', SORTS) || 'newest',
    cursor: '',
  };
  const flag = (v: string) => (v === 'yes' ? true : v === 'no' ? false : null);
  const sort = params.sort as QueueQuery['sort'];
  const cursor = decodeCursor(one('cursor'));
  const usable = cursor && cursor.sort === sort ? cursor : null;
  if (usable) params.cursor = one('cursor');
  return {
    params,
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
      sort,
      cursor: usable,
    },
  };
}

/** /staff/cases with the given filters; defaults and empty values are left out so links stay short. */
export function queueHref(params: Partial<QueueParams>): string {
  const qs = new URLSearchParams();
  for (const name of [...PARAM_NAMES, 'cursor'] as const) {
    const v = params[name];
    if (v && v !== DEFAULTS[name]) qs.set(name, v);
  }
  const s = qs.toString();
  return s ? `/staff/cases?${s}` : '/staff/cases';
}

type Option = { value: string; label: string; selected: boolean };

const RECEIVED = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Europe/London' });

export function queueView(
  t: TFunction,
  lists: Lists,
  data: {
    params: QueueParams;
    rows: QueueRow[];
    nextCursor: string | null;
    counts: StatusCounts;
    assignees: { id: string; name: string; active: boolean }[];
    labels: string[];
    userId: string;
  },
) {
  const { params } = data;
  const options = (name: keyof QueueParams, entries: [string, string][], anyLabel: string | null): Option[] => [
    ...(anyLabel === null ? [] : [{ value: '', label: anyLabel, selected: params[name] === '' }]),
    ...entries.map(([value, label]) => ({ value, label, selected: params[name] === value })),
  ];
  const listOptions = (list: ListName): [string, string][] =>
    lists[list].map((item) => [item.code, listLabel(t, 'en', list, item) + (item.retired ? ' (retired)' : '')]);
  const label = (list: ListName, code: string) => listLabel(t, 'en', list, lists[list].find((i) => i.code === code) ?? code);
  const yesNo = (yes: string, no: string): [string, string][] => [['yes', yes], ['no', no]];
  const filtered = PARAM_NAMES.some((n) => n !== 'status' && n !== 'sort' && params[n] !== '');

  return {
    title: 'Cases',
    params,
    filtered,
    filters: {
      status: options('status', STATUS_FILTERS.map((s) => [s, STATUS_LABELS[s]!]), null),
      category: options('category', CATEGORIES.map((c) => [c, t(`categories.${c}.label`)]), 'Any category'),
      urgent: options('urgent', yesNo('Urgent only', 'Not urgent'), 'Any urgency'),
      community: options('community', listOptions('community'), 'Any community'),
      region: options('region', listOptions('region'), 'Any region'),
      assignee: options(
        'assignee',
        [
          ['me', 'Me'],
          ['none', 'Unassigned'],
          ...data.assignees.map((a): [string, string] => [a.id, a.name + (a.active ? '' : ' (deactivated)')]),
        ],
        'Anyone',
      ),
      label: options('label', data.labels.map((l) => [l, l]), 'Any label'),
      unread: options('unread', yesNo('Unread updates only', 'No unread updates'), 'Any'),
      overdue: options('overdue', yesNo('Overdue only', 'Not overdue'), 'Any'),
      sort: options('sort', SORTS.map((s) => [s, SORT_LABELS[s]!]), null),
    },
    tabs: STATUS_FILTERS.map((s) => ({
      label: STATUS_LABELS[s]!,
      count: data.counts[s].toLocaleString('en-GB'),
      href: queueHref({ ...params, status: s, cursor: '' }),
      current: params.status === s,
    })),
    caption: `${STATUS_LABELS[params.status]} cases, ${SORT_LABELS[params.sort]!.toLowerCase()}${filtered ? ', filtered' : ''}${params.cursor ? ' (continued)' : ''}`,
    rows: data.rows.map((r) => ({
      href: `/staff/cases/${r.id}`,
      shortId: r.id.slice(0, 8),
      receivedIso: r.createdAt.toISOString(),
      received: RECEIVED.format(r.createdAt),
      urgent: r.urgent,
      categories: r.categories.map((c) => t(`categories.${c}.label`, { defaultValue: c })),
      community: label('community', r.community),
      region: label('region', r.region),
      status: STATUS_LABELS[r.status] ?? r.status,
      assignee: r.assigneeName === null ? null : r.assigneeName + (r.assigneeId === data.userId ? ' (you)' : ''),
      labels: r.labels,
      overdue: r.overdue,
      unread: r.unread,
    })),
    nextHref: data.nextCursor ? queueHref({ ...params, cursor: data.nextCursor }) : null,
    firstHref: params.cursor ? queueHref({ ...params, cursor: '' }) : null,
    clearHref: queueHref({ status: params.status, sort: params.sort }),
  };
}

/** GET /staff/cases: the caseworker queue. Mounted behind the caseworker guard. */
export function queuePage(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { user } = staffOf(res);
    const t = (res.locals['t'] as TFunction | undefined) ?? translator('en');
    const [lists, labels, assignees, counts] = await Promise.all([
      loadLists(ctx.db),
      listLabels(ctx.db),
      listAssignees(ctx.db),
      countsByStatus(ctx.db),
    ]);
    const { query, params } = parseQueueParams(req.query as Record<string, unknown>, {
      communities: lists.community.map((i) => i.code),
      regions: lists.region.map((i) => i.code),
      assigneeIds: assignees.map((a) => a.id),
      labels,
      userId: user.id,
    });
    const page = await listQueue(ctx.db, query, ctx.config.targets);
    res.render('staff/queue', queueView(t, lists, { params, ...page, counts, assignees, labels, userId: user.id }));
  };
}
