import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import type { BrowserContext } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { E2E_REPORT, EXIF_CANARY, clickAndLoad, fillReport, readReceipt, signIn, useBrowserRig } from '../helpers/browser.js';
import { fileReport } from '../helpers/reporter.js';

// The reporter's whole journey with JavaScript off (Tor Browser "Safest", docs/product.md).
const contexts: BrowserContext[] = [];

const rig = useBrowserRig();
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

async function noScriptPage() {
  const context = await rig.browser.newContext({ javaScriptEnabled: false });
  contexts.push(context);
  return context.newPage();
}

describe('reporter journey with JavaScript disabled', () => {
  it('files a report with a photo, confirms the receipt, writes, signs out, comes back and downloads the cleaned photo', async () => {
    const { baseUrl } = rig.served;
    const page = await noScriptPage();

    await page.goto(`${baseUrl}/en/`);
    await clickAndLoad(page, page.getByRole('link', { name: 'Make a report' }));
    expect(new URL(page.url()).pathname).toBe('/en/report');

    await fillReport(page, { ...E2E_REPORT, files: [rig.jpeg.file] });
    await clickAndLoad(page, page.getByRole('button', { name: 'Send my report securely' }));
    expect(new URL(page.url()).pathname).toBe('/en/report/receipt');
    const receipt = await readReceipt(page);

    await page.getByLabel('Type your receipt to show you have kept it').fill(receipt);
    await clickAndLoad(page, page.locator('form[action="/en/report/receipt"] button[type="submit"]'));
    expect(new URL(page.url()).pathname).toBe('/en/status');
    await expect.poll(() => page.locator('.narrative').innerText()).toBe(E2E_REPORT.narrative);

    const message = 'They came back on Tuesday. Should I call the police?';
    await page.locator('#message').fill(message);
    await clickAndLoad(page, page.locator('form[action="/en/status/messages"] button[type="submit"]'));
    expect(await page.locator('.thread .message--reporter .message__body').innerText()).toBe(message);

    await clickAndLoad(page, page.locator('form[action="/en/status/leave"] button[type="submit"]'));
    expect(new URL(page.url()).pathname).toBe('/en/');
    await page.goto(`${baseUrl}/en/status`);
    expect(await page.locator('.narrative').count(), 'signed out: the report is no longer shown').toBe(0);

    // A new browser session (another day): only the receipt leads back.
    const later = await noScriptPage();
    await signIn(later, baseUrl, 'en', receipt.replace(/(\d{4})(?=\d)/g, '$1 '));
    expect(new URL(later.url()).pathname).toBe('/en/status');
    expect(await later.locator('.narrative').innerText()).toBe(E2E_REPORT.narrative);
    expect(await later.locator('.thread .message__body').allInnerTexts()).toEqual([message]);
    const evidence = later.locator('.evidence-list li');
    expect(await evidence.count()).toBe(1);
    expect(await evidence.innerText()).toContain('harbour-photo.jpg');

    const downloading = later.waitForEvent('download');
    await evidence.getByRole('link').click();
    const download = await downloading;
    const file = await download.path();
    const bytes = readFileSync(file);
    expect([...bytes.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]); // still a JPEG
    expect(bytes.includes(EXIF_CANARY)).toBe(false); // metadata removed
    expect(bytes.equals(rig.jpeg.bytes)).toBe(false);
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('jpeg');
    expect([meta.width, meta.height]).toEqual([64, 48]);
    expect(meta.exif).toBeUndefined();
  });

  it('withdraws a report after the confirmation checkbox; its receipt then opens nothing', async () => {
    const { baseUrl, t } = rig.served;
    const { receipt } = await fileReport(t.app);
    const page = await noScriptPage();

    await signIn(page, baseUrl, 'en', receipt);
    expect(new URL(page.url()).pathname).toBe('/en/status');
    await clickAndLoad(page, page.getByRole('link', { name: 'Withdraw and delete my report' }));
    expect(new URL(page.url()).pathname).toBe('/en/status/withdraw');

    // Without the checkbox nothing is deleted.
    const withdrawButton = page.locator('form[action="/en/status/withdraw"] button[type="submit"]');
    await clickAndLoad(page, withdrawButton);
    expect(await page.locator('.error-summary').count()).toBe(1);
    await page.goto(`${baseUrl}/en/status`);
    expect(await page.locator('.narrative').count(), 'still there after an unconfirmed withdraw').toBe(1);

    await page.goto(`${baseUrl}/en/status/withdraw`);
    await page.locator('#confirm').check();
    await clickAndLoad(page, withdrawButton);
    expect(await page.locator('h1').innerText()).toBe('Your report has been deleted');

    // Signed out by the withdrawal, and the receipt no longer opens anything.
    await page.goto(`${baseUrl}/en/status`);
    expect(await page.locator('.narrative').count()).toBe(0);
    await signIn(page, baseUrl, 'en', receipt);
    expect(new URL(page.url()).pathname).toBe('/en/status');
    expect(await page.locator('.error-summary').count()).toBe(1);
    expect(await page.locator('.narrative').count()).toBe(0);

    const fresh = await noScriptPage();
    await signIn(fresh, baseUrl, 'en', receipt);
    expect(await fresh.locator('.error-summary').innerText()).toContain('We could not open a report with that receipt');
    expect(await fresh.locator('.narrative').count()).toBe(0);
  });
});
