import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTotp } from '../../server/crypto/index.js';
import { drain, testWorker } from '../helpers/alerts.js';
import { E2E_REPORT, clickAndLoad, fillReport, launchBrowser, serveApp, staffPasswordStep, type ServedApp } from '../helpers/browser.js';
import { fileReport } from '../helpers/reporter.js';
import { parse, startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { addStaff } from '../helpers/staff.js';

/**
 * Issue 11's journey, in a real browser with JavaScript off: a reporter in
 * danger files an urgent report; the worker mails every approved caseworker
 * through a real SMTP server; the caseworker follows the link in the
 * message, signs in (password, then code) and lands on the queue with the
 * urgent case first, above an older report that is not urgent. The message
 * itself says nothing of the report.
 */
let smtp: TestSmtp;
let served: ServedApp;
let browser: Browser;

beforeAll(async () => {
  smtp = await startSmtp({ tls: 'starttls' });
  [served, browser] = await Promise.all([serveApp(smtp.env()), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await served?.close();
  await smtp?.close();
});

const submit = (page: import('playwright-core').Page, action: string) => page.locator(`form[action="${action}"] button[type="submit"]`);

describe('from an urgent report to the caseworker’s queue', () => {
  it('the alert’s link leads, through sign-in, to the queue with the urgent case first', async () => {
    const { baseUrl, t } = served;
    const worker = await addStaff(t, { roles: ['caseworker'], name: 'Una Urgent' });
    const worker2 = testWorker(t);

    // An older report that is not urgent: by "oldest waiting" alone it would come first.
    await fileReport(t.app);

    // The reporter, in danger now, files through the real form with scripts off.
    const marker = `canary-${Date.now()}`;
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const reporter = await context.newPage();
      await reporter.goto(`${baseUrl}/en/report`);
      await fillReport(reporter, { ...E2E_REPORT, narrative: `${E2E_REPORT.narrative} ${marker}` });
      await reporter.locator('#danger_now').check();
      await clickAndLoad(reporter, submit(reporter, '/en/report'));
      expect(new URL(reporter.url()).pathname).toBe('/en/report/receipt');
    } finally {
      await context.close();
    }
    const urgent = await t.testDb.db.selectFrom('reports').select('id').where('urgent', '=', true).where('state', '=', 'submitted').execute();
    expect(urgent).toHaveLength(1);

    // The worker sends what is due: the urgent alert, at once (the default), to this caseworker.
    await drain(worker2);
    const mine = smtp.received.filter((m) => m.to.includes(worker.email));
    expect(mine).toHaveLength(1);
    expect(mine[0]!.raw.toString('latin1')).not.toContain(marker);
    const mail = await parse(mine[0]!);
    const link = /https?:\/\/\S+\/staff\/sign-in\b/.exec(mail.text ?? '')?.[0];
    expect(link, 'the message links to the sign-in page').toBeTruthy();
    expect(new URL(link!).origin).toBe(t.config.publicUrl.origin);

    // The caseworker follows it (the served port differs from PUBLIC_URL in tests: same path, this server).
    const staffContext = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await staffContext.newPage();
      const path = new URL(link!).pathname;
      expect(path).toBe('/staff/sign-in');
      await staffPasswordStep(page, baseUrl, worker);
      expect(new URL(page.url()).pathname).toBe('/staff/two-factor');
      await page.locator('#code').fill(currentTotp(worker.totpSecret));
      await clickAndLoad(page, submit(page, '/staff/two-factor'));
      expect(new URL(page.url()).pathname).toBe('/staff/cases');

      const rows = page.locator('table.queue tbody tr');
      expect(await rows.count()).toBe(2);
      const first = await rows.first().innerText();
      expect(first).toContain(urgent[0]!.id.slice(0, 8));
      expect(first).toContain('Urgent');
      expect(await rows.nth(1).innerText()).not.toContain('Urgent');
    } finally {
      await staffContext.close();
    }
  });
});
