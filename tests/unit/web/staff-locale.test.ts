import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_NOTICES, SETTINGS_NOTICES } from '../../../server/admin/settings-page.js';
import { ROLES, STAFF_NOTICES } from '../../../server/admin/staff-page.js';
import { AUDIT_ACTIONS } from '../../../server/audit/log.js';
import { AUDIT_GROUPS } from '../../../server/audit/audit-page.js';
import { CASE_NOTICES, HISTORY_ACTIONS } from '../../../server/cases/case-view.js';
import { DESTINATIONS } from '../../../server/cases/referral.js';
import { TEXT_FIELDS } from '../../../server/cases/input.js';
import { OUTCOMES, STATUSES } from '../../../server/cases/vocabulary.js';
import { localesDir, rootDir } from '../../../server/paths.js';
import { LIST_NAMES } from '../../../server/settings/lists.js';
import { OUTCOME_ROWS, TABLE_IDS } from '../../../server/stats/statistics-page.js';
import { initI18n, staffTranslator, translator } from '../../../server/i18n/index.js';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { fileReport, type Agent } from '../../helpers/reporter.js';
import { SIGN_IN_NOTICES } from '../../../server/staff/sign-in-page.js';
import { createUser } from '../../../server/staff/users.js';
import { ACCESS_NOTICES } from '../../../server/team/access-page.js';
import { addStaff, signInStaff, staffCsrf } from '../../helpers/staff.js';

/**
 * The staff interface's strings live in locales/staff/en.json (namespace
 * `staff`). Every key the views and the server use must exist there, every
 * key there must be used, and no page may show a raw key.
 */

const STAFF_FILE = path.join(localesDir, 'staff', 'en.json');
const PLURAL = /_(zero|one|two|few|many|other)$/;

type Tree = { [key: string]: string | Tree };
const locale = JSON.parse(readFileSync(STAFF_FILE, 'utf8')) as Tree;

/** Every string in the file by its dotted path ('queue.title', 'keys.running_one' …). */
function leaves(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.set(key, v);
    else for (const [kk, vv] of leaves(v, key)) out.set(kk, vv);
  }
  return out;
}
const LEAVES = leaves(locale);
/** What code asks for: plural forms collapse to their base key ('keys.running'). */
const BASE_KEYS = new Set([...LEAVES.keys()].map((k) => k.replace(PLURAL, '')));
const isPluralBase = (key: string) => !LEAVES.has(key) && LEAVES.has(`${key}_one`) && LEAVES.has(`${key}_other`);
const englishOf = (key: string) => LEAVES.get(key) ?? LEAVES.get(`${key}_other`);

// ---------------------------------------------------------------- finding the calls

/** Staff views, and all server code (a staff key may be looked up anywhere). */
function sourceFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  const views = path.join(rootDir, 'views');
  return [
    ...walk(path.join(views, 'staff')),
    ...walk(path.join(views, 'admin')),
    ...readdirSync(path.join(views, 'partials'))
      .filter((f) => f.startsWith('staff-'))
      .map((f) => path.join(views, 'partials', f)),
    path.join(views, 'errors', 'staff-error.ejs'),
    ...walk(path.join(rootDir, 'server')).filter((f) => f.endsWith('.ts')),
  ].filter((f) => f.endsWith('.ejs') || f.endsWith('.ts'));
}

type Call = { file: string; line: number; kind: 'literal' | 'dynamic' | 'other'; key: string; args: string };

/** The text of a call's arguments, from just after its opening parenthesis to the matching one. */
function argsFrom(text: string, start: number): string {
  let depth = 1;
  let quote: string | null = null;
  for (let i = start; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return text.slice(start, i);
  }
  return text.slice(start);
}

/**
 * Every `st(…)` and `staffTranslator()(…)` call. The first argument must be
 * a string: a literal key, or a key built from a literal and one value
 * (`st(\`case.notices.${code}\`)`, `st('common.roles.' + r)`), written here
 * with `*` for the value. Anything else is reported, so a key cannot hide.
 */
function findCalls(): Call[] {
  const calls: Call[] = [];
  for (const file of sourceFiles()) {
    const text = readFileSync(file, 'utf8');
    const re = /(?<![\w.$])(?:st|staffTranslator\(\))\(/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const start = m.index + m[0].length;
      const args = argsFrom(text, start);
      const line = text.slice(0, m.index).split('\n').length;
      const rel = path.relative(rootDir, file);
      const lit = /^\s*'([^'\\]*)'(\s*\+)?/.exec(args) ?? /^\s*"([^"\\]*)"(\s*\+)?/.exec(args);
      const tpl = /^\s*`([^`]*)`/.exec(args);
      if (lit) calls.push({ file: rel, line, kind: lit[2] ? 'dynamic' : 'literal', key: lit[2] ? `${lit[1]}*` : lit[1]!, args });
      else if (tpl) {
        const key = tpl[1]!.replace(/\$\{[^}]*\}/g, '*');
        calls.push({ file: rel, line, kind: key.includes('*') ? 'dynamic' : 'literal', key, args });
      } else calls.push({ file: rel, line, kind: 'other', key: args.slice(0, 60), args });
    }
  }
  return calls;
}

/**
 * Keys built from a value, with every value the code can pass, taken from
 * the code's own constants (so a new status or action shows up here).
 */
const DYNAMIC: Record<string, readonly string[]> = {
  'common.roles.*': ROLES,
  'common.statuses.*': STATUSES,
  'common.outcomes.*': OUTCOMES,
  'case.errors.already.*': STATUSES,
  'case.errors.text.*.required': TEXT_FIELDS,
  'case.errors.text.*.too_long': TEXT_FIELDS,
  'case.errors.text.*.unreadable': TEXT_FIELDS,
  'case.history.actions.*': HISTORY_ACTIONS.map((a) => a.slice('case.'.length)),
  'case.notices.*': CASE_NOTICES,
  'staff.notices.*': STAFF_NOTICES,
  'settings.notices.*': SETTINGS_NOTICES,
  'settings.notices.label_*': LABEL_NOTICES,
  'access.notices.*': ACCESS_NOTICES,
  'sign_in.notices.*': SIGN_IN_NOTICES,
  'referral.destinations.*': DESTINATIONS,
  'settings.lists.titles.*': LIST_NAMES,
  'statistics.outcomes.*': OUTCOME_ROWS,
  'statistics.tables.*.title': TABLE_IDS.map((id) => id.replace(/-/g, '_')),
  'statistics.tables.*.row_title': TABLE_IDS.map((id) => id.replace(/-/g, '_')),
  'audit.groups.*': AUDIT_GROUPS,
};

const CALLS = findCalls();
const where = (c: Call) => `${c.file}:${c.line}`;

/** Every key the code can ask for, with where it asks. */
function usedKeys(): Map<string, Call[]> {
  const used = new Map<string, Call[]>();
  const add = (key: string, c: Call) => used.set(key, [...(used.get(key) ?? []), c]);
  for (const c of CALLS) {
    if (c.kind === 'literal') add(c.key, c);
    if (c.kind === 'dynamic') for (const v of DYNAMIC[c.key] ?? []) add(c.key.replace('*', v), c);
  }
  return used;
}
const USED = usedKeys();

/** `{{name}}` placeholders of a key's English (every plural form). */
function placeholders(key: string): string[] {
  const texts = LEAVES.has(key) ? [LEAVES.get(key)!] : [...LEAVES].filter(([k]) => k.replace(PLURAL, '') === key).map(([, v]) => v);
  return [...new Set(texts.flatMap((s) => [...s.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!)))];
}

describe('the staff locale file', () => {
  beforeAll(async () => {
    await initI18n();
  });

  it('finds the calls (a positive control for the scan)', () => {
    expect(CALLS.length).toBeGreaterThan(300);
    expect(CALLS.some((c) => c.file === path.join('views', 'staff', 'queue.ejs') && c.key === 'queue.title')).toBe(true);
    expect(CALLS.some((c) => c.file === path.join('server', 'cases', 'input.ts') && c.key === 'case.errors.text.*.required')).toBe(true);
  });

  it('is looked up only with a key written in the code', () => {
    expect(CALLS.filter((c) => c.kind === 'other').map((c) => `${where(c)}: st(${c.key}…)`)).toEqual([]);
  });

  it('knows every value of every key built from a value, and every such list is still used', () => {
    const dynamic = CALLS.filter((c) => c.kind === 'dynamic');
    expect(dynamic.filter((c) => !DYNAMIC[c.key]).map((c) => `${where(c)}: ${c.key}`)).toEqual([]);
    expect(Object.keys(DYNAMIC).filter((k) => !dynamic.some((c) => c.key === k))).toEqual([]);
  });

  it('has every key the views and the server use', () => {
    const missing = [...USED].filter(([key]) => !LEAVES.has(key) && !isPluralBase(key)).map(([key, cs]) => `${key} (${cs.map(where).join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('has no key that nothing uses', () => {
    expect([...BASE_KEYS].filter((key) => !USED.has(key))).toEqual([]);
  });

  it('is given every value its English interpolates, and a count wherever it has plural forms', () => {
    const problems: string[] = [];
    for (const c of CALLS) {
      const keys = c.kind === 'literal' ? [c.key] : c.kind === 'dynamic' ? (DYNAMIC[c.key] ?? []).map((v) => c.key.replace('*', v)) : [];
      for (const key of keys) {
        const rest = c.args.slice(c.args.indexOf(',') + 1);
        const given = (name: string) => c.args.includes(',') && new RegExp(`\\b${name}\\b\\s*[:,}]`).test(rest);
        for (const name of placeholders(key)) if (!given(name)) problems.push(`${where(c)}: ${key} needs {{${name}}}`);
        if (isPluralBase(key) && !given('count')) problems.push(`${where(c)}: ${key} has plural forms but no count`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('translates through i18next in English, for every language (staff pages are English only for now)', () => {
    const st = staffTranslator();
    expect(st('queue.title')).toBe('Cases');
    expect(st('keys.running', { count: 1 })).toBe('A rotation is running: 1 report re-sealed so far.');
    expect(st('keys.running', { count: 3 })).toBe('A rotation is running: 3 reports re-sealed so far.');
    expect(st('nav.page_title', { title: 'A & B' })).toBe('A & B · Harbour staff'); // EJS escapes on output
    // The reporter namespace is untouched: a staff key is not a reporter key, and the other way round.
    expect(translator('ug')('queue.title')).toBe('queue.title');
    expect(st('site.name')).toBe('site.name');
  });

  it('keeps the English every page showed before the move', () => {
    for (const [key, english] of [
      ['common.error_summary_title', 'There is a problem'],
      ['sign_in.errors.no_match', 'That email address and password do not match an active account.'],
      ['case.notices.message', 'Your message is sent. The reporter sees it when they next sign in with their receipt.'],
      ['settings.lists.errors.last_offered', 'This is the last value still offered: add another before retiring it.'],
    ] as const) {
      expect(englishOf(key), key).toBe(english);
    }
  });
});

// ---------------------------------------------------------------- rendered pages

const GROUPS = new Set(Object.keys(locale));
const ACTIONS = new Set<string>(AUDIT_ACTIONS);

/** What a person reads: text, and the attributes that are read out (an export is all text). */
function readable(body: string): string {
  if (!body.trimStart().startsWith('<')) return body;
  const said = [...body.matchAll(/\s(?:alt|title|aria-label|placeholder|label)="([^"]*)"/g)].map((m) => m[1]);
  return [body.replace(/<[^>]*>/g, ' '), ...said].join(' ');
}

/** Dotted words on a page that look like a staff key (first part a group of the file); audit action codes are shown on purpose. */
function rawKeys(body: string): string[] {
  const text = readable(body);
  return [...text.matchAll(/\b[a-z_]+\.[a-z_.]+\b/g)]
    .map((m) => m[0].replace(/\.+$/, ''))
    .filter((w) => GROUPS.has(w.split('.')[0]!) && !ACTIONS.has(w));
}

describe('staff pages', () => {
  let t: TestApp;
  let agent: Agent;
  let caseId: string;
  const pages = new Map<string, string>();

  beforeAll(async () => {
    await initI18n();
    t = await createTestApp();
    const both = await addStaff(t, { roles: ['caseworker', 'admin'], name: 'Robin Both' });
    await addStaff(t, { roles: ['caseworker'], approved: false, name: 'Pat Pending' });
    const newcomer = { email: 'new@example.org', password: 'correct horse battery newcomer' };
    await createUser(t.testDb.db, { email: newcomer.email, displayName: 'Nia New', roles: ['caseworker'], password: newcomer.password });
    await fileReport(t.app);
    caseId = (await t.testDb.db.selectFrom('reports').select('id').where('state', '=', 'submitted').executeTakeFirstOrThrow()).id;
    const signedOut = request.agent(t.app);
    for (const notice of ['password_changed', 'signed_out', 'everywhere', 'invitation']) {
      pages.set(`sign-in ${notice}`, (await signedOut.get(`/staff/sign-in?notice=${notice}`)).text);
    }
    pages.set('staff 404', (await signedOut.get('/staff/no-such-page')).text);
    pages.set('staff 401', (await signedOut.post('/staff/sign-out-everywhere')).text);
    // The second step of signing in: a code, or (first sign-in) setting up the authenticator.
    for (const [name, who] of [
      ['two-factor', both],
      ['enrol', newcomer],
    ] as const) {
      const step = request.agent(t.app);
      const token = await staffCsrf(step, '/staff/sign-in');
      await step.post('/staff/sign-in').type('form').send({ _csrf: token, email: who.email, password: who.password });
      pages.set(name, (await step.get('/staff/two-factor')).text);
      const token2 = await staffCsrf(step, '/staff/two-factor');
      pages.set(`${name} with an error`, (await step.post('/staff/two-factor').type('form').send({ _csrf: token2, code: '000000' })).text);
    }

    agent = await signInStaff(t, both);
    const post = async (from: string, to: string, fields: Record<string, string>) => {
      const token = await staffCsrf(agent, from); // first: the page sets the cookie the post sends
      return agent
        .post(to)
        .type('form')
        .send({ _csrf: token, ...fields });
    };
    const base = `/staff/cases/${caseId}`;
    // A few changes, so the page shows a history, a note, a message and a referral.
    await post(base, `${base}/notes`, { note: 'Called back; no answer.' });
    await post(base, `${base}/messages`, { message: 'Thank you for your report.' });
    await post(base, `${base}/labels`, { labels: 'station, croydon' });
    await post(base, `${base}/referrals`, { destination: 'local_police', referred_on: '2026-01-05', override_reason: 'Threat to life.' });
    const referral = await t.testDb.db.selectFrom('referrals').select('id').where('report_id', '=', caseId).executeTakeFirstOrThrow();

    const get = async (name: string, url: string) => pages.set(name, (await agent.get(url)).text);
    await get('queue', '/staff/cases');
    await get('queue filtered', '/staff/cases?status=all&urgent=yes&sort=oldest');
    await get('case', `${base}?notice=referral`);
    pages.set('case with an error', (await post(base, `${base}/notes`, { note: '' })).text);
    pages.set('case with a status error', (await post(base, `${base}/status`, { status: 'referred' })).text);
    await get('referral pack', `${base}/referrals/${referral.id}/pack`);
    await get('team key', '/staff/keys');
    await get('account', '/staff/account');
    pages.set(
      'account with an error',
      (await post('/staff/account', '/staff/account/password', { current_password: 'x', new_password: 'short', confirm_password: 'short' })).text,
    );
    await get('staff', '/admin/staff?notice=approved');
    pages.set('staff with an error', (await post('/admin/staff', '/admin/staff/invitations', { email: 'not an address' })).text);
    const invited = await post('/admin/staff', '/admin/staff/invitations', { email: 'invited@example.org', roles: 'caseworker' });
    pages.set('staff with an invitation', invited.text);
    const link = /\/staff\/invitations\/[A-Za-z0-9_-]{43}/.exec(invited.text)![0];
    pages.set('invitation', (await request(t.app).get(link)).text);
    await get('audit', '/admin/audit');
    await get('audit with an error', '/admin/audit?case=nope');
    await get('settings', '/admin/settings?notice=saved');
    pages.set(
      'settings with errors',
      (await post('/admin/settings', '/admin/settings', { org_name: '', triage_target_hours: 'x', stats_threshold: '1' })).text,
    );
    await get('settings list', '/admin/settings/lists/region?notice=added');
    await get('settings item', '/admin/settings/lists/region/london');
    await get('statistics', '/admin/statistics');
    await get('statistics with an error', '/admin/statistics?from=nope');
    await get('statistics csv', '/admin/statistics.csv');
    await get('statistics json', '/admin/statistics.json');
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  it('fetched every page (a positive control)', () => {
    expect(pages.size).toBe(33);
    expect(pages.get('enrol')).toContain('Set up your second factor');
    expect(pages.get('two-factor with an error')).toContain('That code is not right');
    expect(pages.get('invitation')).toContain('You have been invited to Harbour as');
    expect(pages.get('queue')).toContain('<h1>Cases</h1>');
    expect(pages.get('case with an error')).toContain('Enter the note.');
    expect(pages.get('case with a status error')).toContain('The case is already referred.');
    expect(pages.get('settings with errors')).toContain('Enter the organisation’s name.');
    expect(pages.get('settings with errors')).toContain('Enter a whole number of hours.');
    expect(pages.get('account with an error')).toContain('Use at least 12 characters.');
    expect(pages.get('statistics csv')).toContain('Reports by category and quarter');
    expect(pages.get('statistics json')).toContain('"Status and referral outcome by quarter"');
    expect(pages.get('case')).toContain('Added an internal note');
    expect(pages.get('audit')).toContain('case.note_added'); // an action code, shown on purpose
    // The check below would catch a key shown instead of its text.
    expect(rawKeys('<p>queue.no_match</p><p>case.errors.text.note.required</p><code>case.viewed</code>')).toEqual([
      'queue.no_match',
      'case.errors.text.note.required',
    ]);
  });

  it('shows no raw key on any page, export or error', () => {
    const found = [...pages].flatMap(([name, html]) => rawKeys(html).map((k) => `${name}: ${k}`));
    expect(found).toEqual([]);
  });

  it('takes every statistics table title and row heading from the staff file', () => {
    const json = JSON.parse(pages.get('statistics json')!) as { tables: { id: string; title: string }[] };
    expect(json.tables.map((tb) => tb.id)).toEqual([...TABLE_IDS]);
    const st = staffTranslator();
    for (const tb of json.tables) expect(tb.title).toBe(st(`statistics.tables.${tb.id.replace(/-/g, '_')}.title`));
  });
});
