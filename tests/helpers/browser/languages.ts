import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { rootDir } from '../../../server/paths.js';

// The reporter's languages: locale files as written, and what a page in one must (not) show.

export const LANGS = ['en', 'zh-hans', 'zh-hant', 'ug', 'bo'] as const;
export type Lang = (typeof LANGS)[number];
export const RTL_LANGS: readonly Lang[] = ['ug'];

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
      const skip =
        '[dir="auto"], .narrative, .message__body, .evidence-list span, dd[dir="ltr"] li, nav.languages, script, style, textarea, [translate="no"]';
      const found: string[] = [];
      const note = (where: string, text: string) => {
        const bad = (text.match(/[A-Za-z]{3,}/g) ?? []).filter((w) => !ok.has(w));
        if (bad.length) found.push(`${where}: "${text.trim().slice(0, 80)}" (${bad.join(', ')})`);
      };
      const describe = (el: Element) =>
        `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : ''}`;
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
          found.push(
            `${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className).split(' ').join('.') : ''}: "${m[0]}" shown out of order`,
          );
        }
      }
    }
    return found;
  });
}
