import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LANGS,
  REPORTER_PAGES,
  axeViolations,
  canaryJpeg,
  expectLanguage,
  horizontalOverflow,
  launchBrowser,
  serveApp,
  walkReporterPages,
  type ServedApp,
} from '../helpers/browser.js';

// Every reporter page in every state a reporter meets: accessible (axe-core,
// all rules) in all five languages, and usable on a 320px-wide phone.
let browser: Browser;
let served: ServedApp;
let jpeg: Awaited<ReturnType<typeof canaryJpeg>>;

beforeAll(async () => {
  // Assigned as each comes up, so afterAll closes whatever started even if another failed.
  await Promise.all([
    launchBrowser().then((b) => (browser = b)),
    serveApp().then((s) => (served = s)),
    canaryJpeg().then((j) => (jpeg = j)),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await served?.close();
  jpeg?.cleanup();
});

async function withPage(options: Parameters<Browser['newContext']>[0], use: (page: Page) => Promise<void>) {
  const context: BrowserContext = await browser.newContext(options);
  try {
    await use(await context.newPage());
  } finally {
    await context.close();
  }
}

describe.concurrent('axe-core finds no violations on any reporter page', () => {
  it.each(LANGS)('/%s/', async (lang) => {
    const found: string[] = [];
    const visited: string[] = [];
    // axe runs in the page, so this context has JavaScript on and ignores the CSP.
    await withPage({ javaScriptEnabled: true, bypassCSP: true }, async (page) => {
      await walkReporterPages(page, served.baseUrl, lang, jpeg.file, async (name) => {
        visited.push(name);
        await expectLanguage(page, lang, name);
        for (const v of await axeViolations(page)) {
          found.push(`${lang} ${name}: ${v.id} (${v.impact}) ${v.help} → ${v.targets.join(' | ')}`);
        }
      });
    });
    expect(visited).toEqual(REPORTER_PAGES);
    expect(found, found.join('\n')).toEqual([]);
  });
});

describe.concurrent('every reporter page fits a 320px-wide screen without scrolling sideways', () => {
  it.each(['en', 'ug'] as const)('/%s/', async (lang) => {
    const found: string[] = [];
    const visited: string[] = [];
    await withPage({ javaScriptEnabled: false, viewport: { width: 320, height: 640 } }, async (page) => {
      await walkReporterPages(page, served.baseUrl, lang, jpeg.file, async (name) => {
        visited.push(name);
        const { scrollWidth, culprits } = await horizontalOverflow(page);
        if (scrollWidth > 320) found.push(`${lang} ${name}: scrollWidth ${scrollWidth} → ${culprits.join(' | ')}`);
      });
    });
    expect(visited).toEqual(REPORTER_PAGES);
    expect(found, found.join('\n')).toEqual([]);
  });
});
