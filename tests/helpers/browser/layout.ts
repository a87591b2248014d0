import type { Page } from 'playwright-core';

// Layout measured on screen: boxes sticking out sideways, text that does not grow (WCAG 1.4.4).

/** A box on screen, in CSS pixels. */
export type Box = { left: number; right: number; top: number; bottom: number };

/** Elements sticking out of the viewport sideways (to explain a horizontal scrollbar). */
export function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; culprits: string[] }> {
  return overflowOutside(page, null);
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
      (el) =>
        visible(el) && !el.closest('svg') && Array.from(el.childNodes).some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim() !== ''),
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
