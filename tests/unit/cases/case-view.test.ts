import { beforeAll, describe, expect, it } from 'vitest';
import type { CaseRow } from '../../../server/cases/access.js';
import { CASE_NOTICES, caseView, noticeFor, noticeHref, type CaseData } from '../../../server/cases/case-view.js';
import { DEFAULT_LISTS, LIST_NAMES, type Lists } from '../../../server/settings/lists.js';
import { initI18n } from '../../../server/i18n/index.js';

const ID = '1a2b3c4d-0000-4000-8000-00000000abcd';
const AYLIN = '99999999-0000-4000-8000-000000000001';
const TOM = '99999999-0000-4000-8000-000000000002';
const NOW = new Date('2026-07-10T12:00:00Z');

const LISTS = Object.fromEntries(
  LIST_NAMES.map((name) => [name, DEFAULT_LISTS[name].map((code) => ({ code, labels: {}, retired: false }))]),
) as Lists;
LISTS.label.push(
  { code: 'label_1', labels: { en: 'Hendon' }, retired: false },
  { code: 'label_2', labels: { en: 'Old office' }, retired: true },
  { code: 'label_3', labels: { en: 'Closed branch' }, retired: true },
);

/** Only the columns the view reads; the rest of the row is the handler's business. */
function row(patch: Partial<CaseRow> = {}): CaseRow {
  return {
    id: ID,
    status: 'new',
    closing_outcome: null,
    urgent: false,
    assignee_id: null,
    labels: [],
    created_at: new Date('2026-07-01T09:00:00Z'),
    submitted_at: new Date('2026-07-01T09:00:00Z'),
    triaged_at: null,
    closed_at: null,
    first_response_at: null,
    ...patch,
  } as CaseRow;
}

function data(patch: Partial<CaseData> = {}): CaseData {
  return {
    row: row(),
    report: { narrative: 'text', consent: 'yes', fields: [] },
    evidence: [],
    notes: [],
    messages: [],
    referrals: [],
    links: [],
    history: [],
    historyTruncated: false,
    caseworkers: [
      { id: AYLIN, name: 'Aylin Demir' },
      { id: TOM, name: 'Tom Hughes' },
    ],
    lists: LISTS,
    closedRetentionDays: 365,
    deletesAt: null,
    now: NOW,
    ...patch,
  };
}

beforeAll(async () => {
  await initI18n();
});

describe('caseView', () => {
  it('names the case, its status and the moves open from it; an untriaged case can be deleted as spam', () => {
    const v = caseView(data());
    expect(v.title).toBe('Case 1a2b3c4d');
    expect(v.c.shortId).toBe('1a2b3c4d');
    expect(v.c.statusLabel).toBe('New');
    expect(v.nextStatuses.map((s) => s.value)).toEqual(['triaged', 'in_progress', 'closed']);
    expect(v.c.deletableAsSpam).toBe(true);
    expect(v.consentGiven).toBe(true);
    expect(v.errorList).toEqual([]);
    expect(v.notice).toBeNull();

    const triaged = caseView(data({ row: row({ status: 'triaged', triaged_at: NOW }) }));
    expect(triaged.c.deletableAsSpam).toBe(false);
    expect(caseView(data({ row: row({ status: 'closed' }) })).nextStatuses).toEqual([]);
  });

  it('flags a deletion within the notice period, counted from the moment given, not the clock', () => {
    const soon = new Date(NOW.getTime() + 13 * 86_400_000);
    const later = new Date(NOW.getTime() + 15 * 86_400_000);
    expect(caseView(data({ deletesAt: soon })).c.deletingSoon).toBe(true);
    expect(caseView(data({ deletesAt: later })).c.deletingSoon).toBe(false);
    expect(caseView(data({ deletesAt: null })).c.deletingSoon).toBe(false);
    expect(caseView(data()).today).toBe('2026-07-10');
  });

  it('offers every current label and a retired one only while the case still has it', () => {
    const v = caseView(data({ row: row({ labels: ['label_2'] }) }));
    const byCode = new Map(v.labelOptions.map((o) => [o.code, o]));
    expect(byCode.get('label_1')).toEqual({ code: 'label_1', label: 'Hendon', checked: false });
    expect(byCode.get('label_2')).toEqual({ code: 'label_2', label: 'Old office (retired)', checked: true });
    expect(byCode.has('label_3')).toBe(false);
    expect(v.c.labels).toEqual(['Old office']);
  });

  it('tells the history in words: names for assignees, labels for statuses, the system when no one acted', () => {
    const history: CaseData['history'] = [
      { kind: 'action', seq: 3, at: NOW, action: 'case.assigned', details: { from: TOM, to: AYLIN }, actor_name: 'Tom Hughes' },
      {
        kind: 'action',
        seq: 2,
        at: NOW,
        action: 'case.status_changed',
        details: { from: 'new', to: 'in_progress', outcome: null },
        actor_name: null,
      },
      { kind: 'action', seq: 1, at: NOW, action: 'case.unknown_future_action', details: {}, actor_name: 'Tom Hughes' },
    ];
    const v = caseView(data({ history }));
    expect(v.history[0]).toMatchObject({ actor: 'Tom Hughes', action: 'Changed the assignee' });
    expect(v.history[0]!.details).toEqual([
      { key: 'from', value: 'Tom Hughes' },
      { key: 'to', value: 'Aylin Demir' },
    ]);
    expect(v.history[1]!.actor).toBe('System');
    expect(v.history[1]!.details).toEqual([
      { key: 'from', value: 'New' },
      { key: 'to', value: 'In progress' },
      { key: 'outcome', value: '–' },
    ]);
    expect(v.history[2]).toMatchObject({ action: 'case.unknown_future_action', details: [] });
    expect(v.historyTruncated).toBe(false);
  });

  it('after refused input: an error title, the message by its field, and what was typed kept', () => {
    const v = caseView(data(), {
      status: 422,
      errors: { note: 'Write the note.' },
      form: { note: 'half a thought', notes: ['n1', 'n2'], message: ['not', 'text'] },
    });
    expect(v.title).toBe('Error: Case 1a2b3c4d');
    expect(v.errorList).toEqual([{ field: 'note', message: 'Write the note.' }]);
    expect(v.draft('note')).toBe('half a thought');
    expect(v.draft('message')).toBe(''); // a repeated field is not text this form sent
    expect(v.chosenNoteIds).toEqual(['n1', 'n2']);
  });

  it('folds readings into one line per person per day: the day, the count, images shown beside it', () => {
    const history: CaseData['history'] = [
      { kind: 'reading', seq: 9, at: NOW, day: '2026-07-10', actor_name: 'Aylin Demir', views: 5, images: 3 },
      { kind: 'reading', seq: 7, at: NOW, day: '2026-07-09', actor_name: 'Tom Hughes', views: 1, images: 0 },
      { kind: 'reading', seq: 4, at: NOW, day: '2026-07-08', actor_name: 'Tom Hughes', views: 0, images: 2 },
    ];
    const v = caseView(data({ history, historyTruncated: true }));
    expect(v.history[0]).toMatchObject({
      actor: 'Aylin Demir',
      action: 'Viewed the case (5 times)',
      day: { iso: '2026-07-10', text: '10 Jul 2026' },
    });
    expect(v.history[0]!.details).toEqual([{ key: 'images shown', value: '3' }]);
    expect(v.history[1]).toMatchObject({ actor: 'Tom Hughes', action: 'Viewed the case', details: [] });
    expect(v.history[2]).toMatchObject({ action: 'Viewed images on the case page (2 times)' });
    expect(v.historyTruncated).toBe(true);
  });

  it('after refused input in a section, the message is shown in that section', () => {
    const v = caseView(data(), { status: 422, errors: { link_case: 'No such case.' }, section: 'links' });
    expect(v.problem).toEqual({ section: 'links', id: 'links-problem' });
    expect(caseView(data()).problem).toBeNull();
  });

  it('an answer about a section the page does not show (spam of a triaged case, retention of an open one) goes to the top', () => {
    const triaged = data({ row: row({ status: 'triaged', triaged_at: NOW }) });
    expect(caseView(triaged, { status: 422, errors: { confirm_spam: 'No.' }, section: 'spam' }).problem).toEqual({
      section: null,
      id: 'case-problem',
    });
    expect(caseView(data(), { status: 422, errors: { confirm_spam: 'No.' }, section: 'spam' }).problem).toEqual({
      section: 'spam',
      id: 'spam-problem',
    });
    const kept = noticeFor({ notice: 'retention' });
    expect(caseView(data(), { notice: kept }).notice).toMatchObject({ section: null, id: 'retention-notice' });
    expect(caseView(data({ deletesAt: NOW }), { notice: kept }).notice).toMatchObject({ section: 'retention', id: 'retention-notice' });
  });

  it('shows a notice only for the codes the case actions return, in the section acted on', () => {
    for (const code of CASE_NOTICES) expect(noticeFor({ notice: code })?.text, code).toEqual(expect.any(String));
    expect(noticeFor({ notice: 'note' })).toEqual({ code: 'note', text: 'Your note is added.', section: 'notes', id: 'notes-notice' });
    expect(noticeFor({ notice: 'reopened' })).toMatchObject({ section: 'status', id: 'status-notice' });
    expect(noticeFor({ notice: 'unlinked' })).toMatchObject({ section: 'links', id: 'links-notice' });
    expect(noticeHref(ID, 'referral')).toBe(`/staff/cases/${ID}?notice=referral#referrals-notice`);
    expect(noticeFor({ notice: '__proto__' })).toBeNull();
    expect(noticeFor({ notice: 'constructor' })).toBeNull();
    expect(noticeFor({ notice: 'deleted' })).toBeNull(); // the queue's, not the case page's
    expect(noticeFor({ notice: ['note', 'note'] })).toBeNull();
    expect(noticeFor({})).toBeNull();
  });
});
