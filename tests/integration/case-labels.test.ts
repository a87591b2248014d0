import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { VALID_REPORT, fileReport, type Agent } from '../helpers/reporter.js';
import { addStaff, signInStaff, staffCsrf } from '../helpers/staff.js';

// Case labels are plaintext (the queue filters by them), so caseworkers may
// not type them: an administrator keeps them as a fourth list, under
// /admin/settings/lists/label, and caseworkers tick the offered ones.

let t: TestApp;
let admin: Agent;
let worker: Agent;
let caseId: string;
// Each test gets an installation of its own (the list starts empty, codes start at label_1).

async function adminPost(path: string, form: Record<string, string>) {
  const token = await staffCsrf(admin, '/admin/settings');
  return admin
    .post(path)
    .redirects(0)
    .type('form')
    .send({ _csrf: token, ...form });
}

const labelItems = () =>
  t.testDb.db.selectFrom('list_items').select(['code', 'labels', 'retired_at']).where('list', '=', 'label').orderBy('position').execute();

beforeEach(async () => {
  t = await createTestApp();
  admin = await signInStaff(t, await addStaff(t, { roles: ['admin'] }));
  worker = await signInStaff(t, await addStaff(t, { roles: ['caseworker'] }));
  await fileReport(t.app, VALID_REPORT);
  caseId = (await t.testDb.db.selectFrom('reports').select('id').where('state', '=', 'submitted').executeTakeFirstOrThrow()).id;
});
afterEach(async () => {
  await t?.close();
});

/** Adds a label through the administrator's form; returns its code. */
async function addLabel(en: string): Promise<string> {
  expect((await adminPost('/admin/settings/lists/label', { label_en: en })).status).toBe(303);
  return (await labelItems()).at(-1)!.code;
}

async function setLabels(labels: string[]) {
  const token = await staffCsrf(worker, `/staff/cases/${caseId}`);
  expect((await worker.post(`/staff/cases/${caseId}/labels`).type('form').send({ _csrf: token, labels })).status).toBe(303);
}

describe('case labels as an administrator’s list', () => {
  it('starts empty; the case page says so and offers no way to type one', async () => {
    const page = await worker.get(`/staff/cases/${caseId}`);
    expect(page.text).toContain('No labels are defined yet. An administrator adds them under Settings, Case labels.');
    expect(page.text).not.toContain('name="labels"');
    const settings = await admin.get('/admin/settings');
    expect(settings.text).toContain('<a href="/admin/settings/lists/label">Case labels</a>: 0 offered');
  });

  it('the administrator adds labels in English only, under opaque codes', async () => {
    const page = await admin.get('/admin/settings/lists/label');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Labels are not encrypted');
    expect(page.text).toContain('name="label_en"');
    expect(page.text).not.toContain('name="label_ug"');
    // A translation sent anyway is not stored: staff pages are in English.
    const res = await adminPost('/admin/settings/lists/label', { label_en: 'Station visit', label_ug: 'ۋوكزال' });
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe('/admin/settings/lists/label?notice=added');
    expect((await admin.get('/admin/settings/lists/label?notice=added')).text).toContain(
      'Label added. Caseworkers can choose it on the case page now.',
    );
    expect((await adminPost('/admin/settings/lists/label', { label_en: 'Station visit' })).status).toBe(303); // a second, own code
    expect((await adminPost('/admin/settings/lists/label', { label_en: '' })).status).toBe(422);
    expect((await adminPost('/admin/settings/lists/label', { label_en: 'x'.repeat(101) })).status).toBe(422);
    const items = await labelItems();
    expect(items.map((i) => [i.code, i.labels])).toEqual([
      ['label_1', { en: 'Station visit' }],
      ['label_2', { en: 'Station visit' }],
    ]);
  });

  it('renaming changes what every case shows; the code, not the text, is on the report', async () => {
    expect(await addLabel('Station visit')).toBe('label_1');
    const token = await staffCsrf(worker, `/staff/cases/${caseId}`);
    expect((await worker.post(`/staff/cases/${caseId}/labels`).type('form').send({ _csrf: token, labels: 'label_1' })).status).toBe(303);
    expect((await t.testDb.db.selectFrom('reports').select('labels').where('id', '=', caseId).executeTakeFirstOrThrow()).labels).toEqual(['label_1']);
    expect((await adminPost('/admin/settings/lists/label/label_1', { label_en: 'Unofficial station' })).status).toBe(303);
    const page = await worker.get(`/staff/cases/${caseId}`);
    expect(page.text).toContain('<span class="tag">Unofficial station</span>');
    expect(page.text).not.toContain('Station visit</span>');
    // The settings list counts the case under its label.
    expect((await admin.get('/admin/settings/lists/label')).text).toMatch(/<td>Unofficial station<\/td>\s*<td>1<\/td>/);
  });

  it('the last label can be retired (a case needs none); a retired label is no longer offered', async () => {
    expect(await addLabel('Unofficial station')).toBe('label_1');
    expect(await addLabel('Station visit')).toBe('label_2');
    await setLabels(['label_1']);
    expect((await adminPost('/admin/settings/lists/label/label_2/retire', {})).status).toBe(303);
    expect((await adminPost('/admin/settings/lists/label/label_1/retire', {})).status).toBe(303);
    expect((await labelItems()).every((i) => i.retired_at !== null)).toBe(true);
    const token = await staffCsrf(worker, `/staff/cases/${caseId}`);
    const refused = await worker
      .post(`/staff/cases/${caseId}/labels`)
      .type('form')
      .send({ _csrf: token, labels: ['label_1', 'label_2'] });
    expect(refused.status).toBe(422);
    expect((await t.testDb.db.selectFrom('reports').select('labels').where('id', '=', caseId).executeTakeFirstOrThrow()).labels).toEqual(['label_1']);
    // The case keeps the retired label it has, marked as retired, and can drop it.
    const page = await worker.get(`/staff/cases/${caseId}`);
    expect(page.text).toContain('Unofficial station (retired)</label>');
    expect(page.text).not.toContain('value="label_2"');
    expect((await worker.post(`/staff/cases/${caseId}/labels`).type('form').send({ _csrf: token })).status).toBe(303);
    expect((await t.testDb.db.selectFrom('reports').select('labels').where('id', '=', caseId).executeTakeFirstOrThrow()).labels).toEqual([]);
  });

  it('sixteen label changes at once end in one consistent state', async () => {
    expect(await addLabel('Station visit')).toBe('label_1');
    expect((await adminPost('/admin/settings/lists/label/label_1/retire', {})).status).toBe(303);
    expect((await adminPost('/admin/settings/lists/label/label_1/restore', {})).status).toBe(303);
    const token = await staffCsrf(worker, `/staff/cases/${caseId}`);
    const all = await Promise.all(
      Array.from({ length: 16 }, () => worker.post(`/staff/cases/${caseId}/labels`).type('form').send({ _csrf: token, labels: 'label_1' })),
    );
    expect(all.map((r) => r.status)).toEqual(Array(16).fill(303));
    expect((await t.testDb.db.selectFrom('reports').select('labels').where('id', '=', caseId).executeTakeFirstOrThrow()).labels).toEqual(['label_1']);
    const changes = await t.testDb.db
      .selectFrom('audit_log')
      .select('details')
      .where('case_id', '=', caseId)
      .where('action', '=', 'case.labels_changed')
      .orderBy('seq')
      .execute();
    expect(changes.map((c) => c.details)).toEqual([{ count: 1 }]); // one change, fifteen that changed nothing
  });
});
