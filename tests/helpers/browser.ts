import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { AxeResults, ImpactValue, RunOptions } from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, expect } from 'vitest';
import { rootDir } from '../../server/paths.js';
import { createTestApp, type TestApp } from './app.js';
import { readAsTeam, staffCsrf, type signInStaff } from './staff.js';

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

export type CanaryJpeg = Awaited<ReturnType<typeof canaryJpeg>>;
type ContextOptions = Parameters<Browser['newContext']>[0];

/** What a browser test file works with; read its fields inside tests (they are set in beforeAll). */
export type BrowserRig = {
  readonly browser: Browser;
  readonly served: ServedApp;
  readonly jpeg: CanaryJpeg;
  /** A page in a fresh context (its own cookies), closed when `use` ends. */
  withPage<T>(options: ContextOptions, use: (page: Page) => Promise<T>): Promise<T>;
};

/**
 * Registers this file's set-up: Chromium, Harbour served over a fresh test
 * database (with `env` added), and a JPEG carrying an EXIF canary; all
 * closed after the file, whichever of them came up.
 */
export function useBrowserRig(env: Record<string, string> = {}): BrowserRig {
  let browser: Browser | undefined;
  let served: ServedApp | undefined;
  let jpeg: CanaryJpeg | undefined;
  beforeAll(async () => {
    // Assigned as each comes up, so afterAll closes whatever started even if another failed.
    await Promise.all([
      launchBrowser().then((b) => (browser = b)),
      serveApp(env).then((s) => (served = s)),
      canaryJpeg().then((j) => (jpeg = j)),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await served?.close();
    jpeg?.cleanup();
  });
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not up: read it inside a test`);
    return value;
  };
  return {
    get browser() {
      return ready(browser, 'the browser');
    },
    get served() {
      return ready(served, 'the app');
    },
    get jpeg() {
      return ready(jpeg, 'the canary JPEG');
    },
    async withPage(options, use) {
      const context: BrowserContext = await ready(browser, 'the browser').newContext(options);
      try {
        return await use(await context.newPage());
      } finally {
        await context.close();
      }
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

/** Presses a key (Enter or Space on a focused button or link) and waits until the next page has loaded, as clickAndLoad. */
export async function pressAndLoad(page: Page, key: string): Promise<void> {
  const navigated = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame() });
  await page.keyboard.press(key);
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
 * WCAG 1.4.4 (resize text): doubles the root font size, as a reader's
 * "very large" text setting does, and says what broke: text that did not
 * grow (sized in px; SVG chart labels aside), text a box cut off (overflow
 * hidden/clip), a page wider than the window. Restores the size after.
 * Needs JavaScript on in the page.
 */
export async function problemsAtDoubleText(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const root = document.documentElement;
    const visible = (el: Element) => {
      const r = el.getBoundingClientRect();
      // Visually hidden text (skip link at rest, .visually-hidden) is 1px by design.
      return r.width > 1 && r.height > 1 && getComputedStyle(el).visibility !== 'hidden';
    };
    // Text inside an SVG chart is laid out in the chart's own units and grows with the page zoom, not
    // the text size; each chart has a table beside it with the same figures, which this checks.
    const texts = Array.from(document.body.querySelectorAll<HTMLElement>('*')).filter(
      (el) => visible(el) && !el.closest('svg') && Array.from(el.childNodes).some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim() !== ''),
    );
    const before = new Map(texts.map((el) => [el, parseFloat(getComputedStyle(el).fontSize)]));
    const saved = root.style.fontSize;
    root.style.fontSize = '200%';
    try {
      const problems: string[] = [];
      for (const [el, size] of before) {
        const now = parseFloat(getComputedStyle(el).fontSize);
        if (now < size * 1.9) problems.push(`${label(el)}: text ${size}px → ${now}px, not doubled`);
      }
      for (const el of Array.from(document.body.querySelectorAll<HTMLElement>('*'))) {
        const style = getComputedStyle(el);
        if (!visible(el) || !/hidden|clip/.test(style.overflowX + style.overflowY)) continue;
        if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
          problems.push(`${label(el)}: content ${el.scrollWidth}×${el.scrollHeight} cut to ${el.clientWidth}×${el.clientHeight}`);
        }
      }
      if (root.scrollWidth > root.clientWidth) problems.push(`page ${root.scrollWidth}px wide in a ${root.clientWidth}px window`);
      return problems;
    } finally {
      root.style.fontSize = saved;
    }

    function label(el: Element): string {
      const id = el.id ? `#${el.id}` : '';
      const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
      return `${el.tagName.toLowerCase()}${id}${cls}`;
    }
  });
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

// ---------------------------------------------------------------- languages

const localeFiles = new Map<Lang, Record<string, unknown>>();

/**
 * A locale file as written, without i18next's English fallback: a string
 * missing from it fails the test instead of passing as English.
 */
export function localeFile(lang: Lang): Record<string, unknown> {
  let file = localeFiles.get(lang);
  if (!file) {
    file = JSON.parse(readFileSync(path.join(rootDir, 'locales', `${lang}.json`), 'utf8')) as Record<string, unknown>;
    localeFiles.set(lang, file);
  }
  return file;
}

/** The text for `key` (dotted) in locales/<lang>.json, {{placeholders}} filled from vars. */
export function tr(lang: Lang, key: string, vars: Record<string, string | number> = {}): string {
  let v: unknown = localeFile(lang);
  for (const part of key.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  if (typeof v !== 'string' || v === '') throw new Error(`locales/${lang}.json has no text for ${key}`);
  return v.replace(/\{\{\s*(\w+)\s*\}\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}

/** Every string in a locale file. */
export function localeStrings(lang: Lang): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') out.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(localeFile(lang));
  return out;
}

export const pathOf = (page: Page): string => new URL(page.url()).pathname;

/** `<html lang dir>` as a reporter page in `lang` must have them. */
export async function expectLanguage(page: Page, lang: Lang, where: string): Promise<void> {
  const html = await page.evaluate(() => ({ lang: document.documentElement.lang, dir: document.documentElement.dir }));
  expect(html, where).toEqual({ lang, dir: RTL_LANGS.includes(lang) ? 'rtl' : 'ltr' });
}

/**
 * One step of a reporter journey: the page is in `lang` (`<html lang dir>`),
 * its h1 is the locale file's `titleKey` and so is the start of its <title>.
 */
export async function expectStep(page: Page, lang: Lang, titleKey: string, where: string): Promise<void> {
  await expectLanguage(page, lang, where);
  const title = tr(lang, titleKey);
  expect(await page.locator('main h1').innerText(), `${where}: h1`).toBe(title);
  const withProblem = tr(lang, 'site.title_with_problem', { problem: tr(lang, 'form.error_summary_title'), title });
  expect(await page.title(), `${where}: <title>`).toMatch(new RegExp(`^(${escapeRegExp(title)}|${escapeRegExp(withProblem)}) · `));
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Latin-script words on a page in `lang` that the locale file does not
 * contain: English left in a template, or a missing translation that fell
 * back to English. Reporter-written text (dir=auto, narratives, messages,
 * file names), form values, the language names in the switcher and the
 * organisation's name are not the page's words and are skipped. Looks at
 * text nodes (hidden ones too: a closed select's options are read aloud),
 * aria-label/title/alt/placeholder and the document title.
 */
export async function untranslatedWords(page: Page, lang: Lang, allowed: string[] = []): Promise<string[]> {
  const words = new Set<string>();
  for (const s of [...localeStrings(lang), ...allowed]) for (const w of s.match(/[A-Za-z]{3,}/g) ?? []) words.add(w);
  return page.evaluate(
    ({ known }) => {
      const ok = new Set(known);
      // Reporter-written: narratives, messages, file names, links; the language names are each in their own language.
      const skip = '[dir="auto"], .narrative, .message__body, .evidence-list span, dd[dir="ltr"] li, nav.languages, script, style, textarea, [translate="no"]';
      const found: string[] = [];
      const note = (where: string, text: string) => {
        const bad = (text.match(/[A-Za-z]{3,}/g) ?? []).filter((w) => !ok.has(w));
        if (bad.length) found.push(`${where}: "${text.trim().slice(0, 80)}" (${bad.join(', ')})`);
      };
      const describe = (el: Element) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : ''}`;
      note('title', document.title);
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const parent = n.parentElement;
        if (!parent || parent.closest(skip)) continue;
        note(describe(parent), n.textContent ?? '');
      }
      for (const el of Array.from(document.body.querySelectorAll('[aria-label], [title], [alt], [placeholder]'))) {
        if (el.closest(skip)) continue;
        for (const a of ['aria-label', 'title', 'alt', 'placeholder']) {
          const v = el.getAttribute(a);
          if (v) note(`${describe(el)}[${a}]`, v);
        }
      }
      return found;
    },
    { known: [...words] },
  );
}

/**
 * Runs of numbers in several groups ("1234 5678", "0800 789 321",
 * "+44 7700 900123") whose digits are not shown left to right in reading
 * order: in right-to-left text the bidi algorithm reverses the order of the
 * groups unless the run is isolated (dir="ltr", LRI…PDI). Each digit's
 * on-screen position is measured, so a run is judged as the reader sees it.
 * Text the reporter wrote (dir="auto") is skipped.
 */
export async function reversedNumbers(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.parentElement?.closest('[dir="auto"]')) continue; // the reporter's own words, laid out as they wrote them
      const text = n.textContent ?? '';
      for (const m of text.matchAll(/\+?\d+(?:[ \u00a0.:/-]\d+)+/g)) {
        const xs: { x: number; y: number }[] = [];
        for (let i = m.index; i < m.index + m[0].length; i++) {
          if (!/\d/.test(text[i]!)) continue;
          const range = document.createRange();
          range.setStart(n, i);
          range.setEnd(n, i + 1);
          const r = range.getBoundingClientRect();
          if (r.width === 0) break; // not rendered (a closed select's option, hidden text)
          xs.push({ x: r.left + r.width / 2, y: r.top + r.height / 2 });
        }
        if (xs.length < 2) continue;
        const wrapped = xs.some((p) => Math.abs(p.y - xs[0]!.y) > 4);
        if (wrapped) continue; // over two lines: nothing to compare on one line
        if (xs.some((p, i) => i > 0 && p.x <= xs[i - 1]!.x)) {
          const el = n.parentElement!;
          found.push(`${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className).split(' ').join('.') : ''}: "${m[0]}" shown out of order`);
        }
      }
    }
    return found;
  });
}

// ---------------------------------------------------------------- direction and layout

type Box = { left: number; right: number; top: number; bottom: number };

/** What a page's layout says about its reading direction, measured on screen. */
export type DirectionFacts = {
  dir: string;
  /** The site name's and the quick-exit button's boxes in the header bar. */
  header: { siteName: Box; quickExit: Box } | null;
  /** main's content box (inside its padding). */
  content: { left: number; right: number };
  /** The first line of some block texts: where the text itself sits, and the computed text-align. */
  texts: { what: string; textAlign: string; firstLine: Box }[];
  /** A checkbox or radio and its label. */
  choice: { what: string; input: Box; label: Box } | null;
  /** Boxes marked on their reading-start side (danger box, notices, messages): border widths. */
  startBorders: { what: string; left: number; right: number }[];
  /** Elements that show numbers or receipts: computed direction. */
  ltrRuns: { what: string; direction: string }[];
  /** Arrow-like glyphs in text or ::before/::after, and whether a transform mirrors them. */
  arrows: { what: string; glyph: string; mirrored: boolean }[];
};

export async function directionFacts(page: Page): Promise<DirectionFacts> {
  return page.evaluate(() => {
    const box = (r: DOMRect) => ({ left: r.left, right: r.right, top: r.top, bottom: r.bottom });
    const describe = (el: Element) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : ''}`;
    const visible = (el: Element) => el.getBoundingClientRect().width > 0;
    const main = document.querySelector('main')!;
    const ms = getComputedStyle(main);
    const mr = main.getBoundingClientRect();
    const siteName = document.querySelector('.site-name');
    const quickExit = document.querySelector('.quick-exit');

    const texts: { what: string; textAlign: string; firstLine: Box }[] = [];
    // Texts whose boxes start at main's content edge (not inside a padded or bordered box, nor a grid column).
    const inset = '.danger-box, .receipt-box, .notice, .error-summary, .message, .field--check, .choice, .contact-details, .inline-group, .inline-form';
    for (const sel of ['main h1', 'main > p', 'main h2', '.field > label', 'main legend', 'main dt']) {
      const el = Array.from(document.querySelectorAll(sel)).find((e) => visible(e) && !e.closest(inset));
      if (!el) continue;
      const range = document.createRange();
      range.selectNodeContents(el);
      const first = range.getClientRects()[0];
      if (first) texts.push({ what: sel, textAlign: getComputedStyle(el).textAlign, firstLine: box(first) });
    }

    const choiceEl = Array.from(document.querySelectorAll('main .choice, main .field--check')).find(visible);
    const choice = choiceEl
      ? {
          what: describe(choiceEl),
          input: box(choiceEl.querySelector('input')!.getBoundingClientRect()),
          label: box(choiceEl.querySelector('label')!.getBoundingClientRect()),
        }
      : null;

    const startBorders = Array.from(document.querySelectorAll('.danger-box, .notice, .message, .contact-details'))
      .filter(visible)
      .map((el) => {
        const s = getComputedStyle(el);
        return { what: describe(el), left: parseFloat(s.borderLeftWidth), right: parseFloat(s.borderRightWidth) };
      });

    const ltrRuns = Array.from(document.querySelectorAll('.receipt, #receipt, #contact_value, #links, .report-fields [dir="ltr"]'))
      .filter(visible)
      .map((el) => ({ what: describe(el), direction: getComputedStyle(el).direction }));

    // Not « » ‹ ›: quotation marks in Uyghur, Chinese and others.
    const ARROWS = /[←→↔⇐⇒⟵⟶⬅➡◀▶◁▷❮❯➜➔⮕⮐↩↪]/g;
    const arrows: { what: string; glyph: string; mirrored: boolean }[] = [];
    const mirrored = (s: CSSStyleDeclaration) => s.transform !== 'none' && new DOMMatrixReadOnly(s.transform).a < 0;
    for (const el of Array.from(document.body.querySelectorAll('*'))) {
      const own = Array.from(el.childNodes).filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join('');
      const s = getComputedStyle(el);
      for (const g of own.match(ARROWS) ?? []) arrows.push({ what: describe(el), glyph: g, mirrored: mirrored(s) });
      for (const pseudo of ['::before', '::after']) {
        const ps = getComputedStyle(el, pseudo);
        for (const g of (ps.content ?? '').match(ARROWS) ?? []) arrows.push({ what: describe(el) + pseudo, glyph: g, mirrored: mirrored(ps) || mirrored(s) });
      }
    }

    return {
      dir: document.documentElement.dir,
      header: siteName && quickExit ? { siteName: box(siteName.getBoundingClientRect()), quickExit: box(quickExit.getBoundingClientRect()) } : null,
      content: { left: mr.left + parseFloat(ms.paddingLeft), right: mr.right - parseFloat(ms.paddingRight) },
      texts,
      choice,
      startBorders,
      ltrRuns,
      arrows,
    };
  });
}

/**
 * What is wrong with a page's layout for reading direction `dir`, one line
 * each (empty when right): the header, the start of text, choices, start
 * borders mirror; receipts and numbers stay left to right. A page laid out
 * for the other direction fails every check (tests prove it on English).
 */
export function directionProblems(f: DirectionFacts, dir: 'ltr' | 'rtl', where: string): string[] {
  const p: string[] = [];
  const rtl = dir === 'rtl';
  const near = (a: number, b: number) => Math.abs(a - b) <= 2;
  if (f.dir !== dir) p.push(`${where}: <html dir="${f.dir}">`);
  if (!f.header) p.push(`${where}: no site name and quick exit in the header`);
  else {
    const { siteName: s, quickExit: q } = f.header;
    const ok = rtl ? s.left >= q.right - 1 : s.right <= q.left + 1;
    if (!ok) p.push(`${where}: site name [${s.left | 0}..${s.right | 0}] is not to the ${rtl ? 'right' : 'left'} of the quick exit [${q.left | 0}..${q.right | 0}]`);
  }
  if (!f.texts.length) p.push(`${where}: no text measured`);
  for (const t of f.texts) {
    const startEdge = rtl ? t.firstLine.right : t.firstLine.left;
    const contentStart = rtl ? f.content.right : f.content.left;
    if (!near(startEdge, contentStart)) {
      p.push(`${where}: ${t.what} text starts at x=${startEdge | 0}, not at the ${rtl ? 'right' : 'left'} edge x=${contentStart | 0} (text-align: ${t.textAlign})`);
    }
    if (!['start', rtl ? 'right' : 'left'].includes(t.textAlign)) p.push(`${where}: ${t.what} text-align ${t.textAlign}`);
  }
  if (f.choice) {
    const { input: i, label: l } = f.choice;
    const ok = rtl ? i.left >= l.right - 1 : i.right <= l.left + 1;
    if (!ok) p.push(`${where}: ${f.choice.what}: the box [${i.left | 0}..${i.right | 0}] is not to the ${rtl ? 'right' : 'left'} of its label [${l.left | 0}..${l.right | 0}]`);
  }
  for (const b of f.startBorders) {
    const [start, end] = rtl ? [b.right, b.left] : [b.left, b.right];
    if (!(start > 0 && start > end)) p.push(`${where}: ${b.what} is marked on the ${rtl ? 'left' : 'right'} (border left ${b.left}px, right ${b.right}px), not on the reading-start side`);
  }
  for (const r of f.ltrRuns) if (r.direction !== 'ltr') p.push(`${where}: ${r.what} has direction ${r.direction}; numbers must stay left to right`);
  return p;
}

/**
 * Arrow-like icons ("back", "next") on a right-to-left page must point the
 * other way from the same page left to right: the other glyph, or the same
 * one mirrored by a transform. Compares the two pages' arrows in order.
 */
export function arrowProblems(ltr: DirectionFacts, rtl: DirectionFacts, where: string): string[] {
  const pointsRight = (a: DirectionFacts['arrows'][number]) => /[→⇒⟶➡▶▷❯➜➔⮕↪]/.test(a.glyph) !== a.mirrored;
  const symmetric = (a: DirectionFacts['arrows'][number]) => a.glyph === '↔';
  if (ltr.arrows.length !== rtl.arrows.length) {
    return [`${where}: ${ltr.arrows.length} arrows left to right, ${rtl.arrows.length} right to left`];
  }
  return rtl.arrows.flatMap((a, i) => {
    const l = ltr.arrows[i]!;
    if (symmetric(a) || pointsRight(a) !== pointsRight(l)) return [];
    return [`${where}: ${a.what} shows "${a.glyph}"${a.mirrored ? ' (mirrored)' : ''} pointing the same way as "${l.glyph}" left to right`];
  });
}

// ---------------------------------------------------------------- caseworker

type StaffAgent = Awaited<ReturnType<typeof signInStaff>>;

/**
 * A caseworker's reply to the report whose narrative contains `marker`,
 * posted through the case page's form by a signed-in staff agent
 * (signInStaff). The report is found as the team finds it: by opening it.
 */
export async function replyAsCaseworker(t: TestApp, staff: StaffAgent, marker: string, message: string): Promise<string> {
  const rows = await t.testDb.db.selectFrom('reports').select('id').where('state', '=', 'submitted').execute();
  let id: string | null = null;
  for (const r of rows) {
    if ((await readAsTeam(t.testDb.db, t.team!.keyPair, r.id)).narrative.includes(marker)) id = r.id;
  }
  if (!id) throw new Error(`no submitted report mentions ${marker}`);
  const token = await staffCsrf(staff, `/staff/cases/${id}`);
  const res = await staff.post(`/staff/cases/${id}/messages`).type('form').send({ _csrf: token, message });
  if (res.status !== 303) throw new Error(`caseworker reply failed: ${res.status} ${res.text.slice(0, 300)}`);
  return id;
}

// ---------------------------------------------------------------- keyboard

/** The focused element: what it is, where it is, and whether its focus is drawn (outline or box-shadow). */
export type Focused = {
  what: string;
  id: string;
  tag: string;
  type: string;
  box: Box;
  outline: string;
  boxShadow: string;
  focusVisible: boolean;
  inViewport: boolean;
};

export async function focused(page: Page): Promise<Focused | null> {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
    const label = (el as HTMLElement).innerText?.trim().slice(0, 40) || (el as HTMLInputElement).name || '';
    return {
      what: `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${label ? ` "${label}"` : ''}`,
      id: el.id,
      tag: el.tagName.toLowerCase(),
      type: (el as HTMLInputElement).type ?? '',
      box: { left: r.left + scrollX, right: r.right + scrollX, top: r.top + scrollY, bottom: r.bottom + scrollY },
      outline: outline ? `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}` : 'none',
      boxShadow: s.boxShadow,
      focusVisible: outline || s.boxShadow !== 'none',
      inViewport: r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth,
    };
  });
}

/**
 * Whether `next` comes after `prev` in reading order on screen: further
 * down, or on the same line further along in the reading direction. Boxes
 * overlapping vertically by half the smaller height are on one line.
 */
export function followsInReadingOrder(prev: Focused, next: Focused, dir: 'ltr' | 'rtl'): boolean {
  const overlap = Math.min(prev.box.bottom, next.box.bottom) - Math.max(prev.box.top, next.box.top);
  const minHeight = Math.min(prev.box.bottom - prev.box.top, next.box.bottom - next.box.top);
  if (overlap >= minHeight / 2) return dir === 'ltr' ? next.box.left >= prev.box.left - 1 : next.box.right <= prev.box.right + 1;
  return next.box.top > prev.box.top;
}
