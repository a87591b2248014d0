import type { Locator, Page } from 'playwright-core';

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

/** The path of the page's current address. */
export const pathOf = (page: Page): string => new URL(page.url()).pathname;
