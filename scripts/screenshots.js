/* global document, window -- inside page.evaluate callbacks, which run in the browser */
// Screenshots of the reporter pages (`npm run screenshots`, which builds first).
//
// Starts Harbour itself (dist/server/index.js) on a free port against a
// throw-away embedded database (PGlite) in a temporary DATA_DIR, set up with
// `harbour setup --org "Harbour demo" --no-admin`; then drives Debian's
// Chromium (playwright-core, never a downloaded browser) through, in each of
// the five languages, at phone (360×780, device scale 2) and desktop
// (1280×900) sizes, full page:
//   landing        /{lang}/
//   report-error   the report form sent empty, its errors showing
//   receipt        the receipt page after really filing a report
// PNGs go to screenshots/ at the repository root, named
// {lang}-{phone|desktop}-{page}.png (e.g. screenshots/ug-phone-report-error.png).
// One JSON line on stdout lists the files written; progress goes to stderr.
// Environment: CHROMIUM_PATH (default /usr/bin/chromium).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const LANGS = ['en', 'zh-hans', 'zh-hant', 'ug', 'bo'];
const SIZES = {
  phone: { viewport: { width: 360, height: 780 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
  desktop: { viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 },
};
/** What a reporter might write, in each language (the receipt page does not show it; the form might). */
const NARRATIVE = {
  en: 'A man who said he was from the association phoned my mother and asked about me.',
  'zh-hans': '一个自称来自同乡会的男人打电话给我母亲，打听我的情况。',
  'zh-hant': '一個自稱來自同鄉會的男人打電話給我母親，打聽我的情況。',
  ug: 'ئۆزىنى جەمئىيەتتىن دەپ تونۇشتۇرغان بىر ئەر ئانامغا تېلېفون قىلىپ، مېنى سورىدى.',
  bo: 'སྐྱེས་པ་ཞིག་གིས་ངའི་ཨ་མར་ཁ་པར་བཏང་ནས་ང་སྐོར་དྲི་བ་བཏང་།',
};

const log = (msg) => process.stderr.write(`[screenshots] ${msg}\n`);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForReady(base, server, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the server exited with code ${server.exitCode}`);
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the server was not ready within ${timeoutMs / 1000} s`);
}

/** Clicks a submit button and waits for the next page to load (works with or without JavaScript). */
async function submitAndLoad(page, button) {
  const navigated = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame() });
  await button.click();
  await navigated;
  await page.waitForLoadState('load');
}

/**
 * Chinese pages use the device's fonts (Harbour serves only Uyghur and
 * Tibetan). A machine without a CJK font draws boxes, so say so up front.
 */
function warnWithoutChineseFont() {
  const fc = spawnSync('fc-list', [':lang=zh', 'family'], { encoding: 'utf8' });
  if (fc.error || fc.status !== 0) return log('fc-list is not available: cannot tell whether a Chinese font is installed');
  if (fc.stdout.trim() === '') {
    log('WARNING: no Chinese font on this machine; zh-hans and zh-hant screenshots will show boxes (Debian: apt-get install fonts-noto-cjk)');
  }
}

async function main() {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'server', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  warnWithoutChineseFont();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'harbour-screenshots-'));
  const env = { ...process.env, DATA_DIR: dataDir, HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMITS: 'false' };
  delete env.DATABASE_URL; // always the embedded database, never a real one
  let server = null;
  let browser = null;
  const written = [];
  try {
    log(`setting up "Harbour demo" in ${dataDir}`);
    const setup = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'harbour.js'), 'setup', '--org', 'Harbour demo', '--no-admin'], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
    });
    // stdout holds the recovery key of this throw-away installation: not printed.
    if (setup.status !== 0) throw new Error(`harbour setup failed (${setup.status}): ${setup.stderr}`);

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [path.join(ROOT, 'dist', 'server', 'index.js')], {
      cwd: ROOT,
      env: { ...env, PORT: String(port), PUBLIC_URL: base },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitForReady(base, server);
    log(`Harbour is up at ${base}`);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
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
    fs.mkdirSync(OUT, { recursive: true });

    for (const [size, options] of Object.entries(SIZES)) {
      for (const lang of LANGS) {
        const context = await browser.newContext(options);
        try {
          const page = await context.newPage();
          const shot = async (name) => {
            const file = path.join(OUT, `${lang}-${size}-${name}.png`);
            await page.evaluate(() => document.fonts.ready);
            await page.screenshot({ path: file, fullPage: true });
            written.push(path.relative(ROOT, file));
            log(`wrote ${path.relative(ROOT, file)}`);
          };
          const submit = page.locator(`form[action="/${lang}/report"] button[type="submit"]`);

          const landing = await page.goto(`${base}/${lang}/`);
          if (landing?.status() !== 200) throw new Error(`GET /${lang}/: ${landing?.status()}`);
          await shot('landing');

          await page.goto(`${base}/${lang}/report`);
          await submitAndLoad(page, submit);
          if ((await page.locator('.error-summary').count()) !== 1) throw new Error(`/${lang}/report: no error summary after sending it empty`);
          await page.evaluate(() => window.scrollTo(0, 0));
          await shot('report-error');

          await page.locator('#cat-threats').check();
          await page.locator('#cat-family').check();
          await page.locator('#narrative').fill(NARRATIVE[lang]);
          await page.locator('#region').selectOption('london');
          await page.locator('#targeted-me').check();
          await page.locator('#community').selectOption('uyghur');
          await page.locator('#consent-talk_first').check();
          await page.locator('#follow_up-portal').check();
          await submitAndLoad(page, submit);
          if (new URL(page.url()).pathname !== `/${lang}/report/receipt`) throw new Error(`/${lang}/report: not sent (now at ${page.url()})`);
          await shot('receipt');
        } finally {
          await context.close();
        }
      }
    }
  } finally {
    await browser?.close();
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify({ dir: path.relative(ROOT, OUT), files: written })}\n`);
}

main().catch((err) => {
  process.stderr.write(`[screenshots] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
