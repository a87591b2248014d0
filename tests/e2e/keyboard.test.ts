import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  RTL_LANGS,
  expectStep,
  focused,
  followsInReadingOrder,
  pathOf,
  pressAndLoad,
  useBrowserRig,
  type Focused,
  type Lang,
} from '../helpers/browser.js';

// Issue 5: the report form with the keyboard only (Tab, Shift+Tab, Space,
// Enter, arrow keys, typing), from the top of the page to the receipt.
// Every focused element shows its focus, and focus moves in reading order
// (checked inside main; the header is only checked for visible focus).

const rig = useBrowserRig();

type Step = (page: Page) => Promise<void>;
const press =
  (...keys: string[]): Step =>
  async (page) => {
    for (const k of keys) await page.keyboard.press(k);
  };
const type =
  (text: string): Step =>
  (page) =>
    page.keyboard.type(text);

/** What to do when focus reaches an element (by id); everything else is passed with Tab. */
const PLAN: Record<string, Step> = {
  'cat-threats': press('Space'),
  'cat-family': press('Space'),
  narrative: type('Two men waited outside my flat.\nThey asked about my sister.'),
  from_month: press('ArrowDown', 'ArrowDown', 'ArrowDown'), // March
  from_year: press('ArrowDown'), // this year
  'ongoing-not_sure': press('ArrowUp'), // the preset answer; up to "no"
  region: press('ArrowDown', 'ArrowDown', 'ArrowDown', 'ArrowDown', 'ArrowDown', 'ArrowDown', 'ArrowDown'), // London
  'targeted-me': press('Space'),
  community: press('ArrowDown'), // Uyghur
  'channels-phone': press('Space'),
  'consent-yes': press('ArrowDown', 'ArrowDown'), // to "talk to me first"
};
const EXPECTED = {
  categories: ['threats', 'family'],
  narrative: 'Two men waited outside my flat.\nThey asked about my sister.',
  from_month: '3',
  from_year: String(new Date().getUTCFullYear()),
  ongoing: 'no',
  region: 'london',
  targeted: 'me',
  community: 'uyghur',
  channels: ['phone'],
  consent: 'talk_first',
  follow_up: 'portal',
};

async function formValues(page: Page) {
  return page.evaluate(() => {
    const form = document.querySelector<HTMLFormElement>('form#report-form, form.report-form')!;
    const data = new FormData(form);
    return {
      categories: data.getAll('categories'),
      narrative: data.get('narrative'),
      from_month: data.get('from_month'),
      from_year: data.get('from_year'),
      ongoing: data.get('ongoing'),
      region: data.get('region'),
      targeted: data.get('targeted'),
      community: data.get('community'),
      channels: data.getAll('channels'),
      consent: data.get('consent'),
      follow_up: data.get('follow_up'),
    };
  });
}

const isSubmit = (page: Page) => page.evaluate(() => !!document.activeElement?.matches('form.report-form button[type="submit"]'));

/**
 * The report form by keyboard: the skip link first, then Tab through the
 * form acting on the fields in PLAN, Shift+Tab back from the submit button
 * and forward again, Enter to send. Returns what was wrong on the way.
 */
async function reportByKeyboard(lang: Lang, js: boolean): Promise<string[]> {
  const dir = RTL_LANGS.includes(lang) ? 'rtl' : 'ltr';
  const context = await rig.browser.newContext({ javaScriptEnabled: js });
  const problems: string[] = [];
  try {
    const page = await context.newPage();
    await page.goto(`${rig.served.baseUrl}/${lang}/report`);
    await expectStep(page, lang, 'form.title', `${lang} report form`);

    const check = (f: Focused | null, prev: Focused | null, how: string): Focused => {
      if (!f) throw new Error(`${how}: focus left the page (after ${prev?.what})`);
      if (!f.focusVisible) problems.push(`${f.what}: focus not drawn (outline ${f.outline}, box-shadow ${f.boxShadow})`);
      if (!f.inViewport) problems.push(`${f.what}: focused but not scrolled into view`);
      if (prev && !followsInReadingOrder(prev, f, dir)) {
        problems.push(
          `${how} from ${prev.what} [${prev.box.left | 0},${prev.box.top | 0}] to ${f.what} [${f.box.left | 0},${f.box.top | 0}]: not in reading order`,
        );
      }
      return f;
    };

    // The first Tab from the top reaches the skip link, shown on focus; Enter moves to the content.
    await page.keyboard.press('Tab');
    const skip = check(await focused(page), null, 'Tab');
    expect(await page.evaluate(() => document.activeElement?.className), 'the first Tab stop').toBe('skip-link');
    expect(skip.box.bottom - skip.box.top, 'the skip link is shown').toBeGreaterThan(10);

    // The header next (site name, quick exit, the language list): focus drawn on each; then Shift+Tab back up.
    const header: string[] = [];
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(() => !!document.activeElement?.closest('main'))) break;
      header.push(check(await focused(page), null, 'Tab').what);
    }
    expect(header.length, `header stops: ${header.join(', ')}`).toBeGreaterThanOrEqual(7); // site name, quick exit, five languages
    for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement?.className)) !== 'skip-link'; i++) {
      await page.keyboard.press('Shift+Tab');
      check(await focused(page), null, 'Shift+Tab');
    }
    expect(await page.evaluate(() => document.activeElement?.className), 'Shift+Tab back to the skip link').toBe('skip-link');
    await page.keyboard.press('Enter');
    expect(check(await focused(page), null, 'Enter on the skip link').id, 'the skip link moves focus to main').toBe('main');

    let prev: Focused | null = null;
    const seen: string[] = [];
    for (let i = 0; i < 120 && !(await isSubmit(page)); i++) {
      await page.keyboard.press('Tab');
      let f = check(await focused(page), prev, 'Tab');
      seen.push(f.id || f.what);
      const step = PLAN[f.id];
      if (step) {
        await step(page);
        // Arrow keys move within a group, up as well as down: only Tab has to follow reading order.
        f = check(await focused(page), null, `keys on ${f.id}`);
        if (f.id !== seen.at(-1)) seen.push(f.id);
      }
      prev = f;
    }
    expect(await isSubmit(page), `reached the submit button; focus went through ${seen.join(', ')}`).toBe(true);
    for (const id of [...Object.keys(PLAN), 'ongoing-no', 'consent-talk_first', 'evidence']) {
      if (!seen.includes(id)) problems.push(`focus never reached #${id}`);
    }
    if (!seen.includes('narrative') || seen.indexOf('danger_now') > seen.indexOf('narrative')) problems.push(`focus order: ${seen.join(', ')}`);

    // Back one (the file input, passed without opening it) and forward again.
    await page.keyboard.press('Shift+Tab');
    expect((await focused(page))?.id, 'Shift+Tab from the submit button').toBe('evidence');
    await page.keyboard.press('Tab');
    expect(await isSubmit(page)).toBe(true);

    expect(await formValues(page), 'what the keyboard filled in').toEqual(EXPECTED);
    await pressAndLoad(page, 'Enter');
    expect(pathOf(page), `${lang}: Enter on the submit button sends the report`).toBe(`/${lang}/report/receipt`);
    await expectStep(page, lang, 'receipt.title', `${lang} receipt`);

    // Positive control for the focus check: with the focus style removed, a focused field counts as invisible.
    await page.locator('#receipt').evaluate((el: HTMLElement) => {
      el.style.setProperty('outline', 'none', 'important');
      el.style.setProperty('box-shadow', 'none', 'important');
    });
    await page.locator('#receipt').focus();
    expect((await focused(page))?.focusVisible, 'focus check control').toBe(false);
    return problems;
  } finally {
    await context.close();
  }
}

describe.concurrent('the report form by keyboard only', () => {
  it('the reading-order check (control): below or further along the line passes, above or backwards fails', () => {
    const at = (left: number, top: number): Focused => ({
      what: `[${left},${top}]`,
      id: '',
      tag: 'input',
      type: 'text',
      box: { left, right: left + 100, top, bottom: top + 20 },
      outline: 'none',
      boxShadow: 'none',
      focusVisible: true,
      inViewport: true,
    });
    expect(followsInReadingOrder(at(0, 0), at(0, 40), 'ltr')).toBe(true);
    expect(followsInReadingOrder(at(0, 40), at(0, 0), 'ltr')).toBe(false);
    expect(followsInReadingOrder(at(0, 0), at(150, 2), 'ltr')).toBe(true);
    expect(followsInReadingOrder(at(150, 0), at(0, 2), 'ltr')).toBe(false);
    expect(followsInReadingOrder(at(150, 0), at(0, 2), 'rtl')).toBe(true);
    expect(followsInReadingOrder(at(0, 0), at(150, 2), 'rtl')).toBe(false);
  });

  it('en, JavaScript off: skip link, every required field, checkboxes and radios, Enter sends; focus visible and in reading order', async () => {
    const problems = await reportByKeyboard('en', false);
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('ug, JavaScript on: the same, right to left', async () => {
    const problems = await reportByKeyboard('ug', true);
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
