import type { Page } from 'playwright-core';
import type { Box } from './layout.js';

// Keyboard use: where focus is, whether it is drawn, and whether it moves in reading order.

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
