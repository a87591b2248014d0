import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { localesDir } from '../../../server/paths.js';
import { DEFAULT_LANG, LANGUAGES, dirOf, initI18n, isLang, pickLanguage, translator } from '../../../server/i18n/index.js';

describe('pickLanguage', () => {
  it.each([
    ['zh-CN,zh;q=0.9', 'zh-hans'],
    ['zh', 'zh-hans'],
    ['zh-SG', 'zh-hans'],
    ['zh-Hans', 'zh-hans'],
    ['zh-Hans-CN', 'zh-hans'],
    ['zh-TW', 'zh-hant'],
    ['zh-HK', 'zh-hant'],
    ['zh-MO', 'zh-hant'],
    ['zh-Hant', 'zh-hant'],
    ['zh-Hant-TW', 'zh-hant'],
    ['ZH-tw', 'zh-hant'],
    ['ug-CN', 'ug'],
    ['ug', 'ug'],
    ['bo', 'bo'],
    ['bo-IN', 'bo'],
    ['en-GB', 'en'],
    ['en', 'en'],
  ])('maps %s to %s', (header, lang) => {
    expect(pickLanguage(header)).toBe(lang);
  });

  it.each([
    ['fr-FR, en;q=0.5', 'en'],
    ['fr-FR, bo;q=0.5', 'bo'],
    ['de, fr;q=0.9, ug;q=0.1', 'ug'],
    ['*', 'en'],
  ])('skips unsupported languages in %s', (header, lang) => {
    expect(pickLanguage(header)).toBe(lang);
  });

  it.each([
    ['en;q=0.1, ug;q=0.9', 'ug'],
    ['en;q=0.5, zh-TW;q=0.8, bo;q=0.7', 'zh-hant'],
    ['bo;q=0.3,zh-CN', 'zh-hans'], // no q means q=1
    ['ug;q=0, bo;q=0.2', 'bo'], // q=0 means "not acceptable"
    ['bo; q=0.4 ,  ug; q=0.9', 'ug'], // spaces after separators
    ['bo;level=1;q=0.8, ug;q=0.5', 'bo'], // other parameters before q
  ])('respects q-values in %s', (header, lang) => {
    expect(pickLanguage(header)).toBe(lang);
  });

  it('keeps header order between equal q-values', () => {
    expect(pickLanguage('ug;q=0.8, bo;q=0.8')).toBe('ug');
    expect(pickLanguage('bo;q=0.8, ug;q=0.8')).toBe('bo');
    expect(pickLanguage('bo, ug')).toBe('bo');
  });

  it.each([
    ['undefined', undefined],
    ['empty', ''],
    ['whitespace', '   '],
    ['commas', ',,,'],
    ['garbage', '%%%;;;==='],
    ['a bad q-value', 'ug;q=abc'],
    ['only q=0', 'ug;q=0, bo;q=0'],
    ['unsupported only', 'fr-FR,de;q=0.9'],
    ['a very long header', 'x-'.repeat(5000)],
  ])('falls back to English for %s', (_what, header) => {
    expect(pickLanguage(header)).toBe(DEFAULT_LANG);
    expect(DEFAULT_LANG).toBe('en');
  });
});

describe('languages', () => {
  it('writes Uyghur right to left and the others left to right', () => {
    expect(dirOf('ug')).toBe('rtl');
    expect(dirOf('en')).toBe('ltr');
    expect(dirOf('zh-hans')).toBe('ltr');
    expect(dirOf('zh-hant')).toBe('ltr');
    expect(dirOf('bo')).toBe('ltr');
  });

  it('recognises exactly the five supported codes', () => {
    expect(LANGUAGES.map((l) => l.code)).toEqual(['en', 'zh-hans', 'zh-hant', 'ug', 'bo']);
    for (const l of LANGUAGES) expect(isLang(l.code)).toBe(true);
    for (const code of ['', 'EN', 'zh', 'zh-cn', 'fr', 'ug-cn', '__proto__']) expect(isLang(code)).toBe(false);
  });
});

function localeFile(code: string): unknown {
  return JSON.parse(readFileSync(path.join(localesDir, `${code}.json`), 'utf8')) as unknown;
}

function get(tree: unknown, key: string): unknown {
  return key
    .split('.')
    .reduce<unknown>((node, part) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined), tree);
}

describe('translations', () => {
  beforeAll(async () => {
    await initI18n();
  });

  it('loads the locale files', () => {
    expect(translator('en')('site.name')).toBe('Harbour');
  });

  it('translates each language from its own file, falling back to English for missing keys', () => {
    const en = localeFile('en');
    const enTitle = get(en, 'landing.title');
    expect(typeof enTitle).toBe('string');
    for (const { code } of LANGUAGES) {
      const own = get(localeFile(code), 'landing.title');
      expect(translator(code)('landing.title'), code).toBe(typeof own === 'string' ? own : enTitle);
    }
  });

  it('returns the key for a key that no locale has', () => {
    expect(translator('ug')('no.such.key')).toBe('no.such.key');
  });

  it('interpolates without HTML-escaping (EJS escapes on output)', () => {
    expect(translator('en')('site.run_by', { org: 'A & B <Org>' })).toBe('Run by A & B <Org>');
  });

  it('can be called more than once', async () => {
    await initI18n();
    expect(translator('en')('site.name')).toBe('Harbour');
  });
});
