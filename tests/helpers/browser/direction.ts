import type { Page } from 'playwright-core';
import type { Box } from './layout.js';

// Reading direction measured on screen: what mirrors for right-to-left, what stays left to right.

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
    const describe = (el: Element) =>
      `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : ''}`;
    const visible = (el: Element) => el.getBoundingClientRect().width > 0;
    const main = document.querySelector('main')!;
    const ms = getComputedStyle(main);
    const mr = main.getBoundingClientRect();
    const siteName = document.querySelector('.site-name');
    const quickExit = document.querySelector('.quick-exit');

    const texts: { what: string; textAlign: string; firstLine: Box }[] = [];
    // Texts whose boxes start at main's content edge (not inside a padded or bordered box, nor a grid column).
    const inset =
      '.danger-box, .receipt-box, .notice, .error-summary, .message, .field--check, .choice, .contact-details, .inline-group, .inline-form';
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
      const own = Array.from(el.childNodes)
        .filter((n) => n.nodeType === Node.TEXT_NODE)
        .map((n) => n.textContent)
        .join('');
      const s = getComputedStyle(el);
      for (const g of own.match(ARROWS) ?? []) arrows.push({ what: describe(el), glyph: g, mirrored: mirrored(s) });
      for (const pseudo of ['::before', '::after']) {
        const ps = getComputedStyle(el, pseudo);
        for (const g of (ps.content ?? '').match(ARROWS) ?? [])
          arrows.push({ what: describe(el) + pseudo, glyph: g, mirrored: mirrored(ps) || mirrored(s) });
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
    if (!ok)
      p.push(
        `${where}: site name [${s.left | 0}..${s.right | 0}] is not to the ${rtl ? 'right' : 'left'} of the quick exit [${q.left | 0}..${q.right | 0}]`,
      );
  }
  if (!f.texts.length) p.push(`${where}: no text measured`);
  for (const t of f.texts) {
    const startEdge = rtl ? t.firstLine.right : t.firstLine.left;
    const contentStart = rtl ? f.content.right : f.content.left;
    if (!near(startEdge, contentStart)) {
      p.push(
        `${where}: ${t.what} text starts at x=${startEdge | 0}, not at the ${rtl ? 'right' : 'left'} edge x=${contentStart | 0} (text-align: ${t.textAlign})`,
      );
    }
    if (!['start', rtl ? 'right' : 'left'].includes(t.textAlign)) p.push(`${where}: ${t.what} text-align ${t.textAlign}`);
  }
  if (f.choice) {
    const { input: i, label: l } = f.choice;
    const ok = rtl ? i.left >= l.right - 1 : i.right <= l.left + 1;
    if (!ok)
      p.push(
        `${where}: ${f.choice.what}: the box [${i.left | 0}..${i.right | 0}] is not to the ${rtl ? 'right' : 'left'} of its label [${l.left | 0}..${l.right | 0}]`,
      );
  }
  for (const b of f.startBorders) {
    const [start, end] = rtl ? [b.right, b.left] : [b.left, b.right];
    if (!(start > 0 && start > end))
      p.push(
        `${where}: ${b.what} is marked on the ${rtl ? 'left' : 'right'} (border left ${b.left}px, right ${b.right}px), not on the reading-start side`,
      );
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
