import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { currentTotp } from '../../server/crypto/index.js';
import { mulberry32, seedCases } from '../../server/demo/seed.js';
import { currentTeamKey } from '../../server/setup/service.js';
import { axeViolations, clickAndLoad, staffPasswordStep, useBrowserRig } from '../helpers/browser.js';
import { VALID_REPORT, fileReport } from '../helpers/reporter.js';
import { addStaff, type TestStaff } from '../helpers/staff.js';

// The queue built for triage (issue 11), in Chromium: a caseworker signs in
// from the alert's link (the sign-in page) and lands on the queue with the
// urgent report first; at 1280×800 at least ten cases fit on the screen,
// each on one line, each link named apart; axe-core finds nothing; the
// filters and the find-by-id field work without JavaScript; a case address
// opened while signed out is where the sign-in lands.

const rig = useBrowserRig();
const DAY = 86_400_000;
let worker: TestStaff;
let urgentId = '';

beforeAll(async () => {
  const { t } = rig.served;
  const db = t.testDb.db;
  worker = await addStaff(t, { roles: ['caseworker'], name: 'Casey Triage' });
  // A month of varied cases (real encrypted reports), none of them urgent…
  await seedCases(db, {
    count: 40,
    teamKey: await currentTeamKey(db),
    random: mulberry32(11),
    startDate: new Date(Date.now() - 30 * DAY),
    assigneeIds: [worker.id],
  });
  await db.updateTable('reports').set({ urgent: false }).execute();
  // …then a reporter in danger now files through the real form.
  await fileReport(t.app, {
    ...VALID_REPORT,
    danger_now: 'yes',
    narrative: 'They are outside my door now and say they will take me to the embassy.',
  });
  urgentId = (await db.selectFrom('reports').select('id').where('urgent', '=', true).executeTakeFirstOrThrow()).id;
});

async function signIn(page: Page, baseUrl: string, startAt = '/staff/sign-in') {
  await t().testDb.db.updateTable('users').set({ totp_last_step: null }).where('id', '=', worker.id).execute();
  if (startAt === '/staff/sign-in') {
    await staffPasswordStep(page, baseUrl, worker);
  } else {
    await page.goto(`${baseUrl}${startAt}`);
    await page.locator('#email').fill(worker.email);
    await page.locator('#password').fill(worker.password);
    await clickAndLoad(page, page.locator('form[action="/staff/sign-in"] button[type="submit"]'));
  }
  expect(new URL(page.url()).pathname).toBe('/staff/two-factor');
  await page.locator('#code').fill(currentTotp(worker.totpSecret));
  await clickAndLoad(page, page.locator('form[action="/staff/two-factor"] button[type="submit"]'));
}
const t = () => rig.served.t;

describe('the queue for triage', () => {
  it('lands from the sign-in link on the queue, urgent case first; ten or more cases fit at 1280×800, dates on one line, links named apart', async () => {
    const { baseUrl } = rig.served;
    await rig.withPage({ javaScriptEnabled: true, bypassCSP: true, viewport: { width: 1280, height: 800 } }, async (page) => {
      await signIn(page, baseUrl);
      expect(new URL(page.url()).pathname).toBe('/staff/cases');
      const rows = page.locator('table.queue tbody tr');
      expect(await rows.count()).toBeGreaterThanOrEqual(10);
      // The urgent report is the first row.
      expect(await rows.first().locator('th a').getAttribute('href')).toBe(`/staff/cases/${urgentId}`);
      expect(await rows.first().locator('.tag--urgent').count()).toBe(1);

      const layout = await page.evaluate(() => {
        const trs = Array.from(document.querySelectorAll('table.queue tbody tr'));
        return {
          fullyVisible: trs.filter((tr) => {
            const r = tr.getBoundingClientRect();
            return r.top >= 0 && r.bottom <= window.innerHeight;
          }).length,
          // One line box per received date (an inline element that wraps has one rect per line).
          receivedLines: Array.from(document.querySelectorAll('table.queue td.queue-received time')).map((el) => el.getClientRects().length),
          filtersOpen: (document.querySelector('details.queue-filters') as HTMLDetailsElement | null)?.open ?? null,
          count: document.querySelector('#queue-count')?.textContent ?? null,
        };
      });
      expect(layout.fullyVisible, 'rows fully on screen at 1280×800').toBeGreaterThanOrEqual(10);
      expect(layout.receivedLines.length).toBe(await rows.count());
      expect(
        layout.receivedLines.every((n) => n === 1),
        `received dates on one line: ${layout.receivedLines.join(',')}`,
      ).toBe(true);
      expect(layout.filtersOpen, 'the filters are folded').toBe(false);
      const open = await t()
        .testDb.db.selectFrom('reports')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('state', '=', 'submitted')
        .where('status', '<>', 'closed')
        .executeTakeFirstOrThrow();
      expect(layout.count).toBe(`${Number(open.n)} cases match`);

      // Each row's link has its own name: the short id and the categories.
      const names = await page
        .locator('table.queue tbody th a')
        .evaluateAll((links) => links.map((a) => (a.textContent ?? '').replace(/\s+/g, ' ').trim()));
      expect(new Set(names).size, names.join(' | ')).toBe(names.length);
      for (const name of names) expect(name).toMatch(/^[0-9a-f]{8} \S/);
      expect(names[0]).toBe(`${urgentId.slice(0, 8)} Threats or violence, Pressure through family`);

      const found = await axeViolations(page);
      expect(found.map((v) => `${v.id}: ${v.help} → ${v.targets.join(' | ')}`)).toEqual([]);
      // Opened, the filters pass too.
      await page.locator('.queue-filters > summary').click();
      expect(await page.locator('#filter-category').isVisible()).toBe(true);
      const opened = await axeViolations(page);
      expect(opened.map((v) => `${v.id}: ${v.help} → ${v.targets.join(' | ')}`)).toEqual([]);
    });
  });

  it('finds a case by its short id and filters without JavaScript', async () => {
    const { baseUrl } = rig.served;
    await rig.withPage({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } }, async (page) => {
      await signIn(page, baseUrl);
      await page.locator('#find-id').fill(urgentId.slice(0, 8).toUpperCase());
      await clickAndLoad(page, page.locator('form.queue-find button[type="submit"]'));
      expect(new URL(page.url()).pathname).toBe(`/staff/cases/${urgentId}`);
      await page.goto(`${baseUrl}/staff/cases`);
      await page.locator('#find-id').fill('not an id');
      await clickAndLoad(page, page.locator('form.queue-find button[type="submit"]'));
      expect(await page.locator('#find-result').innerText()).toContain('That is not a case id.');
      // The folded filters open and apply with no script.
      await page.goto(`${baseUrl}/staff/cases`);
      await page.locator('.queue-filters > summary').click();
      await page.locator('#filter-urgent').selectOption('yes');
      await clickAndLoad(page, page.locator('form.filters button[type="submit"]'));
      expect(new URL(page.url()).searchParams.get('urgent')).toBe('yes');
      expect(await page.locator('table.queue tbody tr').count()).toBe(1);
      expect(await page.locator('#queue-count').innerText()).toBe('1 case matches');
    });
  });

  it('a case address opened while signed out is where the sign-in lands, through the code step', async () => {
    const { baseUrl } = rig.served;
    await rig.withPage({ javaScriptEnabled: false }, async (page) => {
      await page.goto(`${baseUrl}/staff/cases/${urgentId}`);
      expect(new URL(page.url()).pathname).toBe('/staff/sign-in');
      await signIn(page, baseUrl, new URL(page.url()).pathname + new URL(page.url()).search);
      expect(new URL(page.url()).pathname).toBe(`/staff/cases/${urgentId}`);
      expect(await page.locator('#report-section').innerText()).toContain('outside my door');
    });
  });
});
