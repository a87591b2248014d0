import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

/** Uyghur and Tibetan fonts come from Harbour itself, and only pages in those languages load them. */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const stylesheets = (html: string) => [...html.matchAll(/<link rel="stylesheet" href="([^"?]+)/g)].map((m) => m[1]!);

describe('fonts', () => {
  it.each([
    ['ug', '/static/css/fonts-ug.css'],
    ['bo', '/static/css/fonts-bo.css'],
  ])('a %s page links its font stylesheet, whose fonts are served here as WOFF2', async (lang, css) => {
    for (const p of ['/', '/report', '/status', '/no-such-page']) {
      expect(stylesheets((await request(t.app).get(`/${lang}${p}`)).text), `${lang}${p}`).toContain(css);
    }
    const sheet = await request(t.app).get(css);
    expect(sheet.status).toBe(200);
    const urls = [...sheet.text.matchAll(/url\("([^"]+)"\)/g)].map((m) => m[1]!);
    expect(urls.length).toBe(2); // regular and bold
    for (const url of urls) {
      expect(url).toMatch(/^\/static\/fonts\/[a-z0-9-]+\.woff2$/); // same origin: no font host sees the reporter
      const font = await request(t.app)
        .get(url)
        .buffer(true)
        .parse((res, cb) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => cb(null, Buffer.concat(chunks)));
        });
      expect(font.status).toBe(200);
      expect(font.headers['content-type']).toBe('font/woff2');
      expect((font.body as Buffer).subarray(0, 4).toString('latin1')).toBe('wOF2');
      expect((font.body as Buffer).length).toBeGreaterThan(20_000);
    }
  });

  it('pages in other languages load no web font', async () => {
    for (const lang of ['en', 'zh-hans', 'zh-hant']) {
      const links = stylesheets((await request(t.app).get(`/${lang}/report`)).text);
      expect(
        links.filter((l) => l.includes('fonts-')),
        lang,
      ).toEqual([]);
    }
  });

  it('every page can show the Uyghur and Tibetan language names: two fonts of a few KB with only their glyphs', async () => {
    const css = await request(t.app).get('/static/css/harbour.css');
    for (const name of ['names-ug.woff2', 'names-bo.woff2']) {
      expect(css.text).toContain(`/static/fonts/${name}`);
      const font = await request(t.app)
        .get(`/static/fonts/${name}`)
        .buffer(true)
        .parse((res, cb) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => cb(null, Buffer.concat(chunks)));
        });
      expect(font.status).toBe(200);
      expect((font.body as Buffer).subarray(0, 4).toString('latin1')).toBe('wOF2');
      expect((font.body as Buffer).length, name).toBeLessThan(8_000); // not the 50–160 KB full font
    }
  });

  it('serves only the listed font files', async () => {
    expect((await request(t.app).get('/static/fonts/noto-sans-arabic-latin-400-normal.woff2')).status).toBe(404);
    const escape = await request(t.app).get('/static/fonts/..%2F..%2Fpackage.json');
    expect([403, 404]).toContain(escape.status); // refused either way, never the file
    expect(escape.text).not.toContain('"dependencies"');
    expect((await request(t.app).get('/static/fonts/')).status).toBe(404);
  });
});
