import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, type QueueCursor } from '../../../server/cases/queue-cursor.js';
import { CASE_STATUSES, DEFAULT_QUEUE_QUERY } from '../../../server/cases/queue-queries.js';
import { STATUSES } from '../../../server/cases/vocabulary.js';
import { parseQueueParams, queueHref, readCaseSearch, type Known } from '../../../server/cases/queue-view.js';

const ID = '1a2b3c4d-0000-4000-8000-00000000abcd';
const ME = '99999999-0000-4000-8000-000000000001';
const COLLEAGUE = '99999999-0000-4000-8000-000000000002';
const KNOWN: Known = {
  communities: ['uyghur', 'tibetan'],
  regions: ['london', 'wales'],
  assigneeIds: [ME, COLLEAGUE],
  labels: ['hendon', 'croydon-station'],
  userId: ME,
};
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('queue cursor', () => {
  const cursors: QueueCursor[] = [
    { sort: 'newest', createdAt: '2026-03-01T10:20:30.123456Z', id: ID, urgent: false },
    { sort: 'oldest', createdAt: '1999-12-31T23:59:59.000000Z', id: ID, urgent: false },
    { sort: 'urgent', createdAt: '2026-03-01T10:20:30.000001Z', id: ID, urgent: true },
    { sort: 'urgent', createdAt: '2026-03-01T10:20:30.000001Z', id: ID, urgent: false },
    { sort: 'triage', at: '2026-03-01T10:20:30.123Z', tier: 0, idle: false, key: '2026-02-01T10:20:30.123456Z', id: ID },
    { sort: 'triage', at: '2026-03-01T10:20:30.123Z', tier: 2, idle: true, key: '2026-02-01T10:20:30.123456Z', id: ID },
    { sort: 'triage', at: '2026-03-01T10:20:30.123Z', tier: 3, idle: false, key: '2026-02-01T10:20:30.123456Z', id: ID },
  ];

  it('round-trips every sort, keeping microseconds, as URL-safe text', () => {
    for (const c of cursors) {
      const text = encodeCursor(c);
      expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(text)).toEqual(c);
    }
  });

  it('turns anything malformed into null (the first page)', () => {
    const good = { s: 'newest', t: '2026-03-01T10:20:30.123456Z', i: ID };
    const bad = [
      '',
      'not base64!',
      b64('not json'),
      b64('[]'),
      b64('null'),
      b64('42'),
      b64({ ...good, s: 'random' }),
      b64({ ...good, s: undefined }),
      b64({ ...good, t: '2026-03-01T10:20:30Z' }), // milliseconds missing: would skip rows
      b64({ ...good, t: '2026-03-01T10:20:30.123Z' }),
      b64({ ...good, t: '2026-13-45T10:20:30.123456Z' }),
      b64({ ...good, t: '2026-02-30T10:20:30.123456Z' }), // JavaScript rolls it over, PostgreSQL refuses it
      b64({ ...good, t: '2026-03-01T24:00:00.000000Z' }),
      b64({ ...good, t: '2026-03-01T10:20:60.000000Z' }),
      b64({ ...good, t: '0000-01-01T00:00:00.000000Z' }),
      b64({ ...good, t: "2026-03-01'; drop table reports; --" }),
      b64({ ...good, t: 1234567890 }),
      b64({ ...good, i: 'not-a-uuid' }),
      b64({ ...good, i: ID.toUpperCase() }),
      b64({ ...good, s: 'urgent' }), // urgent-first needs the urgent flag
      b64({ ...good, s: 'urgent', u: 'yes' }),
      'A'.repeat(301),
      // The triage order needs its instant, tier and idle flag, each well-formed.
      b64({ ...good, s: 'triage' }),
      b64({ ...good, s: 'triage', a: '2026-03-01T10:20:30.123Z', r: 1 }),
      b64({ ...good, s: 'triage', a: '2026-03-01T10:20:30.123Z', w: false }),
      b64({ ...good, s: 'triage', a: '2026-03-01T10:20:30.123Z', r: 4, w: false }),
      b64({ ...good, s: 'triage', a: '2026-03-01T10:20:30.123Z', r: '1', w: false }),
      b64({ ...good, s: 'triage', a: '2026-03-01T10:20:30.123Z', r: 3, w: true }), // closed cases are never idle
      b64({ ...good, s: 'triage', a: '2026-03-01T10:20:30.123Z', r: 1, w: 'no' }),
      b64({ ...good, s: 'triage', a: '2026-03-01T10:20:30Z', r: 1, w: false }),
      b64({ ...good, s: 'triage', a: '2026-02-30T10:20:30.123Z', r: 1, w: false }),
      b64({ ...good, s: 'triage', a: 'now', r: 1, w: false }),
    ];
    for (const raw of bad) expect(decodeCursor(raw), raw).toBeNull();
    expect(decodeCursor(b64(good))).not.toBeNull();
    expect(decodeCursor(b64({ ...good, s: 'triage', a: '2026-03-01T10:20:30.123Z', r: 1, w: false }))).not.toBeNull();
  });
});

describe('finding a case by id', () => {
  it('reads a full id, or the 8 characters shown, as a range of ids; forgives case and spaces', () => {
    expect(readCaseSearch('')).toBeNull();
    expect(readCaseSearch('   ')).toBeNull();
    expect(readCaseSearch(ID)).toEqual({ kind: 'full', ids: { from: ID, to: ID }, text: ID });
    expect(readCaseSearch(` ${ID.toUpperCase()} `)).toEqual({ kind: 'full', ids: { from: ID, to: ID }, text: ID.toUpperCase() });
    const short = { from: '1a2b3c4d-0000-0000-0000-000000000000', to: '1a2b3c4d-ffff-ffff-ffff-ffffffffffff' };
    expect(readCaseSearch('1a2b3c4d')).toEqual({ kind: 'short', ids: short, text: '1a2b3c4d' });
    expect(readCaseSearch('1A2B 3C4D')).toMatchObject({ kind: 'short', ids: short });
  });

  it('calls anything else not an id', () => {
    for (const bad of ['1a2b3c4', '1a2b3c4d0', '1a2b3c4g', 'case 1a2b3c4d', "1a2b3c4d' or 1=1", '%', ID.slice(0, 35), `${ID}0`, '\u0000']) {
      expect(readCaseSearch(bad), bad).toMatchObject({ kind: 'bad' });
    }
  });

  it('looks at every case, whatever the other filters', () => {
    const { query, params, search } = parseQueueParams({ id: '1a2b3c4d', status: 'closed', category: 'family', sort: 'oldest' }, KNOWN);
    expect(search).toMatchObject({ kind: 'short' });
    expect(query).toEqual({
      ...DEFAULT_QUEUE_QUERY,
      status: 'all',
      ids: { from: '1a2b3c4d-0000-0000-0000-000000000000', to: '1a2b3c4d-ffff-ffff-ffff-ffffffffffff' },
    });
    expect(params).toMatchObject({ status: 'all', category: '', sort: 'triage', id: '1a2b3c4d' });
    expect(queueHref(params)).toBe('/staff/cases?status=all&id=1a2b3c4d');
    // Not an id: nothing to look up, and the filters are still reset.
    const bad = parseQueueParams({ id: 'nonsense', category: 'family' }, KNOWN);
    expect(bad.search).toEqual({ kind: 'bad', text: 'nonsense' });
    expect(bad.query.ids).toBeNull();
    expect(bad.query.category).toBeNull();
    // Repeated or overlong: ignored.
    expect(parseQueueParams({ id: ['1a2b3c4d', 'x'] }, KNOWN).search).toBeNull();
  });
});

describe('queue parameters', () => {
  it('knows the same workflow statuses as the case page', () => {
    expect(CASE_STATUSES).toEqual(STATUSES);
  });

  it('defaults to open cases in triage order (urgent, overdue, then longest waiting), no filters, first page', () => {
    const { query, params, search } = parseQueueParams({}, KNOWN);
    expect(query).toEqual(DEFAULT_QUEUE_QUERY);
    expect(query.sort).toBe('triage');
    expect(search).toBeNull();
    expect(params).toMatchObject({ status: 'open', sort: 'triage', cursor: '', id: '' });
  });

  it('reads every filter', () => {
    const cursor = encodeCursor({ sort: 'urgent', createdAt: '2026-03-01T10:20:30.123456Z', id: ID, urgent: true });
    const { query, params } = parseQueueParams(
      {
        status: 'in_progress',
        category: 'family',
        urgent: 'yes',
        community: 'uyghur',
        region: 'wales',
        assignee: COLLEAGUE,
        label: 'hendon',
        unread: 'no',
        overdue: 'yes',
        deleting: 'yes',
        sort: 'urgent',
        cursor,
      },
      KNOWN,
    );
    expect(query).toEqual({
      status: 'in_progress',
      category: 'family',
      urgent: true,
      community: 'uyghur',
      region: 'wales',
      assignee: COLLEAGUE,
      label: 'hendon',
      unread: false,
      overdue: true,
      deleting: true,
      sort: 'urgent',
      cursor: decodeCursor(cursor),
      ids: null,
      teamKeyIds: null,
    });
    expect(params.cursor).toBe(cursor);
  });

  it("resolves 'me' to the signed-in user and keeps 'none'", () => {
    expect(parseQueueParams({ assignee: 'me' }, KNOWN)).toMatchObject({ query: { assignee: ME }, params: { assignee: 'me' } });
    expect(parseQueueParams({ assignee: 'none' }, KNOWN).query.assignee).toBe('none');
  });

  it('resets each unknown, repeated or malformed value to its default, never throws', () => {
    const { query, params } = parseQueueParams(
      {
        status: 'deleted',
        category: ['family', 'digital'], // repeated parameter
        urgent: 'maybe',
        community: 'martian',
        region: { $ne: null },
        assignee: '00000000-0000-4000-8000-000000000000', // not a caseworker here
        label: 'never-used',
        unread: 'true',
        overdue: '\u0000yes',
        deleting: 'soon',
        sort: 'random()',
        cursor: 'garbage',
      },
      KNOWN,
    );
    expect(query).toEqual(DEFAULT_QUEUE_QUERY);
    expect(params).toEqual({
      status: 'open',
      category: '',
      urgent: '',
      community: '',
      region: '',
      assignee: '',
      label: '',
      unread: '',
      overdue: '',
      deleting: '',
      sort: 'triage',
      cursor: '',
      id: '',
    });
  });

  it('ignores a cursor made for another sort order', () => {
    const cursor = encodeCursor({ sort: 'newest', createdAt: '2026-03-01T10:20:30.123456Z', id: ID, urgent: false });
    const { query, params } = parseQueueParams({ sort: 'oldest', cursor }, KNOWN);
    expect(query.cursor).toBeNull();
    expect(params.cursor).toBe('');
  });

  it('builds short links: defaults and empty values left out, filters kept', () => {
    expect(queueHref({})).toBe('/staff/cases');
    expect(queueHref({ status: 'open', sort: 'triage', category: '', id: '' })).toBe('/staff/cases');
    expect(queueHref({ sort: 'newest' })).toBe('/staff/cases?sort=newest');
    expect(queueHref({ status: 'closed', category: 'family', label: 'a b&c', cursor: 'xyz' })).toBe(
      '/staff/cases?status=closed&category=family&label=a+b%26c&cursor=xyz',
    );
  });
});
