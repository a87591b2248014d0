import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { VALID_REPORT, fileReport, type Agent } from '../helpers/reporter.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

// Convention 17: a decrypted page is an audited read, whichever path renders
// it. A caseworker who posts a form bound to fail (an empty note, spam
// without the tick) gets the whole decrypted case back with the 422: each
// such page must leave a case.viewed entry, as opening the case does.

let t: TestApp;
let worker: TestStaff;
let agent: Agent;
let caseId: string;
const NARRATIVE = VALID_REPORT['narrative'] as string;

async function views(id = caseId) {
  return t.testDb.db
    .selectFrom('audit_log')
    .select(['details'])
    .where('case_id', '=', id)
    .where('actor_id', '=', worker.id)
    .where('action', '=', 'case.viewed')
    .orderBy('seq')
    .execute();
}

async function post(path: string, fields: Record<string, string | string[]>, id = caseId) {
  const token = await staffCsrf(agent, `/staff/cases/${id}`); // itself a view: counted before the POST below
  return agent
    .post(`/staff/cases/${id}${path}`)
    .type('form')
    .send({ _csrf: token, ...fields });
}

/** A case of the calling test's own, when it changes the case (the shared one stays open). */
async function ownCase(): Promise<string> {
  await fileReport(t.app, VALID_REPORT);
  return (
    await t.testDb.db
      .selectFrom('reports')
      .select('id')
      .where('state', '=', 'submitted')
      .orderBy('submitted_at', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow()
  ).id;
}

beforeAll(async () => {
  t = await createTestApp();
  worker = await addStaff(t, { roles: ['caseworker'] });
  await fileReport(t.app, VALID_REPORT, [{ name: 'notes.txt', content: Buffer.from('a note\n') }]);
  caseId = (await t.testDb.db.selectFrom('reports').select('id').where('state', '=', 'submitted').executeTakeFirstOrThrow()).id;
  agent = await signInStaff(t, worker);
});
afterAll(async () => {
  await t?.close();
});

/** Every refused input of every case action on an open case: the path, the form, and the field it is refused on. */
const OPEN_CASE_REFUSALS: [string, Record<string, string | string[]>, string][] = [
  ['/status', { status: 'sideways' }, 'status'],
  ['/status', { status: 'new' }, 'status'],
  ['/status', { status: 'referred' }, 'status'],
  ['/status', { status: 'closed' }, 'outcome'],
  ['/urgency', { urgent: 'maybe' }, 'urgent'],
  ['/assignee', { assignee: '00000000-0000-4000-8000-000000000000' }, 'assignee'],
  ['/labels', { labels: 'a name someone typed' }, 'labels'],
  ['/links', { link_case: '00000000-0000-4000-8000-000000000000' }, 'link_case'],
  ['/links', { link_case: '' }, 'link_case'],
  ['/notes', { note: '' }, 'note'],
  ['/notes', { note: 'x'.repeat(10_001) }, 'note'],
  ['/messages', { message: '   ' }, 'message'],
  ['/referrals', { destination: 'interpol' }, 'destination'],
  ['/referrals', { destination: 'local_police', referred_on: '2026-02-30' }, 'referred_on'],
  ['/referrals', { destination: 'local_police', referred_on: '2026-01-05', notes: 'not-a-note' }, 'notes'],
  ['/referrals', { destination: 'local_police', referred_on: '2026-01-05' }, 'override_reason'], // consent is "talk first"
  ['/retention', { retain_until: '2030-01-01', retain_reason: 'x' }, 'retain_until'], // not closed
  ['/spam', {}, 'confirm_spam'],
];

describe('every 422 re-render of a case action is an audited read', () => {
  it.each(OPEN_CASE_REFUSALS.map(([path, form, field]) => [path, field, form] as const))(
    'POST %s refused on %s shows the case and records a view',
    async (path, field, form) => {
      const before = (await views()).length;
      const res = await post(path, form);
      expect(res.status).toBe(422);
      expect(res.text).toContain(NARRATIVE); // the whole decrypted case is on this page…
      const after = await views();
      expect(after).toHaveLength(before + 2); // …so the page fetched for the token and this one are both on record
      expect(after.at(-1)!.details).toEqual({ refused: field });
    },
  );

  it('on a closed case too: reopening without a reason, keeping it without a valid date', async () => {
    const closed = await ownCase();
    expect((await post('/status', { status: 'closed', outcome: 'duplicate' }, closed)).status).toBe(303);
    const refusals: [string, Record<string, string>, string][] = [
      ['/status', { status: 'in_progress', reopen_reason: '' }, 'reopen_reason'],
      ['/status', { status: 'triaged' }, 'status'],
      ['/retention', { retain_until: '2026-02-30', retain_reason: 'x' }, 'retain_until'],
      ['/retention', { retain_until: '2099-01-01', retain_reason: 'x' }, 'retain_until'],
      ['/referrals', { destination: 'local_police', referred_on: '2026-01-05', override_reason: 'x' }, 'destination'],
    ];
    for (const [path, form, field] of refusals) {
      const before = (await views(closed)).length;
      const res = await post(path, form, closed);
      expect(res.status, `${path} ${JSON.stringify(form)}`).toBe(422);
      expect(res.text).toContain(NARRATIVE);
      const after = await views(closed);
      expect(after).toHaveLength(before + 2);
      expect(after.at(-1)!.details).toEqual({ refused: field });
    }
  });

  it('sixteen refused posts at once leave sixteen entries', async () => {
    const token = await staffCsrf(agent, `/staff/cases/${caseId}`);
    const before = (await views()).length;
    const all = await Promise.all(
      Array.from({ length: 16 }, () => agent.post(`/staff/cases/${caseId}/notes`).type('form').send({ _csrf: token, note: '' })),
    );
    expect(all.map((r) => r.status)).toEqual(Array(16).fill(422));
    expect((await views()).length).toBe(before + 16);
  });

  it('a refused action stores nothing but the view entry', async () => {
    const notes = () => t.testDb.db.selectFrom('case_notes').select('id').orderBy('id').execute();
    const others = () =>
      t.testDb.db.selectFrom('audit_log').select('seq').where('case_id', '=', caseId).where('action', '<>', 'case.viewed').orderBy('seq').execute();
    const [notesBefore, othersBefore] = [await notes(), await others()];
    await post('/notes', { note: '' });
    expect(await notes()).toEqual(notesBefore);
    expect(await others()).toEqual(othersBefore);
  });
});
