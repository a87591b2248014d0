import { beforeAll, describe, expect, it } from 'vitest';
import type { TFunction } from 'i18next';
import { parseQueueParams, queueView } from '../../../server/cases/queue-view.js';
import type { QueueRow, StatusCounts } from '../../../server/cases/queue-queries.js';
import { DEFAULT_LISTS, LIST_NAMES, type Lists } from '../../../server/settings/lists.js';
import { initI18n, translator } from '../../../server/i18n/index.js';

const ME = '99999999-0000-4000-8000-000000000001';
const OTHER = '99999999-0000-4000-8000-000000000002';
const LISTS = Object.fromEntries(
  LIST_NAMES.map((name) => [name, DEFAULT_LISTS[name].map((code) => ({ code, labels: {}, retired: false }))]),
) as Lists;
LISTS.community.push({ code: 'kazakh', labels: { en: 'Kazakh' }, retired: true });
// Case labels are the administrator's list: codes on the row, English names on the page.
LISTS.label.push({ code: 'label_1', labels: { en: 'Hendon' }, retired: false }, { code: 'label_2', labels: { en: 'Old office' }, retired: true });
const COUNTS: StatusCounts = { open: 1200, all: 1500, new: 100, triaged: 200, in_progress: 800, referred: 100, closed: 300 };
const ROW: QueueRow = {
  id: '1a2b3c4d-0000-4000-8000-00000000abcd',
  createdAt: new Date('2026-07-01T13:05:00Z'),
  submittedAt: new Date('2026-07-01T13:05:00Z'),
  status: 'in_progress',
  urgent: true,
  categories: ['family', 'station'],
  community: 'kazakh',
  region: 'london',
  assigneeId: ME,
  assigneeName: 'Aylin Demir',
  labels: ['label_1', 'label_2'],
  overdue: true,
  unread: false,
  deletesAt: null,
};
const known = { communities: ['uyghur', 'kazakh'], regions: ['london'], assigneeIds: [ME, OTHER], labels: ['label_1', 'label_2'], userId: ME };

let t: TFunction;
beforeAll(async () => {
  await initI18n();
  t = translator('en');
});

function view(raw: Record<string, string>, rows: QueueRow[] = [ROW], nextCursor: string | null = null) {
  const { params } = parseQueueParams(raw, known);
  return queueView(t, LISTS, {
    params,
    rows,
    nextCursor,
    counts: COUNTS,
    assignees: [
      { id: ME, name: 'Aylin Demir', active: true },
      { id: OTHER, name: 'Tom Hughes', active: false },
    ],
    userId: ME,
  });
}

describe('queue view', () => {
  it('labels a row from the taxonomy, the lists and the locale file', () => {
    const v = view({});
    expect(v.rows).toEqual([
      {
        href: `/staff/cases/${ROW.id}`,
        shortId: '1a2b3c4d',
        receivedIso: '2026-07-01T13:05:00.000Z',
        received: '1 Jul 2026, 14:05', // London summer time
        urgent: true,
        categories: ['Pressure through family', 'Unofficial state presence'],
        community: 'Kazakh',
        region: 'London',
        status: 'In progress',
        assignee: 'Aylin Demir (you)',
        labels: ['Hendon', 'Old office'],
        overdue: true,
        unread: false,
        deletesOn: null,
      },
    ]);
    expect(view({}, [{ ...ROW, assigneeId: null, assigneeName: null }]).rows[0]!.assignee).toBeNull();
  });

  it('flags a closed case only within the 14 days before retention deletes it', () => {
    const now = new Date('2026-07-01T12:00:00Z');
    const at = (days: number) => ({ ...ROW, status: 'closed', deletesAt: new Date(now.getTime() + days * 86_400_000) });
    const flagged = queueView(translator('en'), LISTS, {
      params: parseQueueParams({}, known).params,
      rows: [at(13.9), at(14.1)],
      nextCursor: null,
      counts: COUNTS,
      assignees: [],
      userId: ME,
      now,
      dueForDeletion: 1,
    });
    expect(flagged.rows.map((r) => r.deletesOn)).toEqual(['15 Jul 2026', null]);
    expect(flagged.dueForDeletion).toBe(1);
    expect(flagged.dueHref).toBe('/staff/cases?status=closed&deleting=yes&sort=oldest');
  });

  it('offers every filter with the current choice selected, retired and deactivated values marked', () => {
    const v = view({ status: 'closed', assignee: OTHER, community: 'kazakh', label: 'label_2', sort: 'urgent' });
    const selected = (name: keyof typeof v.filters) => v.filters[name].filter((o) => o.selected).map((o) => o.value);
    expect(selected('status')).toEqual(['closed']);
    expect(selected('assignee')).toEqual([OTHER]);
    expect(selected('community')).toEqual(['kazakh']);
    expect(selected('label')).toEqual(['label_2']);
    expect(v.filters.label.map((o) => [o.value, o.label])).toEqual([
      ['', 'Any label'],
      ['label_1', 'Hendon'],
      ['label_2', 'Old office (retired)'],
    ]);
    expect(selected('sort')).toEqual(['urgent']);
    expect(selected('category')).toEqual(['']);
    expect(v.filters.community.find((o) => o.value === 'kazakh')!.label).toBe('Kazakh (retired)');
    expect(v.filters.assignee.map((o) => o.label)).toEqual(['Anyone', 'Me', 'Unassigned', 'Aylin Demir', 'Tom Hughes (deactivated)']);
    expect(v.filters.category).toHaveLength(10);
    expect(v.filtered).toBe(true);
    expect(v.caption).toBe('Closed cases, urgent first, filtered');
  });

  it('links the status tabs and pages, keeping the filters', () => {
    const v = view({ status: 'new', category: 'family' }, [ROW], 'CURSOR');
    expect(v.tabs.find((tab) => tab.current)).toMatchObject({ label: 'New', count: '100' });
    expect(v.tabs.find((tab) => tab.label === 'Open')).toMatchObject({ count: '1,200', href: '/staff/cases?category=family' });
    expect(v.nextHref).toBe('/staff/cases?status=new&category=family&cursor=CURSOR');
    expect(v.firstHref).toBeNull();
    expect(v.clearHref).toBe('/staff/cases?status=new');
    const last = view({ status: 'new' }, [ROW], null);
    expect(last.nextHref).toBeNull();
    expect(last.filtered).toBe(false);
  });

  it('counts the matching cases, up to the cap', () => {
    const { params } = parseQueueParams({}, known);
    const base = { params, rows: [ROW], nextCursor: null, counts: COUNTS, assignees: [], userId: ME };
    expect(queueView(t, LISTS, { ...base, count: 1, countCap: 1000 }).countText).toBe('1 case matches');
    expect(queueView(t, LISTS, { ...base, count: 23, countCap: 1000 }).countText).toBe('23 cases match');
    expect(queueView(t, LISTS, { ...base, count: 1000, countCap: 1000 }).countText).toBe('1,000 cases match');
    expect(queueView(t, LISTS, { ...base, count: 1001, countCap: 1000 }).countText).toBe('More than 1,000 cases match');
    expect(queueView(t, LISTS, { ...base, count: 0, countCap: 1000 }).countText).toBe('0 cases match');
    expect(queueView(t, LISTS, base).countText).toBeNull();
  });

  it('folds the filters under one summary that says how many are on', () => {
    expect(view({}).filtersSummary).toBe('Filter and sort');
    expect(view({ category: 'family' }).filtersSummary).toBe('Filter and sort (1 filter on)');
    expect(view({ category: 'family', urgent: 'yes', status: 'closed', sort: 'oldest' }).filtersSummary).toBe('Filter and sort (2 filters on)');
  });

  it('says what a search by id found', () => {
    const found = (raw: Record<string, string>, rows: QueueRow[]) => {
      const { params, search } = parseQueueParams(raw, known);
      return queueView(t, LISTS, { params, rows, nextCursor: null, counts: COUNTS, assignees: [], userId: ME, search });
    };
    const two = found({ id: '1a2b3c4d' }, [ROW, { ...ROW, id: '1a2b3c4d-ffff-4000-8000-00000000abcd' }]);
    expect(two.search).toEqual({ value: '1a2b3c4d', message: '2 cases have an id that starts with 1a2b3c4d.' });
    expect(two.caption).toBe('Cases whose id starts with 1a2b3c4d');
    expect(two.clearHref).toBe('/staff/cases');
    expect(found({ id: ROW.id }, []).search).toEqual({ value: ROW.id, message: 'No case you can open has that id.' });
    expect(found({ id: 'nonsense' }, []).search?.message).toMatch(/^That is not a case id\./);
    expect(view({}).search).toBeNull();
  });
});
