import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { STATUSES } from '../../../server/cases/vocabulary.js';
import { rootDir, localesDir } from '../../../server/paths.js';
import { DEFAULT_LISTS, LIST_NAMES } from '../../../server/settings/lists.js';
import * as taxonomy from '../../../server/reporting/taxonomy.js';
import { CATEGORIES } from '../../../server/reporting/taxonomy.js';
import { CONTACT_LANGUAGES } from '../../../server/reporting/validation.js';
import { LANGUAGES } from '../../../server/i18n/index.js';

/**
 * Every key present in every locale, no unused key (issue 5). The reporter
 * namespace is the five files in locales/ (locales/staff/ is another
 * namespace and is not read here). en.json is the reference: every other
 * locale has exactly its keys, types, array lengths and {{placeholders}},
 * and every leaf of en.json is asked for by server/**\/*.ts or views/**\/*.ejs,
 * literally or through a dynamic key whose values come from the code itself.
 */

type Tree = { [key: string]: Node };
type Node = string | Node[] | Tree;

const readLocale = (code: string): Tree => JSON.parse(readFileSync(path.join(localesDir, `${code}.json`), 'utf8')) as Tree;
const EN = readLocale('en');
const OTHERS = LANGUAGES.map((l) => l.code).filter((c) => c !== 'en');

const kind = (n: unknown) => (Array.isArray(n) ? 'array' : n === null ? 'null' : typeof n);
const placeholders = (s: string) => [...new Set([...s.matchAll(/\{\{\s*([^}\s]+)\s*\}\}/g)].map((m) => m[1]!))].sort();

/** Every difference in shape between the reference and a locale, one line each. */
function shapeProblems(ref: Node, other: unknown, at: string): string[] {
  const where = at || '(root)';
  if (kind(ref) !== kind(other)) {
    return [other === undefined ? `missing ${where}` : `${where}: ${kind(other)} where en.json has ${kind(ref)}`];
  }
  if (typeof ref === 'string') {
    const s = other as string;
    const problems: string[] = [];
    const want = placeholders(ref);
    const got = placeholders(s);
    if (want.join() !== got.join()) problems.push(`${where}: placeholders {{${got.join('}}, {{')}}} where en.json has {{${want.join('}}, {{')}}}`);
    if (s.trim() === '' && ref.trim() !== '') problems.push(`${where}: empty`);
    return problems;
  }
  if (Array.isArray(ref)) {
    const arr = other as unknown[];
    const problems = arr.length === ref.length ? [] : [`${where}: ${arr.length} items where en.json has ${ref.length}`];
    ref.forEach((item, i) => problems.push(...shapeProblems(item, arr[i], `${at}.${i}`)));
    return problems;
  }
  const obj = other as Record<string, unknown>;
  const problems: string[] = [];
  for (const [k, v] of Object.entries(ref)) problems.push(...shapeProblems(v, obj[k], at ? `${at}.${k}` : k));
  for (const k of Object.keys(obj)) if (!(k in ref)) problems.push(`extra ${at ? `${at}.${k}` : k} (not in en.json)`);
  return problems;
}

describe('every key present in every locale', () => {
  it('the reference en.json has text in every string but the ones meant to be empty', () => {
    const empty: string[] = [];
    (function walk(n: Node, at: string) {
      if (typeof n === 'string') {
        if (n.trim() === '') empty.push(at);
      } else if (Array.isArray(n)) n.forEach((x, i) => walk(x, `${at}.${i}`));
      else for (const [k, v] of Object.entries(n)) walk(v, at ? `${at}.${k}` : k);
    })(EN, '');
    // An empty hint renders nothing (form-view.ts drops it); a category without a hint.
    expect(empty).toEqual(['categories.other.hint']);
  });

  it.each(OTHERS)('%s.json: the same key paths, types, array lengths and {{placeholders}} as en.json; no extra keys; no empty strings', (code) => {
    const problems = shapeProblems(EN, readLocale(code), '');
    expect(problems, `${code}.json:\n${problems.join('\n')}`).toEqual([]);
  });

  it('the comparison finds a missing key, an extra key, a wrong type, a short array, a lost placeholder and an empty string', () => {
    // Positive control: a copy of en.json with one of each fault.
    const broken = JSON.parse(JSON.stringify(EN)) as Record<string, Record<string, unknown>>;
    delete broken['site']!['skip'];
    broken['site']!['extra'] = 'x';
    broken['form']!['categories'] = 'not an object';
    (broken['landing']!['what_happens'] as string[]).pop();
    broken['validation']!['too_long'] = 'Too long.';
    broken['receipt']!['title'] = ' ';
    expect(shapeProblems(EN, broken, '')).toEqual([
      'missing site.skip',
      'extra site.extra (not in en.json)',
      'landing.what_happens: 2 items where en.json has 3',
      'missing landing.what_happens.2',
      'form.categories: string where en.json has object',
      'validation.too_long: placeholders {{}} where en.json has {{max}}',
      'receipt.title: empty',
    ]);
  });
});

// ---------------------------------------------------------------- usage

const SOURCE_DIRS = [
  { dir: 'server', ext: '.ts' },
  { dir: 'views', ext: '.ejs' },
];
const SOURCES = new Map<string, string>(
  SOURCE_DIRS.flatMap(({ dir, ext }) =>
    readdirSync(path.join(rootDir, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith(ext))
      .map((f) => {
        const rel = path.join(dir, f).split(path.sep).join('/');
        return [rel, readFileSync(path.join(rootDir, rel), 'utf8')] as const;
      }),
  ),
);
const ALL_SOURCE = [...SOURCES.values()].join('\n');

function source(rel: string): string {
  const text = SOURCES.get(rel);
  if (text === undefined) throw new Error(`${rel} is gone: update the dynamic-key rules in this test`);
  return text;
}
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const matches = (text: string, re: RegExp, group = 1) => [...text.matchAll(re)].map((m) => m[group]!);

/**
 * The units a key can be used as: every string leaf, and every array as a
 * whole (rendered with returnObjects).
 */
function units(tree: Tree): { key: string; array: boolean }[] {
  const out: { key: string; array: boolean }[] = [];
  (function walk(n: Node, at: string) {
    if (typeof n === 'string') out.push({ key: at, array: false });
    else if (Array.isArray(n)) out.push({ key: at, array: true });
    else for (const [k, v] of Object.entries(n)) walk(v, at ? `${at}.${k}` : k);
  })(tree, '');
  return out;
}

/** The text between the parenthesis at `open` and its partner. */
function argumentsAt(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}
const codeLiterals = (text: string) => matches(text, /'([a-z][a-z0-9_]*)'/g);

/**
 * The helpers of server/errors.ts: each either raises a fixed code
 * (notReady → not_ready) or takes one with a default (notFound(code = 'not_found')).
 */
function errorHelpers(): { name: string; fixed: string | null; fallback: string | null }[] {
  const helpers = [...source('server/errors.ts').matchAll(/export const (\w+) = \(([^)]*)\) =>\s*new HttpError\(\d+, ([^,)]+)/g)].map((m) => ({
    name: m[1]!,
    fixed: /^'(\w+)'$/.exec(m[3]!.trim())?.[1] ?? null,
    fallback: /\bcode = '(\w+)'/.exec(m[2]!)?.[1] ?? null,
  }));
  if (helpers.length === 0) throw new Error('no error helpers found in server/errors.ts: update this test');
  return helpers;
}

/**
 * Error codes the given files raise, each shown as errors.<code>.title and
 * errors.<code>.body: the string literals passed to new HttpError(…) or
 * new EvidenceError(…) or to a helper of server/errors.ts, a helper's
 * default code when it is called without one, a helper's fixed code when it
 * is called, the evidence size codes (limitCode) and the status page's
 * evidence error.
 */
function errorCodes(files: string[]): string[] {
  const helpers = errorHelpers();
  const callee = new RegExp(`\\b(new HttpError|new EvidenceError|${helpers.map((h) => h.name).join('|')})\\(`, 'g');
  const codes = new Set<string>();
  for (const rel of files) {
    if (rel === 'server/errors.ts') continue; // the helpers' own bodies: counted when called
    const text = source(rel);
    for (const m of text.matchAll(callee)) {
      const args = argumentsAt(text, m.index + m[0].length - 1);
      const helper = helpers.find((h) => h.name === m[1]);
      if (helper?.fixed) codes.add(helper.fixed);
      else if (helper?.fallback && args.trim() === '') codes.add(helper.fallback);
      else for (const c of codeLiterals(args)) codes.add(c);
    }
    for (const m of text.matchAll(/\blimitCode: ([^\n]*)/g)) for (const c of codeLiterals(m[1]!)) codes.add(c);
    for (const c of matches(text, /\bevidenceError: '(\w+)'/g)) codes.add(c);
  }
  return [...codes].sort();
}
/** Files that render reporter pages with the reporter namespace (staff pages have their own). */
const REPORTER_SOURCE = /^(server\/(reporting|web)\/.*\.ts|views\/(reporter\/.*|errors\/error|partials\/(?!staff-)[^/]*)\.ejs)$/;
const SERVER_FILES = [...SOURCES.keys()].filter((f) => f.startsWith('server/'));
const ALL_ERROR_CODES = errorCodes(SERVER_FILES);
/** Codes that can reach a reporter: raised by the reporter pages or the web layer. */
const REPORTER_ERROR_CODES = errorCodes(SERVER_FILES.filter((f) => /^server\/(reporting|web)\//.test(f)));

type Rule = {
  /** What builds the key, as the code has it. */
  what: string;
  /** Source snippets that must still exist for the rule to apply. */
  evidence: [file: string, snippet: string][];
  keys: () => string[];
};

const formFieldsWithErrors = () => matches(source('server/reporting/validation.ts'), /\bset\('(\w+)'/g);
const validationCodes = () => matches(source('server/reporting/validation.ts'), /\bkey: '(\w+)'/g);
const optionSets = () => {
  // opts('ongoing', ONGOING, 'form.ongoing.options', …) in form-view.ts: the constant names the values.
  const constants: Record<string, unknown> = { ...taxonomy, CONTACT_LANGUAGES };
  return [...source('server/reporting/form-view.ts').matchAll(/\bopts\('(\w+)', (\w+), '([\w.]+)'/g)].map((m) => {
    const values = constants[m[2]!];
    if (!Array.isArray(values)) throw new Error(`form-view.ts uses ${m[2]} for ${m[1]}: not a constant this test knows`);
    return { prefix: m[3]!, values: values as string[] };
  });
};
const partialNames = (partial: string) =>
  matches(source('views/reporter/report.ejs'), new RegExp(`include\\('\\.\\./partials/${partial}', \\{ name: '(\\w+)'`, 'g'));
const monthFieldPrefixes = () => {
  const m = /\[((?:'\w+'(?:, )?)+)\]\.forEach\(function \(p\)/.exec(source('views/reporter/report.ejs'));
  if (!m) throw new Error("report.ejs no longer loops over ['from', 'to']: update this test");
  return matches(m[1]!, /'(\w+)'/g);
};
const signInErrors = () =>
  matches(source('server/reporting/status-page.ts'), /renderSignIn\(res, \d+, '(\w+)'\)/g).filter((c) => c !== 'too_many_requests');

/**
 * Keys the code builds at run time. Each rule names the code that builds
 * it (checked to still be there) and enumerates the values from the code's
 * own constants or literals, so a key no value can reach counts as unused.
 */
const DYNAMIC: Rule[] = [
  {
    what: 'categories.${c}.label / .hint for c in CATEGORIES',
    evidence: [
      ['server/reporting/form-view.ts', 't(`categories.${value}.label`)'],
      ['server/reporting/form-view.ts', 't(`categories.${value}.hint`'],
      ['views/reporter/status.ejs', "t('categories.' + c + '.label')"],
    ],
    keys: () => CATEGORIES.flatMap((c) => [`categories.${c}.label`, `categories.${c}.hint`]),
  },
  {
    what: 'months.${1..12}',
    evidence: [
      ['server/reporting/form-view.ts', 'Array.from({ length: 12 }, (_, i) => ({ value: String(i + 1), label: t(`months.${i + 1}`) }))'],
      ['views/reporter/status.ejs', "t('months.' + Number(p[1]))"],
    ],
    keys: () => Array.from({ length: 12 }, (_, i) => `months.${i + 1}`),
  },
  {
    what: 'lists.${list}.${code} for the codes of DEFAULT_LISTS',
    evidence: [['server/settings/lists.ts', 'if (DEFAULT_LISTS[list].includes(code)) return t(`lists.${list}.${code}`);']],
    keys: () => LIST_NAMES.flatMap((list) => DEFAULT_LISTS[list].map((code) => `lists.${list}.${code}`)),
  },
  {
    what: "form.<field>.options.<code> from form-view.ts's opts(field, CONSTANT, prefix)",
    evidence: [['server/reporting/form-view.ts', 'label: t(`${labelKey}.${value}`)']],
    keys: () => optionSets().flatMap(({ prefix, values }) => values.map((v) => `${prefix}.${v}`)),
  },
  {
    what: 'validation.${code} for every { key } validation.ts returns',
    evidence: [
      ['server/reporting/form-view.ts', 'message: t(`validation.${e.key}`'],
      ['views/reporter/status.ejs', "t('validation.' + messageError"],
    ],
    keys: () => validationCodes().map((c) => `validation.${c}`),
  },
  {
    what: 'form.${field}.label for every field validation.ts can flag (error summary)',
    evidence: [['server/reporting/form-view.ts', 'label: t(`form.${field}.label`)']],
    keys: () => formFieldsWithErrors().map((f) => `form.${f}.label`),
  },
  {
    what: 'form.<name>.label from the radios partial, for each name report.ejs includes it with',
    evidence: [['views/partials/radios.ejs', "t('form.' + name + '.label')"]],
    keys: () => partialNames('radios').map((n) => `form.${n}.label`),
  },
  {
    what: 'form.<name>.label / .hint from the checkboxes partial',
    evidence: [
      ['views/partials/checkboxes.ejs', "t('form.' + name + '.label')"],
      ['views/partials/checkboxes.ejs', "t('form.' + name + '.hint')"],
    ],
    keys: () => partialNames('checkboxes').flatMap((n) => [`form.${n}.label`, `form.${n}.hint`]),
  },
  {
    what: "form.${p}_month.label / .hint for p in report.ejs's ['from', 'to']",
    evidence: [
      ['views/reporter/report.ejs', "t('form.' + p + '_month.label')"],
      ['views/reporter/report.ejs', "t('form.' + p + '_month.hint')"],
    ],
    keys: () => monthFieldPrefixes().flatMap((p) => [`form.${p}_month.label`, `form.${p}_month.hint`]),
  },
  {
    what: 'status.${error} for the sign-in errors status-page.ts renders (too_many_requests has its own message)',
    evidence: [
      [
        'views/reporter/status-sign-in.ejs',
        "error === 'too_many_requests' ? t('errors.too_many_requests.body', { minutes: 60 }) : t('status.' + error)",
      ],
    ],
    keys: () => signInErrors().map((c) => `status.${c}`),
  },
  {
    what: 'status.states.${s} for s in STATUSES',
    evidence: [['views/reporter/status.ejs', "t('status.states.' + report.status"]],
    keys: () => STATUSES.map((s) => `status.states.${s}`),
  },
  {
    what: 'errors.${code}.title / .body for every error code the server raises',
    evidence: [
      ['views/errors/error.ejs', "t('errors.' + code + '.title')"],
      ['views/errors/error.ejs', "t('errors.' + code + '.body'"],
      ['views/reporter/report.ejs', "t('errors.' + formError + '.title')"],
      ['views/reporter/status.ejs', "t('errors.' + evidenceError + '.title')"],
    ],
    keys: () => ALL_ERROR_CODES.flatMap((c) => [`errors.${c}.title`, `errors.${c}.body`]),
  },
];

/** Which units of a locale tree nothing asks for; arrays must be asked for with returnObjects. */
function unusedKeys(tree: Tree): string[] {
  const dynamic = new Set(DYNAMIC.flatMap((r) => r.keys()));
  return units(tree)
    .filter(({ key, array }) => {
      if (dynamic.has(key)) return false;
      const q = `['"\`]${escapeRe(key)}['"\`]`;
      const re = array ? new RegExp(`\\bt\\(\\s*${q}\\s*,\\s*\\{[^}]*\\breturnObjects:\\s*true`) : new RegExp(q);
      return !re.test(ALL_SOURCE);
    })
    .map((u) => u.key);
}

describe('no unused key', () => {
  it.each(DYNAMIC.map((r) => [r.what, r] as const))('the code still builds %s', (_what, rule) => {
    for (const [file, snippet] of rule.evidence) expect(source(file), `${file} should contain ${snippet}`).toContain(snippet);
    expect(rule.keys().length).toBeGreaterThan(0);
  });

  it('reads the error codes from the server (a sanity check of the reader)', () => {
    expect(REPORTER_ERROR_CODES).toEqual(
      expect.arrayContaining([
        'csrf',
        'not_found',
        'not_ready',
        'session_expired',
        'too_many_requests',
        'evidence_type',
        'evidence_none',
        'evidence_file_too_large',
        'too_large',
        'server_error',
      ]),
    );
    expect(ALL_ERROR_CODES).toEqual(expect.arrayContaining([...REPORTER_ERROR_CODES, 'case_not_found']));
    // Literals that are not codes stay out: `typeof v !== 'string'` before a bare badRequest().
    expect(ALL_ERROR_CODES).not.toContain('string');
  });

  it('every key of en.json is used by server/**/*.ts or views/**/*.ejs', () => {
    const unused = unusedKeys(EN);
    expect(unused, `unused keys in en.json:\n${unused.join('\n')}`).toEqual([]);
  });

  it('every literal key the reporter pages ask for exists in en.json', () => {
    const leaves = new Set(units(EN).map((u) => u.key));
    const asked = new Map<string, string>();
    for (const [rel, text] of SOURCES) {
      if (!REPORTER_SOURCE.test(rel)) continue;
      for (const m of text.matchAll(/\bt\(/g)) {
        // Whole keys in the first argument ('a.b', or either side of a ?: ); not the pieces of 'errors.' + code.
        const firstArg = argumentsAt(text, m.index + 1).split(/,\s*\{/)[0]!;
        for (const key of matches(firstArg, /'([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)'/g)) asked.set(key, rel);
      }
    }
    expect(asked.size).toBeGreaterThan(100);
    const missing = [...asked].filter(([key]) => !leaves.has(key)).map(([key, rel]) => `${key} (${rel})`);
    expect(missing, `keys asked for that en.json lacks:\n${missing.join('\n')}`).toEqual([]);
  });

  it('every dynamic key the code builds exists in en.json (no raw key shown to a reporter)', () => {
    const leaves = new Set(units(EN).map((u) => u.key));
    const reporterErrorKeys = new Set(REPORTER_ERROR_CODES.flatMap((c) => [`errors.${c}.title`, `errors.${c}.body`]));
    const missing = DYNAMIC.flatMap((r) =>
      r
        .keys()
        // Staff-only error codes may live in the staff namespace.
        .filter((k) => !k.startsWith('errors.') || reporterErrorKeys.has(k))
        .filter((k) => !leaves.has(k))
        // A category may have no hint (form-view.ts asks with defaultValue '').
        .filter((k) => !/^categories\.\w+\.hint$/.test(k)),
    );
    expect(missing, `keys the code asks for that en.json lacks:\n${missing.join('\n')}`).toEqual([]);
  });

  it('finds a dead key, a dead value of a dynamic key, and an array used without returnObjects', () => {
    // Positive control on a copy of en.json.
    const copy = JSON.parse(JSON.stringify(EN)) as Record<string, Record<string, unknown>>;
    copy['site']!['never_used'] = 'Nobody asks for this';
    (copy['categories']!['aliens'] as unknown) = { label: 'Aliens', hint: 'Not a category' };
    (copy['lists']!['region'] as Record<string, string>)['atlantis'] = 'Atlantis';
    copy['months']!['13'] = 'Undecember';
    copy['errors']!['no_such_code'] = { title: 'x', body: 'y' };
    copy['status']!['sign_in_intro'] = ['now', 'an', 'array'];
    const already = new Set(unusedKeys(EN)); // reported by the test above
    expect(unusedKeys(copy as Tree).filter((k) => !already.has(k))).toEqual([
      'site.never_used',
      'categories.aliens.label',
      'categories.aliens.hint',
      'months.13',
      'lists.region.atlantis',
      'status.sign_in_intro',
      'errors.no_such_code.title',
      'errors.no_such_code.body',
    ]);
  });
});
