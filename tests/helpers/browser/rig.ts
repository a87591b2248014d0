import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { createTestApp, type TestApp } from '../app.js';
import { canaryJpeg, type CanaryJpeg } from './fixtures.js';
import { launchBrowser } from './launch.js';

// A browser test file's set-up: Chromium, Harbour served on a free port, the canary image; pages in fresh contexts.

export type ServedApp = { baseUrl: string; t: TestApp; close(): Promise<void> };

/** createTestApp (organisation set up) listening on 127.0.0.1 at a free port. */
export async function serveApp(env: Record<string, string> = {}): Promise<ServedApp> {
  const t = await createTestApp({ env: { RATE_LIMITS: 'false', ...env } });
  const server = createServer(t.app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    t,
    async close() {
      // Chromium keeps connections alive; drop them or close() waits for their timeout.
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      await t.close();
    },
  };
}
type ContextOptions = Parameters<Browser['newContext']>[0];

/** What a browser test file works with; read its fields inside tests (they are set in beforeAll). */
export type BrowserRig = {
  readonly browser: Browser;
  readonly served: ServedApp;
  readonly jpeg: CanaryJpeg;
  /** A page in a fresh context (its own cookies), closed when `use` ends. */
  withPage<T>(options: ContextOptions, use: (page: Page) => Promise<T>): Promise<T>;
};

/**
 * Registers this file's set-up: Chromium, Harbour served over a fresh test
 * database (with `env` added), and a JPEG carrying an EXIF canary; all
 * closed after the file, whichever of them came up.
 */
export function useBrowserRig(env: Record<string, string> = {}): BrowserRig {
  let browser: Browser | undefined;
  let served: ServedApp | undefined;
  let jpeg: CanaryJpeg | undefined;
  beforeAll(async () => {
    // Assigned as each comes up, so afterAll closes whatever started even if another failed.
    await Promise.all([launchBrowser().then((b) => (browser = b)), serveApp(env).then((s) => (served = s)), canaryJpeg().then((j) => (jpeg = j))]);
  });
  afterAll(async () => {
    await browser?.close();
    await served?.close();
    jpeg?.cleanup();
  });
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not up: read it inside a test`);
    return value;
  };
  return {
    get browser() {
      return ready(browser, 'the browser');
    },
    get served() {
      return ready(served, 'the app');
    },
    get jpeg() {
      return ready(jpeg, 'the canary JPEG');
    },
    async withPage(options, use) {
      const context: BrowserContext = await ready(browser, 'the browser').newContext(options);
      try {
        return await use(await context.newPage());
      } finally {
        await context.close();
      }
    },
  };
}
