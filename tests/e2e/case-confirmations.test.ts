import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { currentTotp } from '../../server/crypto/index.js';
import { axeViolations, clickAndLoad, staffPasswordStep, useBrowserRig } from '../helpers/browser.js';
import { VALID_REPORT, fileReport } from '../helpers/reporter.js';
import { addStaff, type TestStaff } from '../helpers/staff.js';

// Where the eye is after an action (issue 11): on the case page the
// confirmation sits next to the part acted on and takes the focus, scrolled
// into view, with JavaScript off (the redirect's #fragment names it) and on;
// refused input likewise (autofocus). The administrators' deactivation is
// confirmed on a page of its own and ends on a focused confirmation that
// suggests a team-key rotation. Every state passes axe-core.

const rig = useBrowserRig();
const VIEWPORT = { width: 1280, height: 800 };

async function signInAs(page: Page, who: TestStaff): Promise<void> {
  const { baseUrl, t } = rig.served;
  await t.testDb.db.updateTable('users').set({ totp_last_step: null }).where('id', '=', who.id).execute();
  await staffPasswordStep(page, baseUrl, who);
  await page.locator('#code').fill(currentTotp(who.totpSecret));
  await clickAndLoad(page, page.locator('form[action="/staff/two-factor"] button[type="submit"]'));
}

async function newCase(): Promise<string> {
  const { t } = rig.served;
  await fileReport(t.app, VALID_REPORT);
  const row = await t.testDb.db.selectFrom('reports').select('id').orderBy('submitted_at', 'desc').limit(1).executeTakeFirstOrThrow();
  return row.id;
}

const focusedId = (page: Page) => page.evaluate(() => document.activeElement?.id ?? '');
const submit = (page: Page, action: string) => page.locator(`form[action="${action}"] button[type="submit"]`);

/** The element is focused, inside `within`, and on screen (the page scrolled to it). */
async function expectFocusedInView(page: Page, id: string, within: string): Promise<void> {
  expect(await focusedId(page), `focus on #${id}`).toBe(id);
  expect(await page.locator(`${within} #${id}`).count(), `#${id} inside ${within}`).toBe(1);
  const box = (await page.locator(`#${id}`).boundingBox())!;
  expect(box.y, `#${id} scrolled into view`).toBeGreaterThanOrEqual(-1); // sub-pixel scrolling
  expect(box.y + Math.min(box.height, 40), `#${id} scrolled into view`).toBeLessThanOrEqual(VIEWPORT.height);
}

async function expectAxeClean(page: Page, state: string, js: boolean): Promise<void> {
  if (!js) return; // axe runs as a script: checked in the run with JavaScript on
  expect(await axeViolations(page), state).toEqual([]);
}

describe.each([
  ['JavaScript off', false],
  ['JavaScript on', true],
] as const)('the case page with %s', (_name, js) => {
  it('after each action, focus lands on the confirmation next to the section acted on; errors likewise', async () => {
    const { baseUrl, t } = rig.served;
    const worker = await addStaff(t, { roles: ['caseworker'], name: 'Casey Worker' });
    const id = await newCase();
    const base = `/staff/cases/${id}`;
    await rig.withPage({ javaScriptEnabled: js, bypassCSP: js, viewport: VIEWPORT }, async (page) => {
      await signInAs(page, worker);
      await page.goto(`${baseUrl}${base}`);

      // A note, far down the page.
      await page.locator('#note').fill('Called the reporter back; safe for now.');
      await clickAndLoad(page, submit(page, `${base}/notes`));
      expect(new URL(page.url()).hash).toBe('#notes-notice');
      await expectFocusedInView(page, 'notes-notice', '#notes-section');
      expect(await page.locator('#notes-notice').innerText()).toBe('Your note is added.');
      await expectAxeClean(page, 'after a note', js);

      // The status, in the side column.
      await page.locator('#status-triaged').check();
      await clickAndLoad(page, submit(page, `${base}/status`));
      await expectFocusedInView(page, 'status-notice', '#workflow');
      expect(await page.locator('#status-notice').innerText()).toBe('The status is updated.');

      // Urgency, assignee, a link, a reply.
      await clickAndLoad(page, submit(page, `${base}/urgency`));
      await expectFocusedInView(page, 'urgency-notice', '#workflow');
      await page.locator('#assignee').selectOption(worker.id);
      await clickAndLoad(page, submit(page, `${base}/assignee`));
      await expectFocusedInView(page, 'assignee-notice', '#workflow');
      const other = await newCase();
      await page.locator('#link_case').fill(other.slice(0, 8));
      await clickAndLoad(page, submit(page, `${base}/links`));
      await expectFocusedInView(page, 'links-notice', '#links-section');
      expect(await page.locator('#links-notice').innerText()).toBe('The cases are linked.');
      await page.locator('#message').fill('Thank you for telling us.');
      await clickAndLoad(page, submit(page, `${base}/messages`));
      await expectFocusedInView(page, 'messages-notice', '#messages-section');
      await expectAxeClean(page, 'after a reply', js);

      // Refused input: the message is in the section, focused on load (autofocus), also with JavaScript off.
      await clickAndLoad(page, submit(page, `${base}/messages`));
      await expectFocusedInView(page, 'messages-problem', '#messages-section');
      expect(await page.locator('#messages-problem').innerText()).toContain('There is a problem');
      expect(await page.locator('#message').getAttribute('aria-invalid')).toBe('true');
      await expectAxeClean(page, 'after an empty reply', js);
      await page.locator('#link_case').fill('ffffffff');
      await clickAndLoad(page, submit(page, `${base}/links`));
      await expectFocusedInView(page, 'links-problem', '#links-section');
      await expectAxeClean(page, 'after an unknown case to link', js);

      // The history: one line for the day's many views.
      const views = await page.locator('#history-section tbody tr', { hasText: 'Viewed the case' }).allInnerTexts();
      expect(views).toHaveLength(1);
      expect(views[0]).toMatch(/Casey Worker\s+Viewed the case \(\d+ times\)/);
    });
  });
});

describe('deactivating a colleague', () => {
  it('asks for confirmation on a page of its own, then focuses a confirmation that suggests a rotation; axe passes', async () => {
    const { baseUrl, t } = rig.served;
    const admin = await addStaff(t, { roles: ['admin', 'caseworker'], name: 'Ada Both' });
    const leaver = await addStaff(t, { roles: ['caseworker'], name: 'Lou Leaving' });
    await rig.withPage({ javaScriptEnabled: true, bypassCSP: true, viewport: VIEWPORT }, async (page) => {
      await signInAs(page, admin);
      await page.goto(`${baseUrl}/admin/staff`);
      await clickAndLoad(page, page.getByRole('link', { name: 'Deactivate Lou Leaving' }));
      expect(new URL(page.url()).pathname).toBe(`/admin/staff/${leaver.id}/deactivate`);
      expect(await page.locator('h1').innerText()).toBe('Deactivate Lou Leaving?');
      expect(await axeViolations(page), 'confirmation page').toEqual([]);
      // Nothing has changed by showing the page.
      expect((await t.testDb.db.selectFrom('users').select('status').where('id', '=', leaver.id).executeTakeFirstOrThrow()).status).toBe('active');

      await clickAndLoad(page, page.getByRole('button', { name: 'Deactivate Lou Leaving' }));
      expect(new URL(page.url()).hash).toBe('#staff-notice');
      expect(await focusedId(page)).toBe('staff-notice');
      const notice = await page.locator('#staff-notice').innerText();
      expect(notice).toContain('may have kept a copy of it');
      expect(await page.locator('#staff-notice a[href="/staff/keys"]').count()).toBe(1);
      expect(await axeViolations(page), 'staff list after a deactivation').toEqual([]);

      // And back: reactivated, with access to be approved again.
      await clickAndLoad(page, page.getByRole('button', { name: 'Reactivate Lou Leaving' }));
      expect(await focusedId(page)).toBe('staff-notice');
      expect(await page.locator('#staff-notice').innerText()).toContain('cannot open any case yet');
      expect(await axeViolations(page), 'staff list after a reactivation').toEqual([]);
    });
  });
});
