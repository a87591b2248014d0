import { readFileSync } from 'node:fs';
import path from 'node:path';
import i18next, { type TFunction } from 'i18next';
import { localesDir } from '../paths.js';

export const LANGUAGES = [
  { code: 'en', name: 'English', dir: 'ltr' },
  { code: 'zh-hans', name: '简体中文', dir: 'ltr' },
  { code: 'zh-hant', name: '繁體中文', dir: 'ltr' },
  { code: 'ug', name: 'ئۇيغۇرچە', dir: 'rtl' },
  { code: 'bo', name: 'བོད་ཡིག', dir: 'ltr' },
] as const;

export type Lang = (typeof LANGUAGES)[number]['code'];
export const DEFAULT_LANG: Lang = 'en';

export function isLang(value: string): value is Lang {
  return LANGUAGES.some((l) => l.code === value);
}

export function dirOf(lang: Lang): 'ltr' | 'rtl' {
  return LANGUAGES.find((l) => l.code === lang)!.dir;
}

const i18n = i18next.createInstance();
let ready: Promise<unknown> | null = null;

const readLocale = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(localesDir, file), 'utf8')) as Record<string, unknown>;

/** The staff interface's namespace (locales/staff/en.json); English only for now. */
export const STAFF_NS = 'staff';

/**
 * Loads every locale file once; missing keys fall back to English. Two
 * namespaces: `translation` (the reporter pages, one file per language) and
 * `staff` (the staff and administrator pages, English only: every other
 * language falls back to it). The resources are in memory, so this finishes
 * synchronously; the promise is kept for callers that await it.
 */
export function initI18n(): Promise<unknown> {
  ready ??= i18n.init({
    resources: Object.fromEntries(
      LANGUAGES.map((l) => [
        l.code,
        {
          translation: readLocale(`${l.code}.json`),
          ...(l.code === DEFAULT_LANG ? { [STAFF_NS]: readLocale(`${STAFF_NS}/${DEFAULT_LANG}.json`) } : {}),
        },
      ]),
    ),
    ns: ['translation', STAFF_NS],
    defaultNS: 'translation',
    supportedLngs: LANGUAGES.map((l) => l.code),
    lowerCaseLng: true,
    fallbackLng: DEFAULT_LANG,
    initAsync: false,
    interpolation: { escapeValue: false }, // EJS escapes on output
    returnNull: false,
  });
  return ready;
}

export function translator(lang: Lang): TFunction {
  return i18n.getFixedT(lang);
}

/**
 * The staff interface's translator: English, namespace `staff`. Views get it
 * as `st`; server code calls it where it builds staff-facing text. Loads the
 * locale files on first use, so command-line code that shares a message
 * (a password rule) needs no set-up.
 */
export function staffTranslator(): TFunction<typeof STAFF_NS> {
  void initI18n();
  return i18n.getFixedT(DEFAULT_LANG, STAFF_NS);
}

/** Picks the best supported language from an Accept-Language header. */
export function pickLanguage(header: string | undefined): Lang {
  if (!header) return DEFAULT_LANG;
  const wanted = header
    .split(',')
    .map((part) => {
      const [tag = '', ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { tag: tag.trim(), q: q ? Number(q.slice(2)) || 0 : 1 };
    })
    .filter((w) => w.tag && w.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const { tag } of wanted) {
    const match = matchTag(tag);
    if (match) return match;
  }
  return DEFAULT_LANG;
}

function matchTag(tag: string): Lang | null {
  if (isLang(tag)) return tag;
  if (tag === 'zh' || tag.startsWith('zh-')) {
    if (/-hans\b/.test(tag)) return 'zh-hans';
    if (/-(hant|tw|hk|mo)\b/.test(tag)) return 'zh-hant';
    return 'zh-hans';
  }
  const primary = tag.split('-')[0] ?? '';
  return isLang(primary) ? primary : null;
}
