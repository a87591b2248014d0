import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { AxeResults, ImpactValue, RunOptions } from 'axe-core';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import sharp from 'sharp';
import { expect } from 'vitest';
import { createTestApp, type TestApp } from './app.js';

/**
 * The browser tier (conventions §10): Debian's Chromium, never a downloaded
 * browser, driving the real app served in-process on a random port.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export const LANGS = ['en', 'zh-hans', 'zh-hant', 'ug', 'bo'] as const;
export type Lang = (typeof LANGS)[number];
export const RTL_LANGS: readonly Lang[] = ['ug'];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

export type ServedApp = { baseUrl: string; t: TestApp; close(): Promise<void> };

/** createTestApp (organisation set up) listening on 127.0.0.1 at a free port. */
export async function serveApp(env: Record<string, string> = {}): Promise<ServedApp> {
  const t = await createTestApp({ env: { RATE_LIMITS: 'false', ...env } });
  const server = createServer(t.app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    t,
    async close() {
      // Chromium keeps connections alive; drop them or close() waits for their timeout.
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      await t.close();
    },
  };
}

/** A temporary directory holding a small JPEG whose EXIF carries a canary text (the server must strip it). */
export const EXIF_CANARY = 'e2e canary';

export async function canaryJpeg(): Promise<{ file: string; bytes: Buffer; cleanup(): void }> {
  const bytes = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } })
    .jpeg()
    .withExif({ IFD0: { ImageDescription: EXIF_CANARY } })
    .toBuffer();
  if (!bytes.includes(EXIF_CANARY)) throw new Error('sharp did not write the EXIF canary');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'harbour-e2e-'));
  const file = path.join(dir, 'harbour-photo.jpg');
  writeFileSync(file, bytes);
  return { file, bytes, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Clicks something that submits a form or follows a link and waits until the
 * next page has loaded. Works with JavaScript off: it waits on the main
 * frame's navigation, not on anything the page runs.
 */
export async function clickAndLoad(page: Page, target: Locator): Promise<void> {
  const navigated = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame() });
  await target.click();
  await navigated;
  await page.waitForLoadState('load');
}

export type ReportInput = {
  categories: string[];
  narrative: string;
  region: string;
  targeted: string;
  community: string;
  consent: string;
  followUp: string;
  files?: string[];
};

export const E2E_REPORT: ReportInput = {
  categories: ['threats', 'family'],
  narrative: 'Two men from the "service station" waited outside my flat in Croydon and asked about my sister.',
  region: 'london',
  targeted: 'me',
  community: 'uyghur',
  consent: 'talk_first',
  followUp: 'portal',
};

/** Fills the report form by its stable ids (the labels change with the language). */
export async function fillReport(page: Page, r: ReportInput): Promise<void> {
  for (const c of r.categories) await page.locator(`#cat-${c}`).check();
  await page.locator('#narrative').fill(r.narrative);
  await page.locator('#region').selectOption(r.region);
  await page.locator(`#targeted-${r.targeted}`).check();
  await page.locator('#community').selectOption(r.community);
  await page.locator(`#consent-${r.consent}`).check();
  await page.locator(`#follow_up-${r.followUp}`).check();
  if (r.files?.length) await page.locator('#evidence').setInputFiles(r.files);
}

/** The receipt on the confirmation page: 20 digits in groups of four, returned without spaces. */
export async function readReceipt(page: Page): Promise<string> {
  const shown = (await page.locator('.receipt').innerText()).trim();
  expect(shown).toMatch(/^\d{4} \d{4} \d{4} \d{4} \d{4}$/);
  return shown.replace(/ /g, '');
}

export async function signIn(page: Page, baseUrl: string, lang: string, receipt: string): Promise<void> {
  await page.goto(`${baseUrl}/${lang}/status`);
  await page.locator('#receipt').fill(receipt);
  await clickAndLoad(page, page.locator(`form[action="/${lang}/status"] button[type="submit"]`));
}

/** A receipt that is well formed but (with overwhelming likelihood) opens nothing. */
export const WRONG_RECEIPT = '1111 2222 3333 4444 5555';

/** The page states walkReporterPages visits, in order. */
export const REPORTER_PAGES = [
  'landing',
  'emergency',
  'report form',
  'report form with errors',
  'receipt',
  'receipt with mismatch error',
  'status',
  'withdraw confirmation',
  'withdraw confirmation with error',
  'withdrawn',
  'status sign-in',
  'status sign-in with wrong receipt',
  '404',
] as const;
export type ReporterPage = (typeof REPORTER_PAGES)[number];

/**
 * Every reporter page, in the states a reporter can meet, in one language.
 * `visit` is called on each with a short name; the walk checks it reached the
 * state it names before handing over, so a broken flow fails here, not as a
 * confusing accessibility or layout result.
 */
export async function walkReporterPages(
  page: Page,
  baseUrl: string,
  lang: Lang,
  evidenceFile: string,
  visit: (name: ReporterPage) => Promise<void>,
): Promise<void> {
  const go = async (p: string, status = 200) => {
    const res = await page.goto(`${baseUrl}/${lang}${p}`);
    expect(res?.status(), `GET /${lang}${p}`).toBe(status);
  };
  const errorSummary = page.locator('.error-summary');
  const submit = (form: string) => page.locator(`form[action="/${lang}${form}"] button[type="submit"]`);

  await go('/');
  await visit('landing');
  await go('/emergency');
  await visit('emergency');

  await go('/report');
  await visit('report form');
  await clickAndLoad(page, submit('/report'));
  expect(await errorSummary.count(), 'report form shows its errors').toBe(1);
  await visit('report form with errors');

  await fillReport(page, { ...E2E_REPORT, files: [evidenceFile] });
  await clickAndLoad(page, submit('/report'));
  expect(new URL(page.url()).pathname).toBe(`/${lang}/report/receipt`);
  const receipt = await readReceipt(page);
  await visit('receipt');

  await page.locator('#receipt').fill(WRONG_RECEIPT);
  await clickAndLoad(page, submit('/report/receipt'));
  expect(await errorSummary.count(), 'receipt mismatch error').toBe(1);
  await visit('receipt with mismatch error');

  await page.locator('#receipt').fill(receipt);
  await clickAndLoad(page, submit('/report/receipt'));
  expect(new URL(page.url()).pathname).toBe(`/${lang}/status`);
  await page.locator('#message').fill('Is there anything else you need from me?');
  await clickAndLoad(page, submit('/status/messages'));
  expect(await page.locator('.thread .message').count(), 'message thread').toBe(1);
  expect(await page.locator('.evidence-list li').count(), 'evidence list').toBe(1);
  await visit('status');

  await go('/status/withdraw');
  await visit('withdraw confirmation');
  await clickAndLoad(page, submit('/status/withdraw'));
  expect(await errorSummary.count(), 'withdraw without the checkbox').toBe(1);
  expect(await page.locator('#confirm').getAttribute('aria-describedby'), 'error tied to the checkbox').toBe('confirm-error');
  await visit('withdraw confirmation with error');
  await page.locator('#confirm').check();
  await clickAndLoad(page, submit('/status/withdraw'));
  expect(await page.locator('#confirm').count(), 'left the withdraw form').toBe(0);
  await visit('withdrawn');

  await go('/status');
  expect(await page.locator('#receipt').count(), 'status sign-in form').toBe(1);
  await visit('status sign-in');
  await page.locator('#receipt').fill(WRONG_RECEIPT);
  await clickAndLoad(page, submit('/status'));
  expect(await errorSummary.count(), 'wrong receipt error').toBe(1);
  expect(await page.locator('#receipt').getAttribute('aria-describedby'), 'error tied to the field').toBe('receipt-hint receipt-error');
  await visit('status sign-in with wrong receipt');

  await go('/no-such-page', 404);
  await visit('404');
}

// axe-core's browser bundle, injected into pages (the CSP forbids it, so the context bypasses CSP).
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export type AxeFinding = { id: string; impact: ImpactValue | null; help: string; targets: string[] };

/** Runs every axe-core rule on the page; returns the violations, one line-sized object each. */
export async function axeViolations(page: Page): Promise<AxeFinding[]> {
  await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, options: RunOptions): Promise<AxeResults> } }).axe;
    // resultTypes: details for violations only (all rules still run); much faster on long pages.
    const results = await axe.run(document, { resultTypes: ['violations'] });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? null,
      help: v.help,
      targets: v.nodes.map((n) => n.target.map(String).join(' ')),
    }));
  });
}

/** Elements sticking out of the viewport sideways (to explain a horizontal scrollbar). */
export function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; culprits: string[] }> {
  return overflowOutside(page, null);
}

// ---------------------------------------------------------------- staff pages

/** The password step of the staff sign-in, through the real form; lands on /staff/two-factor when right. */
export async function staffPasswordStep(page: Page, baseUrl: string, who: { email: string; password: string }): Promise<void> {
  await page.goto(`${baseUrl}/staff/sign-in`);
  await page.locator('#email').fill(who.email);
  await page.locator('#password').fill(who.password);
  await clickAndLoad(page, page.locator('form[action="/staff/sign-in"] button[type="submit"]'));
}

/**
 * Elements sticking out of the viewport. Content inside a scroller
 * (`.table-wrap` by default; none when null) does not count: such a box scrolls on its own and is meant
 * to be wider than the screen. Returns the page's scroll width and the
 * outermost elements sticking out of the viewport outside any scroller.
 */
export async function overflowOutside(page: Page, scroller: string | null = '.table-wrap'): Promise<{ scrollWidth: number; culprits: string[] }> {
  return page.evaluate((scrollerSel) => {
    const width = document.documentElement.clientWidth;
    const culprits: string[] = [];
    const seen = new Set<Element>();
    for (const el of Array.from(document.body.querySelectorAll<HTMLElement>('*'))) {
      if (scrollerSel && el.parentElement?.closest(scrollerSel)) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || (r.right <= width + 0.5 && r.left >= -0.5)) continue;
      // Report the outermost offender only.
      let inside = false;
      for (let p = el.parentElement; p && !inside; p = p.parentElement) inside = seen.has(p);
      seen.add(el);
      if (!inside) culprits.push(label(el));
    }
    return { scrollWidth: document.documentElement.scrollWidth, culprits: culprits.slice(0, 10) };

    function label(el: Element): string {
      const id = el.id ? `#${el.id}` : '';
      const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
      const r = el.getBoundingClientRect();
      return `${el.tagName.toLowerCase()}${id}${cls} [${Math.round(r.left)}..${Math.round(r.right)}]`;
    }
  }, scroller);
}
