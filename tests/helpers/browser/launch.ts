import { chromium, type Browser } from 'playwright-core';

/**
 * The browser tier (docs/architecture.md): Debian's Chromium, never a downloaded
 * browser, driving the real app served in-process on a random port.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';

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
