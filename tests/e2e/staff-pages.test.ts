import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { currentTotp } from '../../server/crypto/index.js';
import { addListItem } from '../../server/settings/list-editing.js';
import { createUser } from '../../server/staff/users.js';
import { axeViolations, clickAndLoad, overflowOutside, problemsAtDoubleText, staffPasswordStep, useBrowserRig } from '../helpers/browser.js';
import { VALID_REPORT, fileReport } from '../helpers/reporter.js';
import { addStaff } from '../helpers/staff.js';
import { insertReports } from '../helpers/reports.js';

// Every staff and administrator page, in the states staff meet: accessible
// (axe-core, all rules, at 1280px and at 320px) and usable on a 320px-wide
// screen (only tables may scroll sideways, inside their .table-wrap).

const rig = useBrowserRig();

const STAFF_PAGES = [
  'sign-in',
  'sign-in with wrong password',
  'two-factor',
  'two-factor with wrong code',
  'queue',
  'queue filtered',
  'queue with no matching cases',
  'queue search for something not an id',
  'queue search finding two cases',
  'case',
  'case with empty note error',
  'case with empty reply error',
  'case with referral error',
  'case after referral',
  'referral pack',
  'closed case due for deletion',
  'queue of cases due for deletion',
  'team keys',
  'case access',
  'case access with an error',
  'account',
  'staff list',
  'staff list with invitation created',
  'audit log',
  'audit log filtered',
  'audit log with case ID error',
  'statistics',
  'statistics with a period error',
  'settings',
  'settings with an error',
  'settings list',
  'settings list value',
  'case labels list',
  'enrolment',
  'enrolment with wrong code',
] as const;
type StaffPage = (typeof STAFF_PAGES)[number];

/**
 * Every staff page state, signed in as someone with both roles (admin and
 * caseworker), then the first-time set-up of a second factor for someone
 * new. Each walk gets its own people and report, so walks can run side by
 * side. The walk checks it reached each state before calling `visit`.
 */
async function walkStaffPages(page: Page, visit: (name: StaffPage) => Promise<void>): Promise<void> {
  const { baseUrl, t } = rig.served;
  const tag = Math.random().toString(16).slice(2, 10);
  const me = await addStaff(t, { roles: ['admin', 'caseworker'], name: `Alex Both ${tag}` });
  const pending = await addStaff(t, { roles: ['caseworker'], approved: false, name: `Pat Waiting ${tag}` });
  const newcomer = { email: `newcomer-${tag}@example.org`, password: `newcomer password ${tag}` };
  await createUser(t.testDb.db, { email: newcomer.email, displayName: 'New Comer', roles: ['caseworker'], password: newcomer.password });
  // A case label, so the case pages show the label checkboxes.
  await t.testDb.db.transaction().execute((trx) => addListItem(trx, 'label', { en: `Station visit ${tag}` }));
  // consent talk_first: the referral form then asks why (an extra field and warning to check).
  await fileReport(t.app, { ...VALID_REPORT, narrative: `Walk ${tag}: ${String(VALID_REPORT['narrative'])}` }, [
    { name: 'harbour-photo.jpg', content: readFileSync(rig.jpeg.file) },
  ]);

  const go = async (p: string, status = 200) => {
    const res = await page.goto(`${baseUrl}${p}`);
    expect(res?.status(), `GET ${p}`).toBe(status);
  };
  const path = () => new URL(page.url()).pathname;
  const submit = (action: string) => page.locator(`form[action="${action}"] button[type="submit"]`);
  const errorSummary = page.locator('.error-summary');

  // Signing in.
  await go('/staff/sign-in');
  await visit('sign-in');
  await page.locator('#email').fill(me.email);
  await page.locator('#password').fill('not the password at all');
  await clickAndLoad(page, submit('/staff/sign-in'));
  expect(await errorSummary.count(), 'wrong password error').toBe(1);
  await visit('sign-in with wrong password');

  await staffPasswordStep(page, baseUrl, me);
  expect(path()).toBe('/staff/two-factor');
  await visit('two-factor');
  await page.locator('#code').fill(currentTotp(me.totpSecret) === '000000' ? '111111' : '000000');
  await clickAndLoad(page, submit('/staff/two-factor'));
  expect(await errorSummary.count(), 'wrong code error').toBe(1);
  expect(await page.locator('#code').getAttribute('aria-describedby'), 'error tied to the field').toBe('code-error');
  await visit('two-factor with wrong code');
  await page.locator('#code').fill(currentTotp(me.totpSecret));
  await clickAndLoad(page, submit('/staff/two-factor'));
  expect(path()).toBe('/staff/cases');
  await visit('queue');

  // The queue, filtered (the filters are folded under the bar's summary): matching, then matching nothing.
  expect(await page.locator('.queue-filters').getAttribute('open'), 'filters folded').toBeNull();
  await page.locator('.queue-filters > summary').click();
  await page.locator('#filter-status').selectOption('all');
  await page.locator('#filter-category').selectOption('threats');
  await page.locator('#filter-community').selectOption(String(VALID_REPORT['community']));
  await clickAndLoad(page, page.locator('form.filters button[type="submit"]'));
  const walkRow = page.locator('table.queue tbody tr');
  expect(await walkRow.count(), 'filtered queue rows').toBeGreaterThan(0);
  await visit('queue filtered');
  await page.locator('#filter-category').selectOption('return');
  await clickAndLoad(page, page.locator('form.filters button[type="submit"]'));
  expect(await page.locator('table.queue').count(), 'no rows').toBe(0);
  expect(await page.locator('main').innerText()).toContain('No cases match these filters.');
  await visit('queue with no matching cases');

  // Finding a case by id: something that is not one, then a short id two cases share.
  await go('/staff/cases');
  await page.locator('#find-id').fill('not a case');
  await clickAndLoad(page, page.locator('form.queue-find button[type="submit"]'));
  expect(await page.locator('#find-result').innerText()).toContain('That is not a case id.');
  await visit('queue search for something not an id');
  // Placeholder reports (never opened), long ago so the walk's own case stays the newest.
  const twins = await insertReports(t, 2, { at: '2020-01-01T00:00:00Z' });
  const prefix = tag.slice(0, 8).padEnd(8, '0');
  for (const [i, id] of twins.entries()) {
    await t.testDb.db
      .updateTable('reports')
      .set({ id: `${prefix}-000${i}-4000-8000-000000000000`, created_at: new Date('2020-01-01T00:00:00Z') })
      .where('id', '=', id)
      .execute();
  }
  await page.locator('#find-id').fill(prefix);
  await clickAndLoad(page, page.locator('form.queue-find button[type="submit"]'));
  expect(await page.locator('table.queue tbody tr').count(), 'two cases share the short id').toBe(2);
  await visit('queue search finding two cases');

  // This walk's case: the newest one.
  await go('/staff/cases?status=all&sort=newest');
  let caseUrl = '';
  for (const link of await page.locator('table.queue tbody th a').all()) {
    await clickAndLoad(page, link);
    if ((await page.locator('#report-section').innerText()).includes(`Walk ${tag}`)) {
      caseUrl = path();
      break;
    }
    await page.goBack();
  }
  expect(caseUrl, "this walk's case in the queue").toMatch(/^\/staff\/cases\/[0-9a-f-]{36}$/);
  expect(await page.locator('img.evidence-image').count(), 'the photo is shown').toBe(1);
  await visit('case');

  await clickAndLoad(page, submit(`${caseUrl}/notes`));
  expect(await errorSummary.count(), 'empty note error').toBe(1);
  expect(await page.locator('#note').getAttribute('aria-invalid')).toBe('true');
  await visit('case with empty note error');
  await go(caseUrl);
  await clickAndLoad(page, submit(`${caseUrl}/messages`));
  expect(await errorSummary.count(), 'empty reply error').toBe(1);
  expect(await page.locator('#message').getAttribute('aria-invalid')).toBe('true');
  await visit('case with empty reply error');

  // A note (so the referral form offers it), then a referral: first refused, then recorded.
  await page.locator('#note').fill('Spoke to the reporter; they are safe for now.');
  await clickAndLoad(page, submit(`${caseUrl}/notes`));
  expect(await errorSummary.count(), 'note added').toBe(0);
  await clickAndLoad(page, submit(`${caseUrl}/referrals`));
  expect(await errorSummary.count(), 'referral without destination').toBe(1);
  await visit('case with referral error');
  await page.locator('#destination').selectOption('local_police');
  await page.locator('#crime_reference').fill('MET/1234/26');
  await page.locator('#notes input[type="checkbox"]').first().check();
  await page.locator('#override_reason').fill('A threat to life: the men said they would come back with a car.');
  await clickAndLoad(page, submit(`${caseUrl}/referrals`));
  expect(await errorSummary.count(), 'referral recorded').toBe(0);
  expect(await page.locator('#referrals table tbody tr').count()).toBe(1);
  await visit('case after referral');

  await clickAndLoad(page, page.locator('#referrals table').getByRole('link', { name: /^Printable pack/ }));
  expect(await page.locator('h1').innerText()).toBe('Referral pack');
  await visit('referral pack');

  // Closed, and nearly a year ago: the retention panel and the queue's flag.
  await go(caseUrl);
  await page.locator('#status-closed').check();
  await page.locator('#outcome').selectOption('support_given');
  await clickAndLoad(page, submit(`${caseUrl}/status`));
  expect(await errorSummary.count(), 'closed').toBe(0);
  const caseId = caseUrl.split('/').pop()!;
  await t.testDb.db
    .updateTable('reports')
    .set({ closed_at: new Date(Date.now() - 360 * 86_400_000) })
    .where('id', '=', caseId)
    .execute();
  await go(caseUrl);
  expect(await page.locator('#retention').innerText()).toContain('This case is deleted on');
  await visit('closed case due for deletion');
  await go('/staff/cases?status=closed&deleting=yes');
  expect(await page.locator('.tag--deleting').count(), 'flagged rows').toBeGreaterThan(0);
  await visit('queue of cases due for deletion');

  await go('/staff/keys');
  await visit('team keys');
  await go('/staff/access');
  expect(await page.locator(`#person-${pending.id}`).count(), 'pending person').toBe(1);
  await visit('case access');
  await clickAndLoad(page, submit(`/staff/access/${pending.id}/approve`)); // without the tick
  expect(await errorSummary.count(), 'confirmation error').toBe(1);
  expect(await page.locator(`#confirm-${pending.id}`).getAttribute('aria-describedby'), 'error tied to the box').toBe(`confirm-${pending.id}-error`);
  await visit('case access with an error');
  await go('/staff/account');
  await visit('account');

  // Administration.
  await go('/admin/staff');
  await visit('staff list');
  await page.locator('#invite-email').fill(`invited-${tag}@example.org`);
  await page.locator('#role-admin').check();
  await clickAndLoad(page, submit('/admin/staff/invitations'));
  expect(await page.locator('main').innerText()).toContain('Invitation created');
  await visit('staff list with invitation created');

  await go('/admin/audit');
  expect(await page.locator('table').count(), 'audit entries').toBe(1);
  await visit('audit log');
  await page.locator('#action').selectOption('case.referred');
  await clickAndLoad(page, submit('/admin/audit'));
  expect(new URL(page.url()).searchParams.get('action')).toBe('case.referred');
  expect(await page.locator('main').innerText()).toContain('(filtered)');
  await visit('audit log filtered');
  await page.locator('#case').fill('not-a-case-id');
  await clickAndLoad(page, submit('/admin/audit'));
  expect(await errorSummary.count(), 'case ID error').toBe(1);
  await visit('audit log with case ID error');

  await go('/admin/statistics');
  expect(await page.locator('svg.chart').count(), 'statistics charts').toBeGreaterThan(0);
  await visit('statistics');
  await go('/admin/statistics?from=2030-Q1&to=2020-Q1', 400);
  expect(await errorSummary.count(), 'statistics period error').toBe(1);
  await visit('statistics with a period error');

  await go('/admin/settings');
  await visit('settings');
  await page.locator('#stats_threshold').fill('3');
  await clickAndLoad(page, submit('/admin/settings'));
  expect(await errorSummary.count(), 'threshold error').toBe(1);
  await visit('settings with an error');
  await go('/admin/settings/lists/community');
  await visit('settings list');
  await go('/admin/settings/lists/community/uyghur');
  await visit('settings list value');
  await go('/admin/settings/lists/label');
  await visit('case labels list');

  // Signing out, and someone new setting up a second factor.
  await clickAndLoad(page, submit('/staff/sign-out'));
  expect(path()).toBe('/staff/sign-in');
  await staffPasswordStep(page, baseUrl, newcomer);
  expect(await page.locator('figure.qr svg').count(), 'enrolment page').toBe(1);
  await visit('enrolment');
  await clickAndLoad(page, submit('/staff/two-factor'));
  expect(await errorSummary.count(), 'enrolment code error').toBe(1);
  expect(await page.locator('#code').getAttribute('aria-describedby'), 'error tied to the field').toBe('code-error');
  await visit('enrolment with wrong code');
}

describe.concurrent('staff pages', () => {
  it('axe-core finds no violations on any staff page', async () => {
    const found: string[] = [];
    const visited: string[] = [];
    // axe runs in the page, so this context has JavaScript on and ignores the CSP.
    await rig.withPage({ javaScriptEnabled: true, bypassCSP: true }, async (page) => {
      await walkStaffPages(page, async (name) => {
        visited.push(name);
        // At a desktop width and a phone width: whether a table scrolls (and so must be focusable) depends on it.
        for (const width of [1280, 320]) {
          await page.setViewportSize({ width, height: 720 });
          for (const v of await axeViolations(page)) {
            found.push(`${name} at ${width}px: ${v.id} (${v.impact}) ${v.help} → ${v.targets.join(' | ')}`);
          }
        }
      });
    });
    expect(visited).toEqual(STAFF_PAGES);
    expect(found, found.join('\n')).toEqual([]);
  });

  it('every staff page still works with text at 200%', async () => {
    const found: string[] = [];
    const visited: string[] = [];
    await rig.withPage({ javaScriptEnabled: true, viewport: { width: 1280, height: 800 } }, async (page) => {
      await walkStaffPages(page, async (name) => {
        visited.push(name);
        found.push(...(await problemsAtDoubleText(page)).map((p) => `${name}: ${p}`));
      });
    });
    expect(visited).toEqual(STAFF_PAGES);
    expect(found, found.join('\n')).toEqual([]);
  });

  it('every staff page fits a 320px-wide screen; only tables scroll sideways, inside their .table-wrap', async () => {
    const found: string[] = [];
    const visited: string[] = [];
    await rig.withPage({ javaScriptEnabled: false, viewport: { width: 320, height: 640 } }, async (page) => {
      await walkStaffPages(page, async (name) => {
        visited.push(name);
        const { scrollWidth, culprits } = await overflowOutside(page, '.table-wrap');
        if (scrollWidth > 320 || culprits.length) found.push(`${name}: scrollWidth ${scrollWidth} → ${culprits.join(' | ')}`);
      });
    });
    expect(visited).toEqual(STAFF_PAGES);
    expect(found, found.join('\n')).toEqual([]);
  });
});
