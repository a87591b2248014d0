import { describe, expect, it } from 'vitest';
import {
  LANGS,
  REPORTER_PAGES,
  axeViolations,
  expectLanguage,
  horizontalOverflow,
  problemsAtDoubleText,
  useBrowserRig,
  walkReporterPages,
} from '../helpers/browser.js';

// Every reporter page in every state a reporter meets: accessible (axe-core,
// all rules) in all five languages, and usable on a 320px-wide phone.

const rig = useBrowserRig();

describe.concurrent('axe-core finds no violations on any reporter page', () => {
  it.each(LANGS)('/%s/', async (lang) => {
    const found: string[] = [];
    const visited: string[] = [];
    // axe runs in the page, so this context has JavaScript on and ignores the CSP.
    await rig.withPage({ javaScriptEnabled: true, bypassCSP: true }, async (page) => {
      await walkReporterPages(page, rig.served.baseUrl, lang, rig.jpeg.file, async (name) => {
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
    await rig.withPage({ javaScriptEnabled: false, viewport: { width: 320, height: 640 } }, async (page) => {
      await walkReporterPages(page, rig.served.baseUrl, lang, rig.jpeg.file, async (name) => {
        visited.push(name);
        const { scrollWidth, culprits } = await horizontalOverflow(page);
        if (scrollWidth > 320) found.push(`${lang} ${name}: scrollWidth ${scrollWidth} → ${culprits.join(' | ')}`);
      });
    });
    expect(visited).toEqual(REPORTER_PAGES);
    expect(found, found.join('\n')).toEqual([]);
  });
});

describe.concurrent('every reporter page still works with text at 200%', () => {
  it.each(LANGS)('/%s/', async (lang) => {
    const found: string[] = [];
    const visited: string[] = [];
    await rig.withPage({ javaScriptEnabled: true, viewport: { width: 1280, height: 800 } }, async (page) => {
      await walkReporterPages(page, rig.served.baseUrl, lang, rig.jpeg.file, async (name) => {
        visited.push(name);
        found.push(...(await problemsAtDoubleText(page)).map((p) => `${lang} ${name}: ${p}`));
      });
    });
    expect(visited).toEqual(REPORTER_PAGES);
    expect(found, found.join('\n')).toEqual([]);
  });

  it('finds text sized in px, text cut off and a page grown too wide (positive control)', async () => {
    await rig.withPage({ javaScriptEnabled: true, bypassCSP: true, viewport: { width: 1280, height: 800 } }, async (page) => {
      await page.goto(`${rig.served.baseUrl}/en/`);
      expect(await problemsAtDoubleText(page)).toEqual([]);
      await page.addStyleTag({ content: 'h1 { font-size: 28px } .lead { overflow: hidden; height: 1.6rem } main { min-width: 50rem }' });
      const problems = (await problemsAtDoubleText(page)).join('\n');
      expect(problems).toMatch(/^h1: text 28px → 28px, not doubled$/m);
      expect(problems).toMatch(/^p\.lead: content \d+×\d+ cut to \d+×\d+$/m);
      expect(problems).toMatch(/^page \d+px wide in a 1280px window$/m);
    });
  });
});
