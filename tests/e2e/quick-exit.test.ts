import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveSettings } from '../../server/settings/settings.js';
import { E2E_REPORT, clickAndLoad, fillReport, readReceipt, signIn, useBrowserRig } from '../helpers/browser.js';
import { serveDestination } from '../helpers/destination.js';
import { VALID_REPORT, fileReport } from '../helpers/reporter.js';

/**
 * "Leave this site" in Debian's Chromium, with JavaScript off and on: the
 * reporter lands on the ordinary site, and neither Back nor reopening the
 * status page shows the report again; nor does Back bring up what was typed
 * into the form. The destination is a page served here on 127.0.0.1 (never
 * the internet), set as the administrator's quick-exit setting.
 */
const rig = useBrowserRig();
let destination: Awaited<ReturnType<typeof serveDestination>>;
beforeAll(async () => {
  destination = await serveDestination();
  const { t } = rig.served;
  expect((await t.testDb.db.transaction().execute((trx) => saveSettings(trx, t.config, { quick_exit_url: destination.url }))).changed).toEqual([
    'quick_exit_url',
  ]);
});
afterAll(() => destination?.close());

async function leave(page: Page): Promise<void> {
  await Promise.all([page.waitForURL(destination.url), page.getByRole('link', { name: 'Leave this site' }).click()]);
  expect(await page.locator('h1').innerText()).toBe('Weather');
}

/** The sign-in page of /en/status, and nothing of the report. */
async function expectSignedOut(page: Page, where: string): Promise<void> {
  expect(new URL(page.url()).pathname, where).toBe('/en/status');
  expect(await page.locator('#receipt').count(), `${where}: the sign-in form`).toBe(1);
  expect(await page.locator('.narrative').count(), `${where}: no report`).toBe(0);
  expect(await page.locator('body').innerText(), where).not.toContain(E2E_REPORT.narrative);
}

describe.each([
  ['JavaScript off', false],
  ['JavaScript on', true],
])('quick exit with %s', (_what, javaScriptEnabled) => {
  it('the hint mentions Esc only when the script that makes it work runs', async () => {
    await rig.withPage({ javaScriptEnabled }, async (page) => {
      await page.goto(`${rig.served.baseUrl}/en/`);
      const hint = await page.locator('.quick-exit-hint').innerText();
      expect(hint).toContain('Leaves at once and opens an ordinary website.');
      if (javaScriptEnabled) expect(hint).toContain('Press Esc three times');
      else expect(hint).not.toContain('Esc');
    });
  });

  it('after filing and confirming a report: Back and reopening the status page show the sign-in page, not the report', async () => {
    const { baseUrl } = rig.served;
    await rig.withPage({ javaScriptEnabled }, async (page) => {
      await page.goto(`${baseUrl}/en/`);
      await clickAndLoad(page, page.getByRole('link', { name: 'Make a report' }));
      await fillReport(page, E2E_REPORT);
      await clickAndLoad(page, page.getByRole('button', { name: 'Send my report securely' }));
      const receipt = await readReceipt(page);
      await page.getByLabel('Type your receipt to show you have kept it').fill(receipt);
      await clickAndLoad(page, page.locator('form[action="/en/report/receipt"] button[type="submit"]'));
      expect(await page.locator('.narrative').innerText()).toBe(E2E_REPORT.narrative);

      await leave(page);
      await page.goBack();
      await expectSignedOut(page, 'Back after the exit');
      await page.goto(`${baseUrl}/en/status`);
      await expectSignedOut(page, '/en/status reopened');
    });
  });

  it('after signing in with the receipt: Back shows the sign-in page', async () => {
    const { baseUrl, t } = rig.served;
    const { receipt } = await fileReport(t.app, { ...VALID_REPORT, narrative: E2E_REPORT.narrative });
    await rig.withPage({ javaScriptEnabled }, async (page) => {
      await signIn(page, baseUrl, 'en', receipt);
      expect(await page.locator('.narrative').innerText()).toBe(E2E_REPORT.narrative);
      await leave(page);
      await page.goBack();
      await expectSignedOut(page, 'Back after the exit');
    });
  });

  it('a half-filled report: Back after the exit does not bring back what was typed', async () => {
    const { baseUrl } = rig.served;
    const typed = 'They photographed my brother outside the community centre on Friday.';
    await rig.withPage({ javaScriptEnabled }, async (page) => {
      await page.goto(`${baseUrl}/en/`);
      await clickAndLoad(page, page.getByRole('link', { name: 'Make a report' }));
      await page.locator('#narrative').fill(typed);
      await page.locator('#cat-threats').check();
      await leave(page);
      await page.goBack();
      await page.waitForLoadState('load');
      expect(await page.locator('body').innerText()).not.toContain(typed);
      if (javaScriptEnabled) {
        // location.replace took the form's place in history: Back skips it.
        expect(new URL(page.url()).pathname).toBe('/en/');
      } else {
        // The form's own entry: loaded again, empty (the browser kept no copy to fill in).
        expect(new URL(page.url()).pathname).toBe('/en/report');
        expect(await page.locator('#narrative').inputValue()).toBe('');
        expect(await page.locator('#cat-threats').isChecked()).toBe(false);
      }
    });
  });
});

describe('quick exit by keyboard (JavaScript on)', () => {
  it('Esc three times leaves and ends the session', async () => {
    const { baseUrl, t } = rig.served;
    const { receipt } = await fileReport(t.app);
    await rig.withPage({ javaScriptEnabled: true }, async (page) => {
      await signIn(page, baseUrl, 'en', receipt);
      expect(await page.locator('.narrative').count()).toBe(1);
      await Promise.all([
        page.waitForURL(destination.url),
        (async () => {
          for (let i = 0; i < 3; i++) await page.keyboard.press('Escape');
        })(),
      ]);
      await page.goto(`${baseUrl}/en/status`);
      await expectSignedOut(page, '/en/status after Esc ×3');
    });
  });
});
