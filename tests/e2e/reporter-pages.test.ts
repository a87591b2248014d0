import { describe, expect, it } from 'vitest';
import {
  LANGS,
  REPORTER_PAGES,
  axeViolations,
  expectLanguage,
  horizontalOverflow,
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

