import { createRequire } from 'node:module';
import path from 'node:path';
import type { RequestHandler } from 'express';
import { own } from '../own.js';
import { LANGUAGES, type Lang } from '../i18n/index.js';

/**
 * Web fonts for the scripts that phones and older computers often lack
 * (Uyghur's Arabic-script letters, Tibetan), served by Harbour itself from
 * the Fontsource npm packages (SIL Open Font License): no third-party font
 * host ever sees a reporter. Only the files named here are served, and only
 * pages in those languages link the stylesheet that loads them.
 */
const require = createRequire(import.meta.url);
const filesOf = (pkg: string) => path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'files');

const FONT_FILES: Record<string, string> = Object.fromEntries(
  [
    ['@fontsource/noto-sans-arabic', 'noto-sans-arabic-arabic-400-normal.woff2'],
    ['@fontsource/noto-sans-arabic', 'noto-sans-arabic-arabic-700-normal.woff2'],
    ['@fontsource/noto-serif-tibetan', 'noto-serif-tibetan-tibetan-400-normal.woff2'],
    ['@fontsource/noto-serif-tibetan', 'noto-serif-tibetan-tibetan-700-normal.woff2'],
  ].map(([pkg, file]) => [file!, path.join(filesOf(pkg!), file!)]),
);

/** The stylesheet with a language's @font-face rules, or null when the system fonts suffice. */
export const FONT_STYLESHEETS: Partial<Record<Lang, string>> = { ug: '/static/css/fonts-ug.css', bo: '/static/css/fonts-bo.css' };

/**
 * Every page lists the languages by their own names, so a page in English
 * must still show "ئۇيغۇرچە" and "བོད་ཡིག" legibly. Rather than the whole
 * fonts, those pages get two tiny fonts (about 3 KB) holding only the glyphs
 * of those names, cut from the same fonts with subset-font (HarfBuzz), once
 * per process on first request. Derived, identical in every instance.
 */
const NAME_FONTS: Record<string, { source: string; lang: Lang }> = {
  'names-ug.woff2': { source: 'noto-sans-arabic-arabic-400-normal.woff2', lang: 'ug' },
  'names-bo.woff2': { source: 'noto-serif-tibetan-tibetan-400-normal.woff2', lang: 'bo' },
};
const nameFonts = new Map<string, Promise<Buffer>>();

async function nameFont(name: string): Promise<Buffer> {
  const spec = own(NAME_FONTS, name)!;
  const { readFile } = await import('node:fs/promises');
  const { default: subsetFont } = await import('subset-font');
  const text = LANGUAGES.find((l) => l.code === spec.lang)!.name;
  return subsetFont(await readFile(own(FONT_FILES, spec.source)!), text, { targetFormat: 'woff2' });
}

const YEAR = 'public, max-age=31536000, immutable'; // each name carries its version

/** GET /static/fonts/<file>.woff2 for the files above; anything else falls through (to a 404). */
export const serveFont: RequestHandler = async (req, res, next) => {
  const name = req.path.replace(/^\//, '');
  if (own(NAME_FONTS, name)) {
    if (!nameFonts.has(name)) {
      // A failure is not kept: the next request tries again.
      nameFonts.set(
        name,
        nameFont(name).catch((err: unknown) => (nameFonts.delete(name), Promise.reject(err))),
      );
    }
    return res
      .setHeader('Cache-Control', YEAR)
      .type('font/woff2')
      .send(await nameFonts.get(name)!);
  }
  const file = own(FONT_FILES, name);
  if (!file) return next();
  res.setHeader('Cache-Control', YEAR).type('font/woff2').sendFile(file);
};
