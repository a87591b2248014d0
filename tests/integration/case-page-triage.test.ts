import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditPast } from '../../server/audit/log.js';
import { newKeyPair, sealTo } from '../../server/crypto/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { insertReports } from '../helpers/reports.js';
import { VALID_REPORT, fileReport, type Agent } from '../helpers/reporter.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

// The case page built for triage (issue 11): the answer to an action is
// shown next to the part of the page acted on, with focus moved to it (a
// #fragment naming it, no script needed); the history folds page views into
// one line per person per day while the audit log keeps each; the reporter's
// language has a name a caseworker can read; a case is linked by its short id.

let t: TestApp;
let casey: TestStaff;
let robin: TestStaff;
let agent: Agent;
let caseId: string;
let otherCaseId: string;

async function latestCaseId(): Promise<string> {
  const row = await t.testDb.db
    .selectFrom('reports')
    .select('id')
    .where('state', '=', 'submitted')
    .orderBy('submitted_at', 'desc')
    .limit(1)
    .executeTakeFirstOrThrow();
  return row.id;
}

async function post(path: string, fields: Record<string, string | string[]>, as = agent) {
  const token = await staffCsrf(as, `/staff/cases/${caseId}`);
  return as
    .post(path)
    .type('form')
    .send({ _csrf: token, ...fields });
}

/**
 * The id of the <section> an element sits in, and the id of the heading
 * nearest above it in that section (the sub-part of the side column).
 */
function placeOf(html: string, id: string): { section: string | null; heading: string | null; at: number } {
  const at = html.indexOf(`id="${id}"`);
  if (at < 0) return { section: null, heading: null, at };
  const before = html.slice(0, at);
  const open = before.lastIndexOf('<section id="');
  const closed = before.lastIndexOf('</section>');
  const section = open > closed ? /^<section id="([^"]+)"/.exec(before.slice(open))![1]! : null;
  const headings = [...before.slice(Math.max(open, 0)).matchAll(/<h[23] id="([^"]+)"/g)];
  return { section, heading: headings.at(-1)?.[1] ?? null, at };
}

/** The element with this id, as written: its opening tag. */
const tagOf = (html: string, id: string) => new RegExp(`<[a-z]+ [^>]*id="${id}"[^>]*>`).exec(html)?.[0] ?? '';

/**
 * Each action's form, a valid and a refused submission, the notice it ends
 * on, the section (and the heading within it) where its answer must appear.
 */
type Kind = {
  name: string;
  path: string;
  ok: Record<string, string | string[]>;
  bad: Record<string, string | string[]> | null;
  code: string;
  section: string;
  where: { section: string; heading: string };
  before?: () => Promise<void>;
};

const today = () =>
  new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/London', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());

function kinds(): Kind[] {
  const c = `/staff/cases/${caseId}`;
  const closeIt = async () => void expect((await post(`${c}/status`, { status: 'closed', outcome: 'support_given' })).status).toBe(303);
  const linkIt = async () => void expect((await post(`${c}/links`, { link_case: otherCaseId })).status).toBe(303);
  return [
    {
      name: 'status',
      path: `${c}/status`,
      ok: { status: 'triaged' },
      bad: { status: 'sideways' },
      code: 'status',
      section: 'status',
      where: { section: 'workflow', heading: 'status-title' },
    },
    {
      name: 'reopen',
      path: `${c}/status`,
      ok: { status: 'in_progress', reopen_reason: 'They wrote again.' },
      bad: { status: 'in_progress', reopen_reason: '' },
      code: 'reopened',
      section: 'status',
      where: { section: 'workflow', heading: 'status-title' },
      before: closeIt,
    },
    {
      name: 'urgency',
      path: `${c}/urgency`,
      ok: { urgent: 'yes' },
      bad: { urgent: 'maybe' },
      code: 'urgency',
      section: 'urgency',
      where: { section: 'workflow', heading: 'urgency-title' },
    },
    {
      name: 'assignee',
      path: `${c}/assignee`,
      ok: { assignee: casey.id },
      bad: { assignee: 'not-a-person' },
      code: 'assignee',
      section: 'assignee',
      where: { section: 'workflow', heading: 'assignee-title' },
    },
    {
      name: 'labels',
      path: `${c}/labels`,
      ok: { labels: [] },
      bad: { labels: 'typed words' },
      code: 'labels',
      section: 'labels',
      where: { section: 'workflow', heading: 'labels-title' },
    },
    {
      name: 'link',
      path: `${c}/links`,
      ok: { link_case: otherCaseId },
      bad: { link_case: 'nonsense' },
      code: 'linked',
      section: 'links',
      where: { section: 'links-section', heading: 'links-title' },
    },
    {
      name: 'link again',
      path: `${c}/links`,
      ok: { link_case: otherCaseId },
      bad: null,
      code: 'already_linked',
      section: 'links',
      where: { section: 'links-section', heading: 'links-title' },
      before: linkIt,
    },
    {
      name: 'unlink',
      path: `${c}/links/${otherCaseId}/delete`,
      ok: {},
      bad: null,
      code: 'unlinked',
      section: 'links',
      where: { section: 'links-section', heading: 'links-title' },
      before: linkIt,
    },
    {
      name: 'note',
      path: `${c}/notes`,
      ok: { note: 'Called back.' },
      bad: { note: '' },
      code: 'note',
      section: 'notes',
      where: { section: 'notes-section', heading: 'notes-title' },
    },
    {
      name: 'reply',
      path: `${c}/messages`,
      ok: { message: 'Thank you.' },
      bad: { message: '' },
      code: 'message',
      section: 'messages',
      where: { section: 'messages-section', heading: 'messages-title' },
    },
    {
      name: 'referral',
      path: `${c}/referrals`,
      ok: { destination: 'local_police', referred_on: today(), crime_reference: '', override_reason: 'Threat to life.' },
      bad: { destination: 'the moon', referred_on: today() },
      code: 'referral',
      section: 'referrals',
      where: { section: 'referrals', heading: 'referrals-title' },
    },
    {
      name: 'retention',
      path: `${c}/retention`,
      ok: { retain_until: new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10), retain_reason: 'A court date.' },
      bad: { retain_until: 'soon', retain_reason: 'A court date.' },
      code: 'retention',
      section: 'retention',
      where: { section: 'retention', heading: 'retention-title' },
      before: closeIt,
    },
  ];
}

beforeAll(async () => {
  t = await createTestApp();
  casey = await addStaff(t, { roles: ['caseworker'], name: 'Casey Worker' });
  robin = await addStaff(t, { roles: ['caseworker'], name: 'Robin Second' });
  agent = await signInStaff(t, casey);
});
beforeEach(async () => {
  await fileReport(t.app, VALID_REPORT);
  caseId = await latestCaseId();
  await fileReport(t.app, { ...VALID_REPORT, narrative: 'Another report about the same man.' });
  otherCaseId = await latestCaseId();
});
afterAll(async () => {
  await t?.close();
});

describe('the answer to an action is next to the section acted on', () => {
  it('each kind of action redirects to its confirmation, inside its section, focusable and announced; none at the top', async () => {
    const seen = new Set<string>();
    for (const name of kinds().map((k) => k.name)) {
      // A fresh case for each, so one action's state does not decide the next.
      await fileReport(t.app, VALID_REPORT);
      caseId = await latestCaseId();
      const kind = kinds().find((x) => x.name === name)!;
      await kind.before?.();
      const res = await post(kind.path, kind.ok);
      expect(res.status, kind.name).toBe(303);
      const id = `${kind.section}-notice`;
      expect(res.headers['location'], kind.name).toBe(`/staff/cases/${caseId}?notice=${kind.code}#${id}`);
      const page = (await agent.get(res.headers['location'] as string)).text;
      const place = placeOf(page, id);
      expect(place.section, `${kind.name}: the section`).toBe(kind.where.section);
      expect(place.heading, `${kind.name}: the part of the section`).toBe(kind.where.heading);
      const tag = tagOf(page, id);
      expect(tag, kind.name).toContain('tabindex="-1"');
      expect(tag, kind.name).toContain('role="status"');
      // Exactly one confirmation, and nothing announced above the case summary.
      expect(page.match(/class="notice notice--success"/g), kind.name).toHaveLength(1);
      expect(page.indexOf('notice--success'), kind.name).toBeGreaterThan(page.indexOf('class="summary case-summary"'));
      seen.add(kind.code);
    }
    // Every notice the case page knows was walked.
    const { CASE_NOTICES } = await import('../../server/cases/case-view.js');
    expect([...seen].sort()).toEqual([...CASE_NOTICES].sort());
  });

  it('refused input (422) is shown inside the section whose form was sent, and focused on load', async () => {
    for (const name of kinds()
      .filter((k) => k.bad)
      .map((k) => k.name)) {
      await fileReport(t.app, VALID_REPORT);
      caseId = await latestCaseId();
      const k = kinds().find((x) => x.name === name)!;
      await k.before?.();
      const res = await post(k.path, k.bad!);
      expect(res.status, k.name).toBe(422);
      const id = `${k.section}-problem`;
      const place = placeOf(res.text, id);
      expect(place.section, `${k.name}: the section`).toBe(k.where.section);
      expect(place.heading, `${k.name}: the part of the section`).toBe(k.where.heading);
      const tag = tagOf(res.text, id);
      expect(tag, k.name).toContain('role="alert"');
      expect(tag, k.name).toContain('tabindex="-1"');
      expect(tag, k.name).toContain('autofocus');
      expect(res.text.match(/class="error-summary"/g), k.name).toHaveLength(1);
      expect(res.text.match(/ autofocus/g), k.name).toHaveLength(1);
      expect(res.text.indexOf('error-summary'), k.name).toBeGreaterThan(res.text.indexOf('class="summary case-summary"'));
    }
  });

  it('spam deletion refused: the message is in the spam section, or at the top once the section is gone', async () => {
    const res = await post(`/staff/cases/${caseId}/spam`, {});
    expect(res.status).toBe(422);
    expect(placeOf(res.text, 'spam-problem').section).toBe('spam');
    // Once triaged the spam section is gone: the refusal is at the top of the page, never lost.
    expect((await post(`/staff/cases/${caseId}/status`, { status: 'triaged' })).status).toBe(303);
    const triaged = await post(`/staff/cases/${caseId}/spam`, { confirm_spam: 'yes' });
    expect(triaged.status).toBe(422);
    expect(tagOf(triaged.text, 'case-problem')).toContain('autofocus');
    expect(triaged.text).toContain('Only a report nobody has triaged can be deleted as spam.');
    expect(placeOf(triaged.text, 'case-problem').at).toBeLessThan(triaged.text.indexOf('class="summary case-summary"'));
  });

  it('an unknown or inherited notice code shows nothing', async () => {
    for (const code of ['__proto__', 'constructor', 'deleted', 'toString']) {
      const page = await agent.get(`/staff/cases/${caseId}?notice=${code}`);
      expect(page.status).toBe(200);
      expect(page.text).not.toContain('notice--success');
    }
  });
});

describe('the history folds views into one line per person per day', () => {
  it('several views by two people on two days: four lines with the right counts; the audit log keeps every view', async () => {
    await fileReport(t.app, VALID_REPORT, [{ name: 'p.png', content: await tinyPng() }]);
    caseId = await latestCaseId();
    const evidenceId = (await t.testDb.db.selectFrom('evidence').select('id').where('report_id', '=', caseId).executeTakeFirstOrThrow()).id;
    // Yesterday (UK): Casey 2 views, Robin 1 view and 2 image loads; written as they happened, earlier.
    const yesterday = new Date(Date.now() - 86_400_000);
    const at = (minutes: number) => new Date(yesterday.getTime() + minutes * 60_000);
    await auditPast(t.testDb.db, [
      { action: 'case.viewed', actorId: casey.id, caseId, at: at(0) },
      { action: 'case.viewed', actorId: robin.id, caseId, at: at(1) },
      { action: 'case.evidence_downloaded', actorId: robin.id, caseId, at: at(1), details: { evidenceId, inline: true } },
      { action: 'case.evidence_downloaded', actorId: robin.id, caseId, at: at(2), details: { evidenceId, inline: true } },
      { action: 'case.viewed', actorId: casey.id, caseId, at: at(3) },
    ]);
    // Today: Robin 2 views and one download (an action, not folded); Casey acts, then 3 views (the last one is the page read below).
    const robinAgent = await signInStaff(t, robin);
    for (let i = 0; i < 2; i++) expect((await robinAgent.get(`/staff/cases/${caseId}`)).status).toBe(200);
    expect((await robinAgent.get(`/staff/cases/${caseId}/evidence/${evidenceId}`)).status).toBe(200);
    expect((await post(`/staff/cases/${caseId}/notes`, { note: 'Spoke to them.' })).status).toBe(303); // + 1 view (its CSRF page)
    expect((await agent.get(`/staff/cases/${caseId}`)).status).toBe(200);
    const page = (await agent.get(`/staff/cases/${caseId}`)).text;

    const rows = historyRows(page);
    const readings = rows.filter((r) => r.what.startsWith('Viewed'));
    const day = (d: Date) => new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'Europe/London' }).format(d);
    expect(readings).toEqual([
      { when: day(new Date()), who: 'Casey Worker', what: 'Viewed the case (3 times)', details: '' },
      { when: day(new Date()), who: 'Robin Second', what: 'Viewed the case (2 times)', details: '' },
      { when: day(yesterday), who: 'Casey Worker', what: 'Viewed the case (2 times)', details: '' },
      { when: day(yesterday), who: 'Robin Second', what: 'Viewed the case', details: 'images shown: 2' },
    ]);
    // What people did stays one line each; a download (not inline) is an action.
    expect(rows.filter((r) => r.what === 'Added an internal note')).toHaveLength(1);
    expect(rows.filter((r) => r.what === 'Opened or downloaded a file')).toHaveLength(1);
    // The audit log still has each view (3 + 2 today, 3 yesterday) and each image load.
    const views = await t.testDb.db
      .selectFrom('audit_log')
      .select('actor_id')
      .where('case_id', '=', caseId)
      .where('action', '=', 'case.viewed')
      .execute();
    expect(views.filter((v) => v.actor_id === casey.id)).toHaveLength(5);
    expect(views.filter((v) => v.actor_id === robin.id)).toHaveLength(3);
  });

  it('the day is the UK day: a view at 23:30 UTC in summer counts for the next day', async () => {
    await auditPast(t.testDb.db, [
      { action: 'case.viewed', actorId: robin.id, caseId, at: new Date('2026-07-01T22:30:00Z') },
      { action: 'case.viewed', actorId: robin.id, caseId, at: new Date('2026-07-01T23:30:00Z') },
      { action: 'case.viewed', actorId: robin.id, caseId, at: new Date('2026-07-02T12:00:00Z') },
    ]);
    const rows = historyRows((await agent.get(`/staff/cases/${caseId}`)).text).filter((r) => r.who === 'Robin Second');
    expect(rows).toEqual([
      { when: '2 Jul 2026', who: 'Robin Second', what: 'Viewed the case (2 times)', details: '' },
      { when: '1 Jul 2026', who: 'Robin Second', what: 'Viewed the case', details: '' },
    ]);
  });

  it('a busy case: thousands of views become a bounded history, said to be truncated', async () => {
    const start = Date.UTC(2024, 0, 1, 12);
    const entries = Array.from({ length: 2400 }, (_, i) => ({
      action: 'case.viewed' as const,
      actorId: i % 2 ? casey.id : robin.id,
      caseId,
      at: new Date(start + Math.floor(i / 4) * 86_400_000), // two views each, per person per day, for 600 days
    }));
    await auditPast(t.testDb.db, entries);
    const page = (await agent.get(`/staff/cases/${caseId}`)).text;
    const rows = historyRows(page);
    expect(rows.length).toBe(500);
    expect(page).toContain('latest entries only');
    // The newest lines are kept: today's view is the first.
    expect(rows[0]!.what).toBe('Viewed the case');
    expect(rows.filter((r) => r.what === 'Viewed the case (2 times)').length).toBeGreaterThan(400);
  });
});

describe('the reporter’s language has a readable name', () => {
  it('shows the language for replies by its English name with its own beside it, not a code', async () => {
    await fileReport(t.app, {
      ...VALID_REPORT,
      follow_up: 'contact',
      contact_method: 'email',
      contact_value: 'a@example.org',
      contact_language: 'ug',
    });
    const id = await latestCaseId();
    const page = (await agent.get(`/staff/cases/${id}`)).text;
    expect(page).toContain('a@example.org (replies in Uyghur (\u2068ئۇيغۇرچە\u2069))');
    await fileReport(t.app, {
      ...VALID_REPORT,
      follow_up: 'contact',
      contact_method: 'email',
      contact_value: 'b@example.org',
      contact_language: 'zh-hant',
    });
    expect((await agent.get(`/staff/cases/${await latestCaseId()}`)).text).toContain('(replies in Traditional Chinese (\u2068繁體中文\u2069))');
    await fileReport(t.app, {
      ...VALID_REPORT,
      follow_up: 'contact',
      contact_method: 'email',
      contact_value: 'c@example.org',
      contact_language: 'en',
    });
    expect((await agent.get(`/staff/cases/${await latestCaseId()}`)).text).toContain('(replies in English)');
  });
});

describe('linking by short id', () => {
  /** A submitted case with a chosen id; its data key sealed to the team key (openable) or to someone else's key (not). */
  async function caseWithId(id: string, openable: boolean): Promise<string> {
    const [placeholder] = await insertReports(t, 1);
    const sealedTo = openable ? t.team!.keyPair.publicKey : newKeyPair().publicKey;
    await t.testDb.db
      .updateTable('reports')
      .set({ id, data_key_sealed: sealTo(randomBytes(32), sealedTo), restricted: !openable })
      .where('id', '=', placeholder!)
      .execute();
    return id;
  }
  const prefix = () => randomBytes(4).toString('hex');
  const linked = (a: string, b: string) =>
    t.testDb.db
      .selectFrom('case_links')
      .selectAll()
      .where((eb) => eb.or([eb.and([eb('report_id', '=', a), eb('linked_id', '=', b)]), eb.and([eb('report_id', '=', b), eb('linked_id', '=', a)])]))
      .execute();
  const errorOf = (html: string) => /<div class="error-summary" id="links-problem"[^]*?<\/div>/.exec(html)?.[0].replace(/\s+/g, ' ') ?? '';

  it('accepts the 8-character short id (any case, spaces around) as well as the full id', async () => {
    const short = otherCaseId.slice(0, 8);
    const res = await post(`/staff/cases/${caseId}/links`, { link_case: `  ${short.toUpperCase()} ` });
    expect(res.status).toBe(303);
    expect(res.headers['location']).toContain('notice=linked#links-notice');
    expect(await linked(caseId, otherCaseId)).toHaveLength(1);
    // The full id still works (already linked now).
    const again = await post(`/staff/cases/${caseId}/links`, { link_case: otherCaseId });
    expect(again.headers['location']).toContain('notice=already_linked');
  });

  it('a short id two cases share is a clear 422 asking for the full id; nothing is linked', async () => {
    const p = prefix();
    const a = await caseWithId(`${p}-0000-4000-8000-000000000001`, true);
    const b = await caseWithId(`${p}-ffff-4000-8000-000000000002`, true);
    const res = await post(`/staff/cases/${caseId}/links`, { link_case: p });
    expect(res.status).toBe(422);
    expect(errorOf(res.text)).toContain(`More than one case has the short ID ${p}. Type the full case ID instead`);
    expect(await linked(caseId, a)).toHaveLength(0);
    expect(await linked(caseId, b)).toHaveLength(0);
    // The full id settles it.
    expect((await post(`/staff/cases/${caseId}/links`, { link_case: b })).status).toBe(303);
    expect(await linked(caseId, b)).toHaveLength(1);
  });

  it('a case the caseworker may not open reads as no such case, and does not make a short id ambiguous (no oracle)', async () => {
    // Only a case they cannot open has this short id: the same answer as a short id nobody has.
    const hidden = prefix();
    await caseWithId(`${hidden}-0000-4000-8000-000000000001`, false);
    let nobody = prefix();
    while (nobody === hidden) nobody = prefix();
    const refusedHidden = await post(`/staff/cases/${caseId}/links`, { link_case: hidden });
    const refusedNobody = await post(`/staff/cases/${caseId}/links`, { link_case: nobody });
    expect(refusedHidden.status).toBe(422);
    expect(refusedNobody.status).toBe(422);
    expect(errorOf(refusedHidden.text)).toContain('There is no case with that ID that you can open.');
    expect(errorOf(refusedHidden.text)).toBe(errorOf(refusedNobody.text));
    // Its full id reads the same as a full id nobody has.
    const full = await post(`/staff/cases/${caseId}/links`, { link_case: `${hidden}-0000-4000-8000-000000000001` });
    expect(errorOf(full.text)).toBe(errorOf(refusedNobody.text));

    // Shared with a case they can open: that one is linked, as if the other did not exist.
    const shared = prefix();
    await caseWithId(`${shared}-0000-4000-8000-000000000001`, false);
    const visible = await caseWithId(`${shared}-8000-4000-8000-000000000002`, true);
    const res = await post(`/staff/cases/${caseId}/links`, { link_case: shared });
    expect(res.status).toBe(303);
    expect(await linked(caseId, visible)).toHaveLength(1);
  });

  it('its own short id is "cannot link to itself"; odd input is a 422, never a 500', async () => {
    const self = await post(`/staff/cases/${caseId}/links`, { link_case: caseId.slice(0, 8) });
    expect(self.status).toBe(422);
    expect(self.text).toContain('A case cannot be linked to itself.');
    for (const link_case of ['', '1234567', '123456789', 'zzzzzzzz', "1' or '1'='1", '__proto__', `${caseId.slice(0, 8)}-`]) {
      expect((await post(`/staff/cases/${caseId}/links`, { link_case })).status, link_case).toBe(422);
    }
    expect((await post(`/staff/cases/${caseId}/links`, { link_case: ['a', 'b'] })).status).toBe(422);
  });
});

/** The history table's rows as text: when, who, what, details. */
function historyRows(page: string) {
  const section = page.slice(page.indexOf('id="history-section"'));
  const body = /<tbody>([^]*?)<\/tbody>/.exec(section)?.[1] ?? '';
  const text = (s: string) =>
    s
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
  return [...body.matchAll(/<tr>([^]*?)<\/tr>/g)].map((m) => {
    const cells = [...m[1]!.matchAll(/<td>([^]*?)<\/td>/g)].map((c) => text(c[1]!));
    return { when: cells[0]!, who: cells[1]!, what: cells[2]!, details: cells[3]! };
  });
}

async function tinyPng(): Promise<Buffer> {
  const sharp = (await import('sharp')).default;
  return sharp({ create: { width: 8, height: 8, channels: 3, background: '#224466' } })
    .png()
    .toBuffer();
}
