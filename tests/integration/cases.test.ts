import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { unsealWith } from '../../server/crypto/index.js';
import { decryptEvidence } from '../../server/reporting/evidence.js';
import { createPendingReport } from '../../server/reporting/service.js';
import { currentTeamKey } from '../../server/setup/service.js';
import { addListItem, setRetired } from '../../server/settings/list-editing.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { VALID_REPORT, csrfFrom, fileReport, signInWithReceipt, type Agent } from '../helpers/reporter.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

// The case page and referral (docs/product.md, caseworker journey): every route
// for caseworkers only (P6), every case id checked (P11), everything written
// encrypted with the report's data key (P1, P8), everything audited without content.

let t: TestApp;
let worker: TestStaff;
let admin: TestStaff;
let agent: Agent;
let png: Buffer;
// Each test gets two cases of its own (beforeEach): `caseId` with two files, filed with `receipt`, and `otherCaseId`.
let caseId: string;
let receipt: string;
let otherCaseId: string;
/** Codes of the administrator's case labels (set up in beforeAll). */
const LABEL = { station: '', croydon: '', retired: '' };
const TEXT_EVIDENCE = Buffer.from('Call log: 14 March, +86 number, 3 minutes.\n', 'utf8');
const TEXT_NAME = 'call log é.txt';
const NARRATIVE = VALID_REPORT['narrative'] as string;
// Text typed by caseworkers in these tests: none of it may reach the audit log or a plaintext column.
const SECRETS = {
  note: 'Reporter mentioned a second visit by the same man near the Croydon station.',
  reply: 'Thank you. Could you tell us roughly when the calls started?',
  reason: 'Threat to life: the caller described the reporter’s home and routine.',
  reopen: 'The reporter wrote again with new threats.',
  crimeRef: 'CTP-4411-2026',
};

const binary = (r: request.Test) =>
  r.buffer(true).parse((res, cb) => {
    const parts: Buffer[] = [];
    res.on('data', (c: Buffer) => parts.push(c));
    res.on('end', () => cb(null, Buffer.concat(parts)));
  });

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

async function auditRows(action: string, id = caseId) {
  return t.testDb.db
    .selectFrom('audit_log')
    .select(['action', 'actor_id', 'details'])
    .where('case_id', '=', id)
    .where('action', '=', action)
    .execute();
}

async function post(path: string, fields: Record<string, string | string[]>) {
  const token = await staffCsrf(agent, `/staff/cases/${caseId}`);
  return agent
    .post(path)
    .type('form')
    .send({ _csrf: token, ...fields });
}

async function caseRow(id = caseId) {
  return t.testDb.db.selectFrom('reports').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function evidenceIds(id = caseId) {
  const rows = await t.testDb.db
    .selectFrom('evidence')
    .select(['id', 'stream_header', 'chunk_count'])
    .where('report_id', '=', id)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows;
}

/** Closes the case and reopens it with SECRETS.reopen, which is kept as a note. */
async function closeAndReopen(id = caseId) {
  expect((await post(`/staff/cases/${id}/status`, { status: 'closed', outcome: 'support_given' })).status).toBe(303);
  expect((await post(`/staff/cases/${id}/status`, { status: 'in_progress', reopen_reason: SECRETS.reopen })).status).toBe(303);
}

/** The id of the note whose text contains `marker`, from the referral form's checkboxes. */
async function noteIdOnPage(marker: string, id = caseId): Promise<string> {
  const page = await agent.get(`/staff/cases/${id}`);
  return [...page.text.matchAll(/name="notes" value="([0-9a-f-]{36})"[^]*?<\/label>/g)].find((m) => m[0].includes(marker))![1]!;
}

/**
 * A referral of this test's case without consent (an override reason and a
 * crime reference), carrying SECRETS.note; the case also holds the reopen
 * note, which the referral does not carry. Returns the referral's id.
 */
async function referredCase(): Promise<string> {
  await closeAndReopen();
  expect((await post(`/staff/cases/${caseId}/notes`, { note: SECRETS.note })).status).toBe(303);
  const notes = await noteIdOnPage('Reporter mentioned');
  const res = await post(`/staff/cases/${caseId}/referrals`, {
    destination: 'counter_terrorism_policing',
    referred_on: '2026-01-05',
    crime_reference: SECRETS.crimeRef,
    notes,
    override_reason: SECRETS.reason,
  });
  expect(res.status).toBe(303);
  return (await t.testDb.db.selectFrom('referrals').select('id').where('report_id', '=', caseId).executeTakeFirstOrThrow()).id;
}

beforeAll(async () => {
  t = await createTestApp();
  png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#336699' } })
    .png()
    .toBuffer();
  worker = await addStaff(t, { roles: ['caseworker'], name: 'Casey Worker' });
  admin = await addStaff(t, { roles: ['admin'], name: 'Ada Admin' });
  agent = await signInStaff(t, worker);
  LABEL.station = await t.testDb.db.transaction().execute((trx) => addListItem(trx, 'label', { en: 'Station visit' }));
  LABEL.croydon = await t.testDb.db.transaction().execute((trx) => addListItem(trx, 'label', { en: 'South London' }));
  LABEL.retired = await t.testDb.db.transaction().execute((trx) => addListItem(trx, 'label', { en: 'Old campaign' }));
  await setRetired(t.testDb.db, 'label', LABEL.retired, true);
});
beforeEach(async () => {
  const filed = await fileReport(t.app, VALID_REPORT, [
    { name: 'photo.png', content: png },
    { name: TEXT_NAME, content: TEXT_EVIDENCE },
  ]);
  receipt = filed.receipt;
  caseId = await latestCaseId();
  await fileReport(t.app, { ...VALID_REPORT, narrative: 'A second report about the same station.' });
  otherCaseId = await latestCaseId();
});
afterAll(async () => {
  await t?.close();
});

describe('the case page', () => {
  it('shows the decrypted report with English labels, evidence and forms, and marks the case seen', async () => {
    await t.testDb.db.updateTable('reports').set({ reporter_updated_at: new Date() }).where('id', '=', caseId).execute();
    expect((await caseRow()).staff_seen_at).toBeNull();
    const page = await agent.get(`/staff/cases/${caseId}`);
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text).toContain('phoned my mother in Urumqi');
    expect(page.text).toContain('He knew my asylum case number.');
    for (const label of [
      'Threats or violence',
      'Pressure through family',
      'London',
      'Uyghur',
      'Talk to me first',
      'A group or association acting for them',
      'March 2026',
    ]) {
      expect(page.text).toContain(label);
    }
    expect(page.text).toContain('alt="Evidence image: photo.png"');
    expect(page.text).toContain('call log é.txt');
    expect(page.text).toContain('<span class="file-name">evidence-2.txt</span>');
    expect(page.text).toMatch(/Labels are not encrypted/);
    // The administrator's offered labels are the choices; a retired one the case does not have is not offered.
    expect(page.text).toContain(`name="labels" value="${LABEL.station}"`);
    expect(page.text).toContain('Station visit</label>');
    expect(page.text).not.toContain(LABEL.retired);
    expect(page.text).toContain('name="_csrf"');
    // The image is only inline for image types.
    expect(page.text.match(/\?inline=1/g)?.length).toBe(1);
    const row = await caseRow();
    expect(row.staff_seen_at).not.toBeNull();
    expect(await auditRows('case.viewed')).not.toHaveLength(0);
    expect((await auditRows('case.viewed'))[0]!.actor_id).toBe(worker.id);
  });

  it('P6: an administrator who is not a caseworker gets 403 on every case route', async () => {
    const adminAgent = await signInStaff(t, admin);
    const ev = (await evidenceIds())[0]!.id;
    const rid = '00000000-0000-4000-8000-000000000000';
    const gets = ['', `/evidence/${ev}`, `/evidence/${ev}?inline=1`, `/referrals/${rid}/pack`, `/referrals/${rid}/bundle`];
    for (const p of gets) expect((await adminAgent.get(`/staff/cases/${caseId}${p}`)).status, `GET ${p}`).toBe(403);
    const posts = ['/status', '/urgency', '/assignee', '/labels', '/links', `/links/${otherCaseId}/delete`, '/notes', '/messages', '/referrals'];
    const token = await staffCsrf(adminAgent, '/staff/account');
    for (const p of posts) {
      const res = await adminAgent.post(`/staff/cases/${caseId}${p}`).type('form').send({ _csrf: token, note: 'x', message: 'x', urgent: 'yes' });
      expect(res.status, `POST ${p}`).toBe(403);
    }
    expect(await t.testDb.db.selectFrom('case_notes').select('id').where('report_id', '=', caseId).execute()).toHaveLength(0);
    // Signed out: GETs go to sign-in, POSTs are 401.
    const anon = (await import('supertest')).default(t.app);
    expect((await anon.get(`/staff/cases/${caseId}`)).status).toBe(302);
    expect((await anon.post(`/staff/cases/${caseId}/notes`).type('form').send({ note: 'x' })).status).toBe(401);
  });

  it('a caseworker without approved access (no key) is told their access is waiting (403), and sees nothing of the case', async () => {
    const newcomer = await addStaff(t, { roles: ['caseworker'], approved: false });
    const a = await signInStaff(t, newcomer);
    const page = await a.get(`/staff/cases/${caseId}`);
    expect(page.status).toBe(403);
    expect(page.text).toContain('Your access is waiting for approval');
    expect(page.text).not.toContain('Urumqi');
    expect((await a.get(`/staff/cases/${caseId}/evidence/${(await evidenceIds())[0]!.id}`)).status).toBe(403);
    const token = await staffCsrf(a, '/staff/account');
    expect((await a.post(`/staff/cases/${caseId}/notes`).type('form').send({ _csrf: token, note: 'hello' })).status).toBe(403);
  });

  it('malformed, unknown and pending case ids are 404; another case’s evidence id is 404', async () => {
    expect((await agent.get('/staff/cases/not-a-case')).status).toBe(404);
    expect((await agent.get('/staff/cases/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const pending = await createPendingReport(t.testDb.db, await currentTeamKey(t.testDb.db), {
      categories: ['other'],
      narrative: 'pending narrative',
      incidentFrom: null,
      incidentTo: null,
      ongoing: 'no',
      region: 'london',
      targeted: 'me',
      community: 'other',
      suspectedState: 'not_sure',
      stateReason: '',
      perpetrator: 'unknown',
      channels: [],
      links: [],
      consent: 'yes',
      followUp: 'portal',
      contact: null,
      urgent: false,
    });
    expect((await agent.get(`/staff/cases/${pending.reportId}`)).status).toBe(404);
    const ev = (await evidenceIds())[0]!.id;
    expect((await agent.get(`/staff/cases/${otherCaseId}/evidence/${ev}`)).status).toBe(404);
    expect((await agent.get(`/staff/cases/${caseId}/evidence/not-an-id`)).status).toBe(404);
    expect((await agent.get(`/staff/cases/${caseId}/referrals/00000000-0000-4000-8000-000000000000/pack`)).status).toBe(404);
  });

  it('refuses a POST without a CSRF token', async () => {
    const res = await agent.post(`/staff/cases/${caseId}/notes`).type('form').send({ note: 'no token' });
    expect(res.status).toBe(403);
  });
});

describe('workflow', () => {
  it('moves forward, needs an outcome to close and a reason to reopen', async () => {
    const bad = await post(`/staff/cases/${caseId}/status`, { status: 'sideways' });
    expect(bad.status).toBe(422);
    const triage = await post(`/staff/cases/${caseId}/status`, { status: 'triaged' });
    expect(triage.status).toBe(303);
    expect(triage.headers['location']).toContain(`/staff/cases/${caseId}`);
    let row = await caseRow();
    expect(row.status).toBe('triaged');
    expect(row.triaged_at).not.toBeNull();

    const backwards = await post(`/staff/cases/${caseId}/status`, { status: 'new' });
    expect(backwards.status).toBe(422);
    expect(backwards.text).toContain('cannot move from Triaged to New');

    const noOutcome = await post(`/staff/cases/${caseId}/status`, { status: 'closed' });
    expect(noOutcome.status).toBe(422);
    expect(noOutcome.text).toContain('Choose a closing outcome');
    expect(noOutcome.text).toContain('aria-invalid="true"');
    expect((await caseRow()).status).toBe('triaged');

    const close = await post(`/staff/cases/${caseId}/status`, { status: 'closed', outcome: 'support_given' });
    expect(close.status).toBe(303);
    row = await caseRow();
    expect(row.status).toBe('closed');
    expect(row.closing_outcome).toBe('support_given');
    expect(row.closed_at).not.toBeNull();

    const noReason = await post(`/staff/cases/${caseId}/status`, { status: 'in_progress', reopen_reason: '  ' });
    expect(noReason.status).toBe(422);
    expect(noReason.text).toContain('Enter a reason for reopening');
    const reopen = await post(`/staff/cases/${caseId}/status`, { status: 'in_progress', reopen_reason: SECRETS.reopen });
    expect(reopen.status).toBe(303);
    row = await caseRow();
    expect(row.status).toBe('in_progress');
    expect(row.closed_at).toBeNull();
    expect(row.closing_outcome).toBeNull();
    const page = await agent.get(`/staff/cases/${caseId}`);
    expect(page.text).toContain(`Reopened: ${SECRETS.reopen}`);

    const changed = await auditRows('case.status_changed');
    expect(changed.map((r) => r.details)).toEqual(
      expect.arrayContaining([
        { from: 'new', to: 'triaged', outcome: null },
        { from: 'triaged', to: 'closed', outcome: 'support_given' },
      ]),
    );
    const reopened = await auditRows('case.reopened');
    expect(reopened).toHaveLength(1);
    expect(reopened[0]!.details).toMatchObject({ from: 'closed', to: 'in_progress', outcome: 'support_given' });
  });

  it('urgency, assignee and labels', async () => {
    expect((await post(`/staff/cases/${caseId}/urgency`, { urgent: 'yes' })).status).toBe(303);
    expect((await caseRow()).urgent).toBe(true);
    expect((await post(`/staff/cases/${caseId}/urgency`, { urgent: 'maybe' })).status).toBe(422);

    expect((await post(`/staff/cases/${caseId}/assignee`, { assignee: worker.id })).status).toBe(303);
    expect((await caseRow()).assignee_id).toBe(worker.id);
    // Only active caseworkers: an administrator cannot hold a case.
    expect((await post(`/staff/cases/${caseId}/assignee`, { assignee: admin.id })).status).toBe(422);
    expect((await post(`/staff/cases/${caseId}/assignee`, { assignee: '' })).status).toBe(303);
    expect((await caseRow()).assignee_id).toBeNull();

    // Codes of offered labels, stored in the list's order whatever order they came in.
    expect((await post(`/staff/cases/${caseId}/labels`, { labels: [LABEL.croydon, LABEL.station, LABEL.croydon] })).status).toBe(303);
    expect((await caseRow()).labels).toEqual([LABEL.station, LABEL.croydon]);
    const shown = await agent.get(`/staff/cases/${caseId}`);
    expect(shown.text).toContain('<span class="tag">Station visit</span><span class="tag">South London</span>');
    // Typed words, a retired label the case does not have, unknown codes and prototype keys are refused: nothing changes.
    for (const labels of [
      'Mr Chen from Croydon',
      'station, croydon',
      LABEL.retired,
      'label_999',
      '__proto__',
      'constructor',
      [LABEL.station, 'Aziz'],
    ]) {
      const refused = await post(`/staff/cases/${caseId}/labels`, { labels });
      expect(refused.status, JSON.stringify(labels)).toBe(422);
      expect(refused.text).toContain('Choose labels from the list. To add one, ask an administrator.');
    }
    expect((await caseRow()).labels).toEqual([LABEL.station, LABEL.croydon]);
    // A label retired while a case has it stays (shown as retired) until someone unticks it.
    await setRetired(t.testDb.db, 'label', LABEL.croydon, true);
    try {
      const page = await agent.get(`/staff/cases/${caseId}`);
      expect(page.text).toMatch(
        new RegExp(`value="${LABEL.croydon}" checked>\\s*<label for="label-${LABEL.croydon}">South London \\(retired\\)</label>`),
      );
      expect((await post(`/staff/cases/${caseId}/labels`, { labels: [LABEL.station, LABEL.croydon] })).status).toBe(303);
      expect((await caseRow()).labels).toEqual([LABEL.station, LABEL.croydon]);
      expect((await post(`/staff/cases/${caseId}/labels`, { labels: LABEL.station })).status).toBe(303);
      expect((await caseRow()).labels).toEqual([LABEL.station]);
      expect((await post(`/staff/cases/${caseId}/labels`, { labels: [LABEL.station, LABEL.croydon] })).status).toBe(422);
    } finally {
      await setRetired(t.testDb.db, 'label', LABEL.croydon, false);
    }
    expect((await post(`/staff/cases/${caseId}/labels`, { labels: [LABEL.station, LABEL.croydon] })).status).toBe(303);

    expect(await auditRows('case.urgency_changed')).toHaveLength(1);
    expect(await auditRows('case.assigned')).toHaveLength(2);
    const labels = await t.testDb.db
      .selectFrom('audit_log')
      .select('details')
      .where('case_id', '=', caseId)
      .where('action', '=', 'case.labels_changed')
      .orderBy('seq')
      .execute();
    expect(labels.map((l) => l.details)).toEqual([{ count: 2 }, { count: 1 }, { count: 2 }]);
  });

  it('links and unlinks cases, both ways', async () => {
    expect((await post(`/staff/cases/${caseId}/links`, { link_case: caseId })).status).toBe(422);
    const unknown = await post(`/staff/cases/${caseId}/links`, { link_case: '00000000-0000-4000-8000-000000000000' });
    expect(unknown.status).toBe(422);
    expect(unknown.text).toContain('no case with that ID');
    expect((await post(`/staff/cases/${caseId}/links`, { link_case: otherCaseId })).status).toBe(303);
    // The same link from the other side is not a second link.
    const token = await staffCsrf(agent, `/staff/cases/${otherCaseId}`);
    expect((await agent.post(`/staff/cases/${otherCaseId}/links`).type('form').send({ _csrf: token, link_case: caseId })).status).toBe(303);
    const links = () =>
      t.testDb.db
        .selectFrom('case_links')
        .selectAll()
        .where((eb) => eb.or([eb('report_id', '=', caseId), eb('linked_id', '=', caseId)]))
        .execute();
    expect(await links()).toHaveLength(1);
    expect((await agent.get(`/staff/cases/${otherCaseId}`)).text).toContain(`/staff/cases/${caseId}"`);
    expect((await agent.get(`/staff/cases/${caseId}`)).text).toContain(`/staff/cases/${otherCaseId}"`);
    expect(await auditRows('case.linked')).toHaveLength(1);
    expect(await auditRows('case.linked', otherCaseId)).toHaveLength(1);

    expect((await post(`/staff/cases/${caseId}/links/${otherCaseId}/delete`, {})).status).toBe(303);
    expect(await links()).toHaveLength(0);
    expect(await auditRows('case.unlinked')).toHaveLength(1);
  });
});

describe('notes and messages', () => {
  it('stores an internal note encrypted with the report key', async () => {
    await closeAndReopen(); // the reopen reason is a note too
    const empty = await post(`/staff/cases/${caseId}/notes`, { note: '' });
    expect(empty.status).toBe(422);
    const res = await post(`/staff/cases/${caseId}/notes`, { note: SECRETS.note });
    expect(res.status).toBe(303);
    const rows = await t.testDb.db.selectFrom('case_notes').selectAll().where('report_id', '=', caseId).execute();
    expect(rows.length).toBeGreaterThanOrEqual(2); // the reopen reason and this note
    for (const r of rows) {
      expect(Buffer.from(r.body).includes(SECRETS.note)).toBe(false);
      expect(Buffer.from(r.body).includes(SECRETS.reopen)).toBe(false);
    }
    expect((await agent.get(`/staff/cases/${caseId}`)).text).toContain(SECRETS.note);
    expect(await auditRows('case.note_added')).toHaveLength(1);
  });

  it('a staff reply reaches the reporter, who can answer', async () => {
    const draftKept = await post(`/staff/cases/${caseId}/messages`, { message: 'x'.repeat(10_001) });
    expect(draftKept.status).toBe(422);
    const res = await post(`/staff/cases/${caseId}/messages`, { message: SECRETS.reply });
    expect(res.status).toBe(303);
    const row = await caseRow();
    expect(row.first_response_at).not.toBeNull();
    expect(row.last_staff_message_at).not.toBeNull();
    const msg = await t.testDb.db.selectFrom('messages').selectAll().where('report_id', '=', caseId).executeTakeFirstOrThrow();
    expect(msg.author).toBe('staff');
    expect(msg.author_id).toBe(worker.id);
    expect(Buffer.from(msg.body).includes(SECRETS.reply)).toBe(false);

    const reporter = await signInWithReceipt(t.app, receipt);
    const status = await reporter.agent.get('/en/status');
    expect(status.text).toContain(SECRETS.reply);
    expect(status.text).not.toContain('Casey Worker'); // the reporter sees "Caseworker", not a name
    const token = await csrfFrom(reporter.agent, '/en/status');
    const answer = await reporter.agent.post('/en/status/messages').type('form').send({ _csrf: token, message: 'They started in January.' });
    expect(answer.status).toBe(303);
    const page = await agent.get(`/staff/cases/${caseId}`);
    expect(page.text).toContain('They started in January.');
    expect(page.text).toContain('Casey Worker (staff)');
    expect(await auditRows('case.message_sent')).toHaveLength(1);
  });
});

describe('evidence', () => {
  it('downloads the exact decrypted bytes as an attachment under our name for it, never the reporter’s', async () => {
    const rows = await evidenceIds();
    const textRow = rows[1]!;
    const res = await binary(agent.get(`/staff/cases/${caseId}/evidence/${textRow.id}`));
    expect(res.status).toBe(200);
    expect(Buffer.compare(res.body as Buffer, TEXT_EVIDENCE)).toBe(0);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-disposition']).toBe('attachment; filename="evidence-2.txt"');
    // inline=1 is ignored for a type that is not an image.
    const notInline = await binary(agent.get(`/staff/cases/${caseId}/evidence/${textRow.id}?inline=1`));
    expect(notInline.headers['content-disposition']).toMatch(/^attachment;/);
  });

  it('shows an image inline, sandboxed, with the bytes the team decrypts', async () => {
    const row = (await evidenceIds())[0]!;
    const res = await binary(agent.get(`/staff/cases/${caseId}/evidence/${row.id}?inline=1`));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['content-disposition']).toBe('inline; filename="evidence-1.png"');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; sandbox");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const report = await caseRow();
    const dataKey = unsealWith(report.data_key_sealed, t.team!.keyPair);
    const parts: Uint8Array[] = [];
    for await (const chunk of decryptEvidence(t.testDb.db, dataKey, row)) parts.push(chunk);
    expect(Buffer.compare(res.body as Buffer, Buffer.concat(parts))).toBe(0);
    expect((await sharp(res.body as Buffer).metadata()).width).toBe(40);
    const audited = await auditRows('case.evidence_downloaded');
    expect(audited.map((a) => a.details)).toContainEqual({ evidenceId: row.id, inline: true });
  });
});

describe('referral', () => {
  it('is refused without consent unless an override reason is given, and for a bad date', async () => {
    await closeAndReopen();
    expect((await post(`/staff/cases/${caseId}/notes`, { note: SECRETS.note })).status).toBe(303);
    const page = await agent.get(`/staff/cases/${caseId}`);
    expect(page.text).toContain('name="override_reason"');
    // The checkbox of the note written above (not the reopen note).
    const noteId = await noteIdOnPage('Reporter mentioned');
    const base = { destination: 'counter_terrorism_policing', referred_on: '2026-01-05', crime_reference: SECRETS.crimeRef, notes: noteId };

    const noReason = await post(`/staff/cases/${caseId}/referrals`, base);
    expect(noReason.status).toBe(422);
    expect(noReason.text).toContain('Enter the reason for referring without the reporter’s consent');
    expect(noReason.text).toContain(SECRETS.crimeRef); // what was typed is kept
    const future = await post(`/staff/cases/${caseId}/referrals`, { ...base, override_reason: SECRETS.reason, referred_on: '2999-01-01' });
    expect(future.status).toBe(422);
    expect(future.text).toContain('cannot be in the future');
    const badDate = await post(`/staff/cases/${caseId}/referrals`, { ...base, override_reason: SECRETS.reason, referred_on: '2026-02-30' });
    expect(badDate.status).toBe(422);
    const badDest = await post(`/staff/cases/${caseId}/referrals`, { ...base, override_reason: SECRETS.reason, destination: 'interpol' });
    expect(badDest.status).toBe(422);
    const foreignNote = await post(`/staff/cases/${caseId}/referrals`, {
      ...base,
      override_reason: SECRETS.reason,
      notes: '00000000-0000-4000-8000-000000000000',
    });
    expect(foreignNote.status).toBe(422);
    expect(await t.testDb.db.selectFrom('referrals').selectAll().where('report_id', '=', caseId).execute()).toHaveLength(0);

    const ok = await post(`/staff/cases/${caseId}/referrals`, { ...base, override_reason: SECRETS.reason });
    expect(ok.status).toBe(303);
    const rows = await t.testDb.db.selectFrom('referrals').selectAll().where('report_id', '=', caseId).execute();
    expect(rows).toHaveLength(1);
    const ref = rows[0]!;
    expect(ref.destination).toBe('counter_terrorism_policing');
    expect(String(ref.referred_on)).toBe('2026-01-05');
    expect(ref.consent_override).toBe(true);
    for (const s of [SECRETS.reason, SECRETS.crimeRef, noteId]) expect(Buffer.from(ref.details).includes(s)).toBe(false);
    const row = await caseRow();
    expect(row.status).toBe('referred');
    expect(row.triaged_at).not.toBeNull();
    const audited = await auditRows('case.referred');
    expect(audited).toHaveLength(1);
    expect(audited[0]!.details).toEqual({ referralId: ref.id, destination: 'counter_terrorism_policing', consentOverride: true });
    const after = await agent.get(`/staff/cases/${caseId}`);
    expect(after.text).toContain(SECRETS.crimeRef);
    expect(after.text).toContain(`/referrals/${ref.id}/pack`);
  });

  it('the printable pack shows the organisation, the referral, the report, chosen notes and the evidence list', async () => {
    const referralId = await referredCase();
    const res = await agent.get(`/staff/cases/${caseId}/referrals/${referralId}/pack`);
    expect(res.status).toBe(200);
    for (const s of [
      'Test Community Aid',
      'Counter Terrorism Policing',
      '2026-01-05',
      SECRETS.crimeRef,
      SECRETS.reason,
      'phoned my mother in Urumqi',
      SECRETS.note,
      'photo.png',
      'call log é.txt',
      'evidence/evidence-1.png',
      'evidence/evidence-2.txt',
    ]) {
      expect(res.text).toContain(s);
    }
    // Only the chosen note: the reopen note was not ticked.
    expect(res.text).not.toContain(SECRETS.reopen);
    expect(await auditRows('case.referral_pack_viewed')).toHaveLength(1);
    // Another case's referral id through this case is not found, and vice versa.
    expect((await agent.get(`/staff/cases/${otherCaseId}/referrals/${referralId}/pack`)).status).toBe(404);
  });

  it('the bundle is a zip of report.txt, referral.txt and the decrypted evidence', async () => {
    const referralId = await referredCase();
    const res = await binary(agent.get(`/staff/cases/${caseId}/referrals/${referralId}/bundle`));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="referral-/);
    const zip = res.body as Buffer;
    expect(zip.subarray(0, 4)).toEqual(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
    for (const name of ['report.txt', 'referral.txt', 'evidence/evidence-1.png', 'evidence/evidence-2.txt'])
      expect(zip.includes(Buffer.from(name, 'utf8'))).toBe(true);
    expect(await auditRows('case.referral_bundle_downloaded')).toHaveLength(1);

    // Unpacked with a standard tool: the files are whole and the text is readable.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'harbour-bundle-'));
    try {
      const file = path.join(dir, 'bundle.zip');
      writeFileSync(file, zip);
      execFileSync('unzip', ['-q', '-t', file]);
      const reportTxt = execFileSync('unzip', ['-p', file, 'report.txt']).toString('utf8');
      expect(reportTxt).toContain(NARRATIVE);
      expect(reportTxt).toContain(SECRETS.note);
      expect(reportTxt).not.toContain(SECRETS.reopen);
      const referralTxt = execFileSync('unzip', ['-p', file, 'referral.txt']).toString('utf8');
      expect(referralTxt).toContain(SECRETS.crimeRef);
      expect(referralTxt).toContain('Counter Terrorism Policing');
      expect(execFileSync('unzip', ['-Z1', file]).toString('utf8').split('\n').filter(Boolean)).toEqual([
        'report.txt',
        'referral.txt',
        'evidence/evidence-1.png',
        'evidence/evidence-2.txt',
      ]);
      expect(referralTxt).toContain('evidence/evidence-2.txt (the reporter named it "call log é.txt")');
      const text = execFileSync('unzip', ['-p', file, 'evidence/evidence-2.txt']);
      expect(Buffer.compare(text, TEXT_EVIDENCE)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a closed case cannot be referred until reopened', async () => {
    await post(`/staff/cases/${otherCaseId}/status`, { status: 'closed', outcome: 'duplicate' });
    expect((await caseRow(otherCaseId)).status).toBe('closed');
    const res = await post(`/staff/cases/${otherCaseId}/referrals`, { destination: 'local_police', referred_on: '2026-01-05', override_reason: 'x' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('Reopen it before recording a referral');
  });
});

describe('P8 on the case page', () => {
  it('a note whose ciphertext was swapped with another shows as unreadable, not as the other text', async () => {
    await closeAndReopen();
    expect((await post(`/staff/cases/${caseId}/notes`, { note: SECRETS.note })).status).toBe(303);
    const notes = await t.testDb.db.selectFrom('case_notes').select(['id', 'body']).where('report_id', '=', caseId).orderBy('created_at').execute();
    expect(notes.length).toBeGreaterThanOrEqual(2);
    const [a, b] = [notes[0]!, notes[1]!];
    await t.testDb.db.updateTable('case_notes').set({ body: b.body }).where('id', '=', a.id).execute();
    try {
      const page = await agent.get(`/staff/cases/${caseId}`);
      expect(page.status).toBe(200);
      expect(page.text).toContain('This could not be decrypted: it may have been altered.');
      expect(page.text.split(SECRETS.note).length - 1).toBe(2); // once in the list, once as the referral checkbox: never twice as often
    } finally {
      await t.testDb.db.updateTable('case_notes').set({ body: a.body }).where('id', '=', a.id).execute();
    }
  });
});

describe('history and the audit log', () => {
  it('the case page lists the history with names and actions', async () => {
    await referredCase();
    expect((await post(`/staff/cases/${caseId}/messages`, { message: SECRETS.reply })).status).toBe(303);
    expect((await agent.get(`/staff/cases/${caseId}/evidence/${(await evidenceIds())[0]!.id}`)).status).toBe(200);
    const page = await agent.get(`/staff/cases/${caseId}`);
    for (const s of [
      'Everything done to this case',
      'Casey Worker',
      'Recorded a referral',
      'Reopened the case',
      'Added an internal note',
      'Sent a message to the reporter',
      'Opened or downloaded a file',
    ]) {
      expect(page.text).toContain(s);
    }
  });

  it('audit entries hold no content', async () => {
    // Every kind of case action, on this test's cases.
    const referralId = await referredCase();
    expect((await agent.get(`/staff/cases/${caseId}/evidence/${(await evidenceIds())[0]!.id}`)).status).toBe(200);
    expect((await post(`/staff/cases/${caseId}/urgency`, { urgent: 'yes' })).status).toBe(303);
    expect((await post(`/staff/cases/${caseId}/assignee`, { assignee: worker.id })).status).toBe(303);
    expect((await post(`/staff/cases/${caseId}/labels`, { labels: [LABEL.station] })).status).toBe(303);
    expect((await post(`/staff/cases/${caseId}/links`, { link_case: otherCaseId })).status).toBe(303);
    expect((await post(`/staff/cases/${caseId}/links/${otherCaseId}/delete`, {})).status).toBe(303);
    expect((await post(`/staff/cases/${caseId}/messages`, { message: SECRETS.reply })).status).toBe(303);
    expect((await agent.get(`/staff/cases/${caseId}/referrals/${referralId}/pack`)).status).toBe(200);
    expect((await binary(agent.get(`/staff/cases/${caseId}/referrals/${referralId}/bundle`))).status).toBe(200);
    const rows = await t.testDb.db.selectFrom('audit_log').select(['action', 'details']).execute();
    const text = JSON.stringify(rows);
    for (const s of [
      NARRATIVE,
      'Urumqi',
      SECRETS.note,
      SECRETS.reply,
      SECRETS.reason,
      SECRETS.reopen,
      SECRETS.crimeRef,
      'station',
      'Croydon',
      'photo.png',
      'call log',
    ]) {
      expect(text).not.toContain(s);
    }
    const actions = new Set(rows.map((r) => r.action));
    for (const a of [
      'case.viewed',
      'case.evidence_downloaded',
      'case.status_changed',
      'case.reopened',
      'case.urgency_changed',
      'case.assigned',
      'case.labels_changed',
      'case.linked',
      'case.unlinked',
      'case.note_added',
      'case.message_sent',
      'case.referred',
      'case.referral_pack_viewed',
      'case.referral_bundle_downloaded',
    ]) {
      expect(actions.has(a), a).toBe(true);
    }
    // No decrypted content in the logs either.
    const logs = t.logs.join('\n');
    for (const s of [NARRATIVE, SECRETS.note, SECRETS.reply, SECRETS.reason]) expect(logs).not.toContain(s);
  });
});
