import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { currentTotp } from '../../server/crypto/index.js';
import { generateTestKeyPair } from '../../server/crypto/openpgp.js';
import { axeViolations, clickAndLoad, overflowOutside, staffPasswordStep, useBrowserRig } from '../helpers/browser.js';
import { addStaff } from '../helpers/staff.js';

// The alert sections of /staff/account and /admin/settings in a real
// browser, in the states staff meet: after each action the confirmation or
// the problem is where focus is (no script needed), and every state is
// accessible (axe-core at 1280px and 320px) and fits a 320px-wide screen.

const rig = useBrowserRig();

/** What has focus: its text, and whether it sits inside the given section. */
const focusIn = (page: Page, section: string) =>
  page.evaluate((id) => {
    const el = document.activeElement;
    return { text: el?.textContent?.trim() ?? '', inside: Boolean(el?.closest(`#${id}`)) };
  }, section);

async function walk(page: Page, visit: (name: string) => Promise<void>) {
  const { baseUrl, t } = rig.served;
  const me = await addStaff(t, { roles: ['admin', 'caseworker'] });
  await t.testDb.db.deleteFrom('settings').where('key', '=', 'alert_kinds').execute(); // every kind allowed again
  const submit = (action: string) => page.locator(`form[action="${action}"] button[type="submit"]`);
  await staffPasswordStep(page, baseUrl, me);
  await page.locator('#code').fill(currentTotp(me.totpSecret));
  await clickAndLoad(page, submit('/staff/two-factor'));

  await page.goto(`${baseUrl}/staff/account`);
  await visit('account');

  await page.locator('#alert_others-batched').check();
  await page.locator('#alert_batch_minutes').fill('15');
  await clickAndLoad(page, submit('/staff/account/alerts'));
  expect(new URL(page.url()).hash).toBe('#alerts-notice');
  expect(await focusIn(page, 'alerts')).toEqual({ text: 'Alert choices saved.', inside: true });
  await visit('account after saving alerts');

  await page.locator('#alert_batch_minutes').fill('2');
  await clickAndLoad(page, submit('/staff/account/alerts'));
  const refused = await focusIn(page, 'alerts');
  expect(refused.inside).toBe(true);
  expect(refused.text).toContain('Enter at least 5 minutes.');
  expect(await page.locator('#alert_batch_minutes').getAttribute('aria-describedby')).toBe('alert_batch_minutes-hint alert_batch_minutes-error');
  await visit('account with an alerts error');

  await page.locator('#alert_pgp_key').fill('not a key');
  await clickAndLoad(page, submit('/staff/account/alert-key'));
  expect((await focusIn(page, 'alert-key')).text).toContain('This is not an OpenPGP public key');
  await visit('account with a key error');

  await page.locator('#alert_pgp_key').fill((await generateTestKeyPair({ email: me.email })).publicKey);
  await clickAndLoad(page, submit('/staff/account/alert-key'));
  expect(await focusIn(page, 'alert-key')).toMatchObject({ inside: true, text: expect.stringContaining('Key saved.') });
  expect(await page.locator('code.fingerprint').innerText()).toMatch(/^([0-9A-F]{4} ){9}[0-9A-F]{4}$/);
  await visit('account with a key');

  await clickAndLoad(page, submit('/staff/account/alert-key/remove'));
  expect(await focusIn(page, 'alert-key')).toEqual({ text: 'Your alerts are no longer encrypted.', inside: true });

  // A failure that was given up, as the worker leaves it, for the settings page to explain.
  await t.testDb.db
    .insertInto('mail_outbox')
    .values({ id: randomUUID(), user_id: me.id, kind: 'digest', state: 'failed', last_error: 'auth', attempts: 8, due_at: new Date() })
    .execute();
  await page.goto(`${baseUrl}/admin/settings`);
  expect(await page.locator('#alerts').innerText()).toContain('The user name or password was refused');
  await visit('settings');

  await page.locator('#alert_kinds-digest').uncheck();
  await clickAndLoad(page, submit('/admin/settings/alerts'));
  expect(await focusIn(page, 'alerts')).toEqual({ text: 'Alert settings saved. They apply at once.', inside: true });
  expect(await page.locator('#alert_kinds-digest').isChecked()).toBe(false);
  await visit('settings after saving alerts');

  for (const kind of ['new_report', 'urgent_report', 'case_activity', 'case_overdue']) await page.locator(`#alert_kinds-${kind}`).uncheck();
  await clickAndLoad(page, submit('/admin/settings/alerts'));
  expect(await page.locator('input[name="alert_kinds"]:checked').count(), 'none allowed, sent by the browser itself').toBe(0);
  await page.goto(`${baseUrl}/staff/account`);
  await visit('account with every kind turned off');
}

const STATES = [
  'account',
  'account after saving alerts',
  'account with an alerts error',
  'account with a key error',
  'account with a key',
  'settings',
  'settings after saving alerts',
  'account with every kind turned off',
];

// One walk at a time: the allowed kinds are the installation's, and each walk changes them.
describe('alert pages', () => {
  it('put focus on the confirmation or the problem, and axe-core finds no violations', async () => {
    const found: string[] = [];
    const visited: string[] = [];
    await rig.withPage({ javaScriptEnabled: true, bypassCSP: true }, async (page) => {
      await walk(page, async (name) => {
        visited.push(name);
        for (const width of [1280, 320]) {
          await page.setViewportSize({ width, height: 720 });
          for (const v of await axeViolations(page)) found.push(`${name} at ${width}px: ${v.id} (${v.impact}) ${v.help} → ${v.targets.join(' | ')}`);
        }
        await page.setViewportSize({ width: 1280, height: 720 });
      });
    });
    expect(visited).toEqual(STATES);
    expect(found, found.join('\n')).toEqual([]);
  });

  it('work without JavaScript and fit a 320px-wide screen', async () => {
    const found: string[] = [];
    const visited: string[] = [];
    await rig.withPage({ javaScriptEnabled: false, viewport: { width: 320, height: 640 } }, async (page) => {
      await walk(page, async (name) => {
        visited.push(name);
        const { scrollWidth, culprits } = await overflowOutside(page, '.table-wrap');
        if (scrollWidth > 320 || culprits.length) found.push(`${name}: scrollWidth ${scrollWidth} → ${culprits.join(' | ')}`);
      });
    });
    expect(visited).toEqual(STATES);
    expect(found, found.join('\n')).toEqual([]);
  });
});
