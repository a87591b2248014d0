import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { currentTotp } from '../../server/crypto/index.js';
import { createUser } from '../../server/staff/users.js';
import { E2E_REPORT, axeViolations, clickAndLoad, fillReport, readReceipt, signIn, staffPasswordStep, useBrowserRig } from '../helpers/browser.js';
import { addStaff } from '../helpers/staff.js';

// A caseworker's journey with JavaScript off: sign-in with the second
// factor, the queue's filters, the case page (inline image, messages with
// the reporter), a referral and its printable pack; and first-time TOTP set-up.
const contexts: BrowserContext[] = [];

const rig = useBrowserRig();
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

async function noScriptPage(): Promise<Page> {
  const context = await rig.browser.newContext({ javaScriptEnabled: false });
  contexts.push(context);
  return context.newPage();
}

const path = (page: Page) => new URL(page.url()).pathname;
const submit = (page: Page, action: string) => page.locator(`form[action="${action}"] button[type="submit"]`);

/** The date the server calls today (referral dates are UK dates). */
const londonToday = () =>
  new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/London', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());

describe('staff journey with JavaScript disabled', () => {
  it('a caseworker finds a new report, sees its photo, writes with the reporter, refers it and opens the pack', async () => {
    const { baseUrl, t } = rig.served;

    // The reporter files a report (police referral: yes) with a photo and keeps the receipt.
    const reporter = await noScriptPage();
    await reporter.goto(`${baseUrl}/en/report`);
    const narrative = `${E2E_REPORT.narrative} (journey ${Date.now()})`;
    await fillReport(reporter, { ...E2E_REPORT, narrative, consent: 'yes', files: [rig.jpeg.file] });
    await clickAndLoad(reporter, submit(reporter, '/en/report'));
    expect(path(reporter)).toBe('/en/report/receipt');
    const receipt = await readReceipt(reporter);

    // The caseworker signs in: password, then the 6-digit code; lands on the queue.
    const worker = await addStaff(t, { roles: ['caseworker'], name: 'Casey Worker' });
    const staff = await noScriptPage();
    await staffPasswordStep(staff, baseUrl, worker);
    expect(path(staff)).toBe('/staff/two-factor');
    await staff.locator('#code').fill(currentTotp(worker.totpSecret));
    await clickAndLoad(staff, submit(staff, '/staff/two-factor'));
    expect(path(staff)).toBe('/staff/cases');

    // Filters matching the report: category and community (folded under the bar's summary until opened).
    await staff.locator('.queue-filters > summary').click();
    await staff.locator('#filter-category').selectOption('threats');
    await staff.locator('#filter-community').selectOption(E2E_REPORT.community);
    await clickAndLoad(staff, staff.locator('form.filters button[type="submit"]'));
    const url = new URL(staff.url());
    expect(url.pathname).toBe('/staff/cases');
    expect(url.searchParams.get('category')).toBe('threats');
    expect(url.searchParams.get('community')).toBe(E2E_REPORT.community);
    const rows = staff.locator('table.queue tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().innerText()).toContain('Threats');

    await clickAndLoad(staff, rows.first().getByRole('link', { name: /^[0-9a-f]{8} Threats/ }));
    expect(path(staff)).toMatch(/^\/staff\/cases\/[0-9a-f-]{36}$/);
    const caseUrl = staff.url();
    expect(await staff.locator('#report-section .narrative').innerText()).toBe(narrative);

    // The photo is shown inline: its source answers with an image (images load with JavaScript off).
    const img = staff.locator('#evidence-section img.evidence-image');
    expect(await img.count()).toBe(1);
    expect(await img.getAttribute('alt')).toBe('Evidence image: harbour-photo.jpg');
    const src = await img.getAttribute('src');
    const shown = await staff.request.get(new URL(src!, baseUrl).href);
    expect(shown.status()).toBe(200);
    expect(shown.headers()['content-type']).toMatch(/^image\//);
    expect([...(await shown.body()).subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    // And the element itself decoded it (Playwright evaluates even when the page's own scripts are off).
    await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.naturalWidth)).toBe(64);

    // A reply to the reporter.
    const reply = 'Thank you for telling us. A caseworker will call you on Thursday; is that safe?';
    await staff.locator('#message').fill(reply);
    await clickAndLoad(staff, submit(staff, `${path(staff)}/messages`));
    expect(await staff.locator('.notice--success').innerText()).toContain('Your message is sent');
    expect(await staff.locator('#messages-section .message--staff .message__body').allInnerTexts()).toEqual([reply]);

    // The reporter comes back with the receipt, reads the reply and answers.
    const back = await noScriptPage();
    await signIn(back, baseUrl, 'en', receipt);
    expect(path(back)).toBe('/en/status');
    expect(await back.locator('.thread .message--staff .message__body').allInnerTexts()).toEqual([reply]);
    const answer = 'Yes, Thursday after six is safe.';
    await back.locator('#message').fill(answer);
    await clickAndLoad(back, submit(back, '/en/status/messages'));
    expect(await back.locator('.thread .message--reporter .message__body').allInnerTexts()).toEqual([answer]);

    // The caseworker reloads the case and sees the answer.
    await staff.goto(caseUrl);
    expect(await staff.locator('#messages-section .message__body').allInnerTexts()).toEqual([reply, answer]);

    // A referral: where, today's date, a crime reference.
    const today = londonToday();
    expect(await staff.locator('#referred_on').getAttribute('max')).toBe(today);
    await staff.locator('#destination').selectOption('counter_terrorism_policing');
    await staff.locator('#referred_on').fill(today);
    await staff.locator('#crime_reference').fill('CTP/2026/0042');
    await clickAndLoad(staff, submit(staff, `${path(staff)}/referrals`));
    expect(await staff.locator('.notice--success').innerText()).toContain('The referral is recorded');
    const recorded = staff.locator('#referrals table tbody tr');
    expect(await recorded.count()).toBe(1);
    expect(await recorded.innerText()).toContain('Counter Terrorism Policing');
    expect(await recorded.innerText()).toContain('CTP/2026/0042');
    expect(await recorded.innerText()).toContain(today);

    // The printable pack shows the report.
    await clickAndLoad(staff, recorded.getByRole('link', { name: /^Printable pack/ }));
    expect(path(staff)).toMatch(/\/referrals\/[0-9a-f-]{36}\/pack$/);
    expect(await staff.locator('h1').innerText()).toBe('Referral pack');
    expect(await staff.locator('.referral-pack .narrative').innerText()).toBe(narrative);
    expect(await staff.locator('.referral-pack').innerText()).toContain('CTP/2026/0042');

    // The bundle is a zip.
    const bundleHref = await staff.locator('.referral-pack a[href$="/bundle"]').getAttribute('href');
    const bundle = await staff.request.get(new URL(bundleHref!, baseUrl).href);
    expect(bundle.status()).toBe(200);
    expect(bundle.headers()['content-type']).toBe('application/zip');
    expect([...(await bundle.body()).subarray(0, 4)]).toEqual([0x50, 0x4b, 0x03, 0x04]);
  });

  it('a first sign-in without a second factor shows the QR code and key; the code from that key completes it', async () => {
    const { baseUrl, t } = rig.served;
    const email = `new-admin-${Date.now()}@example.org`;
    const password = 'a long enough password for enrolment';
    await createUser(t.testDb.db, { email, displayName: 'New Admin', roles: ['admin'], password });

    const page = await noScriptPage();
    await staffPasswordStep(page, baseUrl, { email, password });
    expect(path(page)).toBe('/staff/two-factor');
    expect(await page.locator('h1').innerText()).toBe('Set up your second factor');
    const svg = page.locator('figure.qr svg');
    expect(await svg.count(), 'inline SVG QR code').toBe(1);
    expect(await page.locator('img').count(), 'no QR image from elsewhere').toBe(0);

    const key = (await page.locator('code.secret').innerText()).replace(/\s/g, '');
    expect(key).toMatch(/^[A-Z2-7]{16,}$/);
    // A wrong code first: the page stays, with the same key.
    await page.locator('#code').fill(currentTotp(key) === '000000' ? '111111' : '000000');
    await clickAndLoad(page, submit(page, '/staff/two-factor'));
    expect(await page.locator('.error-summary').count()).toBe(1);
    expect((await page.locator('code.secret').innerText()).replace(/\s/g, '')).toBe(key);

    await page.locator('#code').fill(currentTotp(key));
    await clickAndLoad(page, submit(page, '/staff/two-factor'));
    expect(path(page)).toBe('/admin/staff');
    const user = await t.testDb.db.selectFrom('users').select(['totp_secret_wrapped']).where('email', '=', email).executeTakeFirstOrThrow();
    expect(user.totp_secret_wrapped).not.toBeNull();

    // Next time only the code is asked for.
    const again = await noScriptPage();
    await staffPasswordStep(again, baseUrl, { email, password });
    expect(path(again)).toBe('/staff/two-factor');
    expect(await again.locator('h1').innerText()).toBe('Enter your code');
    expect(await again.locator('figure.qr').count()).toBe(0);
  });
});

describe('administrator journey', () => {
  it('an administrator views statistics, downloads the CSV and changes a setting; axe finds nothing on the way', async () => {
    const { baseUrl, t } = rig.served;
    // axe runs in the page: this context has JavaScript on and ignores the CSP (the pages need neither).
    const context = await rig.browser.newContext({ javaScriptEnabled: true, bypassCSP: true, acceptDownloads: true });
    contexts.push(context);
    const page = await context.newPage();
    const found: string[] = [];
    const checkAxe = async (name: string) => {
      for (const v of await axeViolations(page)) found.push(`${name}: ${v.id} ${v.help} → ${v.targets.join(' | ')}`);
    };

    const admin = await addStaff(t, { roles: ['admin'], name: 'Ada Admin' });
    await staffPasswordStep(page, baseUrl, admin);
    await page.locator('#code').fill(currentTotp(admin.totpSecret));
    await clickAndLoad(page, submit(page, '/staff/two-factor'));

    await clickAndLoad(page, page.locator('nav[aria-label="Staff"]').getByRole('link', { name: 'Statistics' }));
    expect(path(page)).toBe('/admin/statistics');
    expect(await page.locator('svg.chart').count()).toBeGreaterThan(0);
    expect(await page.locator('table').count()).toBeGreaterThan(0);
    await checkAxe('statistics');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'CSV' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^harbour-statistics-\d{4}-\d{2}-to-\d{4}-\d{2}\.csv$/);
    const csv = readFileSync((await download.path())!, 'utf8');
    expect(csv).toContain('# Harbour statistics');
    expect(csv).toContain('Counts below 10 are suppressed and shown as [c]');
    expect(csv).toMatch(/^Category,.*,Total\r$/m);

    // A setting: the quick-exit destination, refused when it is not a web address, then saved.
    await clickAndLoad(page, page.locator('nav[aria-label="Staff"]').getByRole('link', { name: 'Settings' }));
    expect(path(page)).toBe('/admin/settings');
    await checkAxe('settings');
    await page.locator('#quick_exit_url').fill('not a web address');
    await clickAndLoad(page, submit(page, '/admin/settings'));
    expect(await page.locator('.error-summary').count()).toBe(1);
    expect(await page.locator('#quick_exit_url').getAttribute('aria-invalid')).toBe('true');
    await checkAxe('settings with an error');
    await page.locator('.error-summary a[href="#quick_exit_url"]').click();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('quick_exit_url'); // the summary leads to the field
    await page.locator('#quick_exit_url').fill('https://www.example.org/weather');
    await clickAndLoad(page, submit(page, '/admin/settings'));
    expect(await page.locator('.notice--success').innerText()).toContain('Settings saved');
    expect(await page.locator('#quick_exit_url').inputValue()).toBe('https://www.example.org/weather');

    // Reporters get the new destination at once.
    const reporter = await noScriptPage();
    await reporter.goto(`${baseUrl}/en/`);
    // The link ends the session through Harbour, which then sends the reporter to the new destination.
    expect(await reporter.locator('a.quick-exit').getAttribute('href')).toBe('/en/exit');
    const exit = await reporter.request.get(`${baseUrl}/en/exit`, { maxRedirects: 0 });
    expect(exit.status()).toBe(303);
    expect(exit.headers()['location']).toBe('https://www.example.org/weather');
    expect(found, found.join('\n')).toEqual([]);
  });
});
