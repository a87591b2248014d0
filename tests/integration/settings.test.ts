import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runHousekeeping } from '../../server/housekeeping.js';
import { addListItem } from '../../server/settings/list-editing.js';
import { saveSettings } from '../../server/settings/settings.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { insertReports, type ReportFacts } from '../helpers/reports.js';
import { VALID_REPORT, csrfFrom, fileReport, postReport, signInWithReceipt } from '../helpers/reporter.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

/** /admin/settings: every setting takes effect at once, bad values change nothing, lists keep old reports whole. */
let t: TestApp;
let admin: TestStaff;
let caseworker: TestStaff;
const ONION = `${'a'.repeat(28)}${'b2'.repeat(14)}.onion`;

async function post(path: string, form: Record<string, string>) {
  const agent = await signInStaff(t, admin);
  const token = await staffCsrf(agent, '/admin/settings');
  return agent
    .post(path)
    .redirects(0)
    .type('form')
    .send({ _csrf: token, ...form });
}

const stored = async () =>
  Object.fromEntries((await t.testDb.db.selectFrom('settings').select(['key', 'value']).execute()).map((r) => [r.key, r.value]));

const auditDetails = async () =>
  await t.testDb.db
    .selectFrom('audit_log')
    .select(['action', 'actor_id', 'details'])
    .where('action', '=', 'settings.changed')
    .orderBy('seq')
    .execute();

/** Reports with hand-set triage fields, enough to make a count visible in statistics. */
const addReports = (n: number, f: ReportFacts) => insertReports(t, n, f);

// Settings are the installation's: each test changes them on an installation of its own.
beforeEach(async () => {
  t = await createTestApp();
  admin = await addStaff(t, { roles: ['admin'] });
  caseworker = await addStaff(t, { roles: ['caseworker'] });
});
afterEach(async () => {
  await t.close();
});

describe('settings', () => {
  it('shows the defaults (from the environment) before anything is changed', async () => {
    const agent = await signInStaff(t, admin);
    const page = await agent.get('/admin/settings');
    expect(page.status).toBe(200);
    expect(page.text).toContain('value="Test Community Aid"');
    expect(page.text).toContain(`value="${t.config.quickExitUrl}"`);
    expect(page.text).toContain('id="stats_threshold" name="stats_threshold" value="10"');
    expect(page.text).toContain(`value="${t.config.closedRetentionDays}"`);
  });

  it('applies organisation, quick exit and onion address to reporter pages at once, and audits each change', async () => {
    const before = (await auditDetails()).length;
    const res = await post('/admin/settings', {
      org_name: 'Harbour Scotland',
      org_contact: 'help@harbour.example',
      quick_exit_url: 'https://www.example.com/news',
      onion_address: `http://${ONION.toUpperCase()}/`,
    });
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe('/admin/settings?notice=saved');
    expect(await stored()).toMatchObject({
      org_name: 'Harbour Scotland',
      org_contact: 'help@harbour.example',
      quick_exit_url: 'https://www.example.com/news',
      onion_address: ONION,
    });

    const page = await request(t.app).get('/ug/report');
    expect(page.status).toBe(200);
    expect(page.headers['onion-location']).toBe(`http://${ONION}/ug/report`);
    // The quick exit ends the session through Harbour, then goes to the new page.
    expect(page.text).toContain('href="/ug/exit"');
    const exit = await request(t.app).get('/ug/exit');
    expect(exit.status).toBe(303);
    expect(exit.headers['location']).toBe('https://www.example.com/news');
    expect(page.text).toContain('Harbour Scotland');
    expect(page.text).toContain('\u2068help@harbour.example\u2069'); // isolated, so it reads left to right in Uyghur

    const entries = (await auditDetails()).slice(before);
    expect(entries.map((e) => (e.details as Record<string, string>)['setting']).sort()).toEqual([
      'onion_address',
      'org_contact',
      'org_name',
      'quick_exit_url',
    ]);
    expect(entries.every((e) => e.actor_id === admin.id)).toBe(true);
    expect(entries.find((e) => (e.details as Record<string, string>)['setting'] === 'org_name')!.details).toMatchObject({
      from: 'Test Community Aid',
      to: 'Harbour Scotland',
    });

    // Saving the same values again changes nothing and writes no audit entry.
    const again = await post('/admin/settings', { org_name: 'Harbour Scotland' });
    expect(again.headers['location']).toBe('/admin/settings?notice=unchanged');
    expect((await auditDetails()).length).toBe(before + 4);
  });

  it.each([
    [{ stats_threshold: '4' }, 'stats_threshold', 'at least 5'],
    [{ stats_threshold: 'ten' }, 'stats_threshold', 'whole number'],
    [{ org_name: '   ' }, 'org_name', 'organisation'],
    [{ org_name: 'x'.repeat(201) }, 'org_name', 'under 200'],
    [{ quick_exit_url: 'javascript:alert(1)' }, 'quick_exit_url', 'https://'],
    [{ quick_exit_url: 'https://user:pw@example.com/' }, 'quick_exit_url', 'https://'],
    [{ onion_address: 'example.onion' }, 'onion_address', 'version 3'],
    [{ closed_retention_days: '7' }, 'closed_retention_days', 'at least 30'],
    [{ triage_target_hours: '10', urgent_triage_target_hours: '24' }, 'urgent_triage_target_hours', 'not be longer'],
    [{ org_contact: 'line\u0007bell' }, 'org_contact', 'control'],
  ])('refuses %j with a message on the field and stores nothing', async (bad, field, message) => {
    const before = await stored();
    const audits = (await auditDetails()).length;
    const res = await post('/admin/settings', { ...bad, org_name: (bad as Record<string, string>)['org_name'] ?? 'A valid new name' });
    expect(res.status).toBe(422);
    expect(res.text).toContain(`href="#${field}"`);
    expect(res.text).toMatch(new RegExp(`id="${field}-error"[^>]*>[\\s\\S]*?${message}`, 'i'));
    expect(res.text).toContain('aria-invalid="true"');
    expect(await stored()).toEqual(before); // not even the valid name
    expect((await auditDetails()).length).toBe(audits);
  });

  it('uses the suppression threshold in every statistics output', async () => {
    await addReports(7, { region: 'wales', at: '2026-02-10T12:00:00Z' });
    const agent = await signInStaff(t, admin);
    const q = '?from=2026-Q1&to=2026-Q1';
    const region = async () => {
      const json = (await agent.get(`/admin/statistics.json${q}`)).body as {
        rules: { threshold: number };
        tables: { id: string; rows: { label: string; cells: string[] }[] }[];
      };
      return {
        threshold: json.rules.threshold,
        wales: json.tables.find((x) => x.id === 'region-quarter')!.rows.find((r) => r.label === 'Wales')!.cells[0],
      };
    };
    expect(await region()).toEqual({ threshold: 10, wales: '[c]' });
    expect((await post('/admin/settings', { stats_threshold: '5' })).status).toBe(303);
    expect(await region()).toEqual({ threshold: 5, wales: '5' }); // 7 → 5 once 7 is over the threshold
    const csv = (await agent.get(`/admin/statistics.csv${q}`)).text;
    expect(csv).toContain('Counts below 5 are suppressed');
    expect((await post('/admin/settings', { stats_threshold: '10' })).status).toBe(303);
  });

  it('uses the triage target for the queue and the retention period for the purge', async () => {
    const [late] = await addReports(1, { region: 'scotland', at: new Date(Date.now() - 5 * 3_600_000).toISOString() });
    // A case label (the administrator's list) finds this one case in the queue.
    const probe = await t.testDb.db.transaction().execute((trx) => addListItem(trx, 'label', { en: 'Target probe' }));
    await t.testDb.db
      .updateTable('reports')
      .set({ created_at: new Date(Date.now() - 5 * 3_600_000), labels: [probe] })
      .where('id', '=', late!)
      .execute();
    const cw = await signInStaff(t, caseworker);
    const overdue = async () => (await cw.get(`/staff/cases?label=${probe}&overdue=yes`)).text.includes(`/staff/cases/${late}`);
    expect(await overdue()).toBe(false); // 5 hours < 48
    expect((await post('/admin/settings', { triage_target_hours: '4', urgent_triage_target_hours: '2' })).status).toBe(303);
    expect(await overdue()).toBe(true);

    const [closed] = await addReports(1, { status: 'closed', closedDaysAgo: 40 });
    await runHousekeeping(t.testDb.db, t.config);
    expect(await t.testDb.db.selectFrom('reports').select('id').where('id', '=', closed!).executeTakeFirst()).toBeDefined();
    expect((await post('/admin/settings', { closed_retention_days: '30' })).status).toBe(303);
    await runHousekeeping(t.testDb.db, t.config);
    expect(await t.testDb.db.selectFrom('reports').select('id').where('id', '=', closed!).executeTakeFirst()).toBeUndefined();
  });
});

describe('lists', () => {
  it('renaming and retiring a value keeps old reports readable and counted', async () => {
    // A real report in Northern Ireland, and enough others for the count to show in statistics.
    const { receipt } = await fileReport(t.app, { ...VALID_REPORT, region: 'northern_ireland' });
    const real = (await t.testDb.db.selectFrom('reports').select('id').where('region', '=', 'northern_ireland').executeTakeFirstOrThrow()).id;
    await addReports(14, { region: 'northern_ireland', at: new Date().toISOString() });

    const renamed = await post('/admin/settings/lists/region/northern_ireland', {
      label_en: 'Ulster and Northern Ireland',
      label_ug: 'شىمالىي ئىرېلاندىيە (يېڭى)',
    });
    expect(renamed.status).toBe(303);
    const retired = await post('/admin/settings/lists/region/northern_ireland/retire', {});
    expect(retired.status).toBe(303);

    // The form no longer offers it, and a stale form that sends it is refused with a message.
    const form = await request(t.app).get('/en/report');
    expect(form.text).not.toContain('value="northern_ireland"');
    const agent = request.agent(t.app);
    const stale = await postReport(agent, await csrfFrom(agent, '/en/report'), { ...VALID_REPORT, region: 'northern_ireland' });
    expect(stale.status).toBe(422);

    // The reporter still reads their report with the new label, in their language.
    const { agent: reporter } = await signInWithReceipt(t.app, receipt, 'ug');
    expect((await reporter.get('/ug/status')).text).toContain('شىمالىي ئىرېلاندىيە (يېڭى)');

    // The caseworker's case page and queue filter still find and label it.
    const cw = await signInStaff(t, caseworker);
    expect((await cw.get(`/staff/cases/${real}`)).text).toContain('Ulster and Northern Ireland');
    const queue = await cw.get('/staff/cases?region=northern_ireland&status=all');
    expect(queue.text).toContain(`/staff/cases/${real}`);
    expect(queue.text).toContain('Ulster and Northern Ireland (retired)');

    // Statistics count all 15 under the new label.
    const ad = await signInStaff(t, admin);
    const now = new Date();
    const quarter = `${now.getUTCFullYear()}-Q${Math.floor(now.getUTCMonth() / 3) + 1}`;
    const json = (await ad.get(`/admin/statistics.json?from=${quarter}&to=${quarter}`)).body as {
      tables: { id: string; rows: { label: string; cells: string[] }[] }[];
    };
    const row = json.tables.find((x) => x.id === 'region-quarter')!.rows.find((r) => r.label === 'Ulster and Northern Ireland');
    expect(row?.cells[0]).toBe('15');

    // Restoring offers it again.
    expect((await post('/admin/settings/lists/region/northern_ireland/restore', {})).status).toBe(303);
    expect((await request(t.app).get('/en/report')).text).toContain('value="northern_ireland"');
    const changes = (await auditDetails())
      .map((e) => e.details as Record<string, string>)
      .filter((d) => d['code'] === 'northern_ireland')
      .map((d) => d['change']);
    expect(changes).toEqual(['renamed', 'retired', 'restored']);
  });

  it('adds a value that reporters can choose at once, labelled per language with English as the fallback', async () => {
    const res = await post('/admin/settings/lists/community', { label_en: 'Kazakh', 'label_zh-hans': '哈萨克族' });
    expect(res.status).toBe(303);
    const item = await t.testDb.db
      .selectFrom('list_items')
      .select(['code', 'position'])
      .where('list', '=', 'community')
      .where('code', '=', 'kazakh')
      .executeTakeFirstOrThrow();
    const last = await t.testDb.db
      .selectFrom('list_items')
      .select('code')
      .where('list', '=', 'community')
      .orderBy('position', 'desc')
      .executeTakeFirstOrThrow();
    expect(last.code).toBe('prefer_not_say'); // catch-alls stay last
    expect(item.code).toBe('kazakh');
    expect((await request(t.app).get('/zh-hans/report')).text).toContain('哈萨克族');
    expect((await request(t.app).get('/bo/report')).text).toMatch(/value="kazakh"[\s\S]{0,200}Kazakh/);
    const { receipt } = await fileReport(t.app, { ...VALID_REPORT, community: 'kazakh' });
    expect(receipt).toMatch(/^\d{20}$/);
    // A second "Kazakh" gets its own code; an empty English label is refused.
    await post('/admin/settings/lists/community', { label_en: 'Kazakh' });
    expect(await t.testDb.db.selectFrom('list_items').select('code').where('code', '=', 'kazakh_2').executeTakeFirst()).toBeDefined();
    const empty = await post('/admin/settings/lists/community', { label_en: '  ', label_ug: 'قازاق' });
    expect(empty.status).toBe(422);
    expect(empty.text).toContain('Enter the English label.');
    expect(empty.text).toContain('value="قازاق"'); // what was typed is kept
  });

  it('refuses to retire the last value offered, unknown lists and unknown values', async () => {
    const codes = (await t.testDb.db.selectFrom('list_items').select('code').where('list', '=', 'state').execute()).map((r) => r.code);
    for (const code of codes.slice(1)) expect((await post(`/admin/settings/lists/state/${code}/retire`, {})).status).toBe(303);
    const last = await post(`/admin/settings/lists/state/${codes[0]}/retire`, {});
    expect(last.status).toBe(409);
    expect(last.text).toContain('last value still offered');
    for (const code of codes.slice(1)) await post(`/admin/settings/lists/state/${code}/restore`, {});
    expect((await post('/admin/settings/lists/planets', { label_en: 'Mars' })).status).toBe(404);
    expect((await post('/admin/settings/lists/region/atlantis/retire', {})).status).toBe(404);
    expect((await post('/admin/settings/lists/region/..%2Fstate/retire', {})).status).toBe(404);
  });
});

describe('the caller owns the transaction', () => {
  it('adding a list value or saving settings refuses to run outside one, and writes nothing', async () => {
    const snapshot = async () => ({
      lists: await t.testDb.db.selectFrom('list_items').select(['list', 'code']).orderBy('list').orderBy('code').execute(),
      settings: await t.testDb.db.selectFrom('settings').select(['key', 'value']).orderBy('key').execute(),
    });
    const before = await snapshot();
    await expect(addListItem(t.testDb.db, 'label', { en: 'Outside a transaction' })).rejects.toThrow(/transaction/);
    await expect(saveSettings(t.testDb.db, t.config, { org_contact: 'Outside a transaction' })).rejects.toThrow(/transaction/);
    expect(await snapshot()).toEqual(before);
  });
});
