import { readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localesDir } from '../../server/paths.js';
import { addMessage, openWithReceipt } from '../../server/reporting/service.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { fileReport, postReport, type Agent, type Upload } from '../helpers/reporter.js';

/**
 * No English left in a non-English reporter page (issue 5): every reporter
 * page, in every state a reporter can meet (errors included), rendered in
 * zh-hans, zh-hant, ug and bo, with everything the reporter typed in that
 * language too. The human-visible text of each page (text nodes, and the
 * alt, title, aria-label and placeholder attributes and the values of
 * buttons and text boxes; never <script> or <style>) must contain
 *   (a) no string of en.json of two or more words, verbatim, and
 *   (b) no Latin-script word of three or more letters beyond ALLOWED_WORDS;
 * and the page must say its language and direction on <html>.
 * A translation missing from a locale falls back to English, so it fails here.
 */

const LANGS = ['zh-hans', 'zh-hant', 'ug', 'bo'] as const;
type Lang = (typeof LANGS)[number];
const RTL: readonly Lang[] = ['ug'];

/**
 * Latin words allowed in a non-English page, each for a reason:
 * - the service's name (site.name), and Tor Browser, a product name;
 * - Esc, the key's label on a keyboard;
 * - file formats and units as they are written everywhere: JPEG, PNG, WebP, GIF, PDF, MB, KB;
 * - app names: Signal, WhatsApp, WeChat, Telegram;
 * - the language switcher (and the reply-language list) name each language in
 *   itself, and English's name for itself is "English".
 * Digits (receipts, dates, limits) are not words. ALLOWED_PHRASES below:
 * http:// and https:// and the example addresses in validation messages
 * (they show what to type), and the organisation's own name, which its
 * administrator chose (data, not a translation).
 */
const ALLOWED_WORDS = new Set([
  'Harbour',
  'Tor',
  'Browser',
  'Esc',
  'JPEG',
  'PNG',
  'WebP',
  'GIF',
  'PDF',
  'Signal',
  'WhatsApp',
  'WeChat',
  'Telegram',
  'English',
]);
const ALLOWED_PHRASES: RegExp[] = [/\bhttps?:\/\//g, /\bname@example\.com\b/g, /\bexample\.(?:com|org)\b/g];

// ------------------------------------------------------------------ the checker

const decode = (s: string) =>
  s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|nbsp);/gi, (_m, e: string) => {
    const lower = e.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(Number(lower.slice(1)));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' } as Record<string, string>)[lower]!;
  });

const VISIBLE_ATTRS = new Set(['alt', 'title', 'aria-label', 'placeholder']);
const BUTTON_INPUTS = new Set(['submit', 'button', 'reset']);
const TEXT_INPUTS = new Set(['text', 'email', 'tel', 'search', 'url', 'number']);

/** The human-visible text of a server-rendered page, one string per text node or attribute. */
function visibleText(html: string): string[] {
  const out: string[] = [];
  const push = (s: string) => {
    const text = decode(s).replace(/\s+/g, ' ').trim();
    if (text) out.push(text);
  };
  const page = html.replace(/<!--[\s\S]*?-->/g, '').replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ');
  const tag = /<!doctype[^>]*>|<\/?([a-zA-Z][\w-]*)((?:\s+[^\s=>/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*\/?>/gi;
  let last = 0;
  for (const m of page.matchAll(tag)) {
    push(page.slice(last, m.index));
    last = m.index + m[0].length;
    const name = (m[1] ?? '').toLowerCase();
    const attrs = new Map<string, string>();
    for (const a of (m[2] ?? '').matchAll(/([^\s=>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
      attrs.set(a[1]!.toLowerCase(), a[2] ?? a[3] ?? a[4] ?? '');
    }
    for (const [k, v] of attrs) if (VISIBLE_ATTRS.has(k)) push(v);
    const type = (attrs.get('type') ?? 'text').toLowerCase();
    if (name === 'input' && attrs.has('value') && (BUTTON_INPUTS.has(type) || TEXT_INPUTS.has(type))) push(attrs.get('value')!);
  }
  push(page.slice(last));
  return out;
}

type Leaf = { key: string; value: string };
function leaves(node: unknown, at = ''): Leaf[] {
  if (typeof node === 'string') return [{ key: at, value: node }];
  if (Array.isArray(node)) return node.flatMap((n, i) => leaves(n, `${at}.${i}`));
  return Object.entries(node as Record<string, unknown>).flatMap(([k, v]) => leaves(v, at ? `${at}.${k}` : k));
}
const localeLeaves = (code: string) => leaves(JSON.parse(readFileSync(path.join(localesDir, `${code}.json`), 'utf8')));
const EN = localeLeaves('en');
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** en.json strings of two or more words, as patterns (a {{placeholder}} matches anything). */
const ENGLISH_SENTENCES = EN.flatMap(({ key, value }) => {
  const words = value
    .replace(/\{\{[^}]*\}\}/g, ' ')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  if (words.length < 2) return [];
  const pattern = value
    .trim()
    .split(/\{\{[^}]*\}\}/)
    .map((piece) => escapeRe(piece.replace(/\s+/g, ' ').trim()).replace(/ /g, '\\s+'))
    .join('[\\s\\S]*?');
  return [{ key, value, re: new RegExp(pattern) }];
});

/** Everything English on one page; an empty list when there is none. */
function englishOn(html: string, dataPhrases: string[] = []): string[] {
  const texts = visibleText(html);
  const found: string[] = [];
  const all = texts.join('\n');
  for (const s of ENGLISH_SENTENCES) if (s.re.test(all)) found.push(`en.json ${s.key} verbatim: "${s.value}"`);
  for (const text of texts) {
    let rest = text;
    for (const phrase of dataPhrases) rest = rest.split(phrase).join(' ');
    for (const re of ALLOWED_PHRASES) rest = rest.replace(re, ' ');
    for (const m of rest.matchAll(/\p{Script=Latin}{3,}/gu)) {
      if (!ALLOWED_WORDS.has(m[0])) found.push(`Latin word "${m[0]}" in "${text.slice(0, 160)}"`);
    }
  }
  return [...new Set(found)];
}

// ------------------------------------------------------------------ what the reporter types

/** A reporter writing in their own language: nothing they type is English. */
const TYPED: Record<Lang, { narrative: string; reason: string; message: string; reply: string; file: string; word: string }> = {
  'zh-hans': {
    narrative: '一个自称来自同乡会的男人打电话给我在乌鲁木齐的母亲。',
    reason: '他知道我的庇护案件编号。',
    message: '你们还需要我提供什么吗？',
    reply: '谢谢您的报告，我们会尽快联系您。',
    file: '电话截图',
    word: '不是网址',
  },
  'zh-hant': {
    narrative: '一個自稱來自同鄉會的男人打電話給我在烏魯木齊的母親。',
    reason: '他知道我的庇護案件編號。',
    message: '你們還需要我提供甚麼嗎？',
    reply: '謝謝你的報告，我們會盡快聯絡你。',
    file: '電話截圖',
    word: '不是網址',
  },
  ug: {
    narrative: 'ئۆزىنى جەمئىيەتتىن دەپ تونۇشتۇرغان بىر ئەر ئۈرۈمچىدىكى ئانامغا تېلېفون قىلدى.',
    reason: 'ئۇ مېنىڭ پاناھلىق ئەرزىمنىڭ نومۇرىنى بىلىدىكەن.',
    message: 'مەندىن يەنە نېمە لازىم؟',
    reply: 'مەلۇماتىڭىز ئۈچۈن رەھمەت، تېزدىن ئالاقىلىشىمىز.',
    file: 'سۈرەت',
    word: 'تور ئادرېسى ئەمەس',
  },
  bo: {
    narrative: 'སྐྱེས་པ་ཞིག་གིས་ངའི་ཨ་མར་ཁ་པར་བཏང་།',
    reason: 'ཁོས་ངའི་སྐྱབས་བཅོལ་ཡིག་ཆའི་ཨང་གྲངས་ཤེས་ཀྱི་འདུག',
    message: 'ཁྱེད་ཚོར་ང་ལས་གཞན་ཅི་ཞིག་དགོས་སམ།',
    reply: 'སྙན་ཞུ་ཕུལ་བར་ཐུགས་རྗེ་ཆེ། མགྱོགས་པོར་འབྲེལ་བ་བྱེད་ཀྱི་ཡིན།',
    file: 'པར་རིས',
    word: 'དྲ་ཐག་མིན',
  },
};

const YEAR = new Date().getUTCFullYear();

function validReport(lang: Lang): Record<string, string | string[]> {
  const typed = TYPED[lang];
  return {
    danger_now: 'yes',
    categories: ['threats', 'family'],
    narrative: typed.narrative,
    from_month: '3',
    from_year: String(YEAR - 1),
    ongoing: 'yes',
    region: 'london',
    targeted: 'me',
    community: 'uyghur',
    suspected_state: 'china',
    state_reason: typed.reason,
    perpetrator: 'proxy',
    channels: ['phone', 'family'],
    consent: 'talk_first',
    follow_up: 'contact',
    contact_method: 'phone',
    contact_value: '+44 7700 900123',
    contact_language: lang,
  };
}

/** Three submissions that between them raise every validation message. */
function invalidReports(lang: Lang): Record<string, string | string[]>[] {
  const typed = TYPED[lang];
  return [
    // choose_one, required, invalid_choice, invalid_date, invalid_link, invalid_email
    {
      narrative: typed.narrative,
      state_reason: typed.reason,
      from_month: '13',
      from_year: String(YEAR - 1),
      community: 'no-such-community',
      links: typed.word,
      follow_up: 'contact',
      contact_method: 'email',
      contact_value: typed.word,
    },
    // too_long, date_order, too_many_links, invalid_phone, invalid_text
    {
      ...validReport(lang),
      narrative: typed.narrative.repeat(Math.ceil(20_001 / typed.narrative.length)),
      from_month: '5',
      to_month: '1',
      to_year: String(YEAR - 1),
      links: Array.from({ length: 21 }, (_, i) => `https://example.com/${i}`).join('\n'),
      contact_value: typed.word,
      state_reason: `${typed.reason}\uFFFD`,
    },
    // future_date, contact_required
    {
      ...validReport(lang),
      to_month: '1',
      to_year: String(YEAR + 1),
      contact_method: 'signal',
      contact_value: '',
    },
  ];
}

// ------------------------------------------------------------------ apps

let t: TestApp; // set up, small limits so the limit pages are cheap to reach
let bare: TestApp; // not set up: 503
let limited: TestApp; // rate limits on, one attempt each
let jpeg: Buffer;
let brokenPng: Buffer;
let orgName: string;

beforeAll(async () => {
  [t, bare, limited, jpeg] = await Promise.all([
    createTestApp({ env: { MAX_FILE_MB: '1', MAX_REPORT_MB: '2', MAX_FILES_PER_UPLOAD: '3' } }),
    createTestApp({ setup: false }),
    createTestApp({ env: { RATE_LIMITS: 'true', RECEIPT_ATTEMPTS_PER_HOUR_PER_IP: '1', SUBMISSIONS_PER_HOUR_PER_IP: '1' } }),
    sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } })
      .jpeg()
      .toBuffer(),
  ]);
  orgName = (await t.ctx.settings()).orgName;
  const png = await sharp({ create: { width: 50, height: 50, channels: 3, background: '#fff' } })
    .png()
    .toBuffer();
  brokenPng = Buffer.concat([png.subarray(0, 60), Buffer.alloc(200, 0x13)]);
  // Use up the rate-limited app's one receipt attempt and one submission (all requests share 127.0.0.1).
  await fileReport(limited.app);
  const probe = request.agent(limited.app);
  const token = tokenOf((await probe.get('/en/status')).text);
  await probe.post('/en/status').type('form').send({ _csrf: token, receipt: '11112222333344445555' });
}, 180_000);
afterAll(async () => {
  await Promise.all([t?.close(), bare?.close(), limited?.close()]);
});

function tokenOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1]!;
}

const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(64, 0)]);
const BIG_PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(1024 * 1024 + 10, 0x41)]);
const PART_PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(900 * 1024, 0x42)]);

/** Error codes the walk below must have shown (their titles, in the page's language). */
const REACHED_ERRORS = [
  'bad_form',
  'csrf',
  'not_found',
  'session_expired',
  'too_large',
  'too_many_files',
  'too_many_requests',
  'not_ready',
  'evidence_file_too_large',
  'evidence_type',
  'evidence_empty',
  'evidence_image_unreadable',
  'evidence_none',
];

type Rendered = { name: string; status: number; html: string };

/**
 * Every reporter page state in one language, each checked to be the state
 * it names (status code and a marker) before it is handed back.
 */
async function renderAll(lang: Lang): Promise<Rendered[]> {
  const pages: Rendered[] = [];
  const typed = TYPED[lang];
  const keep = (name: string, res: request.Response, status: number, marker?: string | RegExp) => {
    expect(res.status, `${lang} ${name}: status`).toBe(status);
    if (marker !== undefined) {
      if (typeof marker === 'string') expect(res.text, `${lang} ${name}`).toContain(marker);
      else expect(res.text, `${lang} ${name}`).toMatch(marker);
    }
    pages.push({ name, status, html: res.text });
    return res;
  };
  const summary = 'class="error-summary"';
  const photo: Upload = { name: typed.file, content: jpeg };

  keep('landing', await request(t.app).get(`/${lang}/`), 200, `href="/${lang}/report"`);
  keep('emergency', await request(t.app).get(`/${lang}/emergency`), 200, 'class="steps"');

  // The report form, empty, then with every validation message (and files dropped).
  const form = request.agent(t.app);
  const formPage = keep('report form', await form.get(`/${lang}/report`), 200, 'id="narrative"');
  let token = tokenOf(formPage.text);
  const invalid = invalidReports(lang);
  for (const [i, fields] of invalid.entries()) {
    const res = await postReport(form, token, fields, i === 0 ? [photo] : [], lang);
    keep(`report form with validation errors ${i + 1}`, res, 422, summary);
    token = tokenOf(res.text);
  }
  expect(pages.at(-3)!.html, 'files dropped notice').toContain('notice--warning');

  // The form with an upload refused (the limits set for `t`).
  const refused: [string, Upload[], number][] = [
    ['413 file too big', [{ name: typed.file, content: BIG_PDF }], 413],
    ['413 files too big together', [1, 2, 3].map((n) => ({ name: `${typed.file}${n}`, content: PART_PDF })), 413],
    ['413 too many files', [1, 2, 3, 4].map((n) => ({ name: `${typed.file}${n}`, content: jpeg })), 413],
    ['415 file type', [{ name: typed.file, content: ELF }], 415],
    ['422 empty file', [{ name: typed.file, content: Buffer.alloc(0) }], 422],
    ['422 damaged image', [{ name: typed.file, content: brokenPng }], 422],
  ];
  for (const [name, files, status] of refused) {
    const agent = request.agent(t.app);
    const page = await agent.get(`/${lang}/report`);
    keep(`report form, ${name}`, await postReport(agent, tokenOf(page.text), validReport(lang), files, lang), status, summary);
  }
  keep('report form, 400 not a form', await request(t.app).post(`/${lang}/report`).type('form').send({ narrative: typed.narrative }), 400, summary);

  // A real report, filed in this language with a photo; the receipt page (urgent).
  const reporter = request.agent(t.app);
  token = tokenOf((await reporter.get(`/${lang}/report`)).text);
  const sent = await postReport(reporter, token, validReport(lang), [photo], lang);
  expect(sent.status, `${lang} submission: ${sent.text.slice(0, 500)}`).toBe(303);
  const receiptPage = keep('receipt', await reporter.get(`/${lang}/report/receipt`), 200, 'class="danger-box"');
  const receipt = /class="receipt"[^>]*>([\d ]+)</.exec(receiptPage.text)![1]!.replace(/ /g, '');
  token = tokenOf(receiptPage.text);
  const confirm = (value: string) => reporter.post(`/${lang}/report/receipt`).type('form').send({ _csrf: token, receipt: value });
  keep('receipt with mismatch error', await confirm('1111 2222 3333 4444 5555'), 422, summary);
  keep('receipt with format error', await confirm('123'), 422, summary);
  expect((await confirm(receipt)).status).toBe(303);

  // A caseworker replies (as the staff side does: through the report's data key).
  const inst = (await t.ctx.installation())!;
  const open = (await openWithReceipt(t.testDb.db, inst, receipt))!;
  await addMessage(t.testDb.db, open, 'staff', typed.reply);

  const confirmed = keep('status, receipt confirmed', await reporter.get(`/${lang}/status?confirmed=1`), 200, 'notice--success');
  token = tokenOf(confirmed.text);
  expect((await reporter.post(`/${lang}/status/messages`).type('form').send({ _csrf: token, message: typed.message })).status).toBe(303);
  const status = keep('status with messages and evidence', await reporter.get(`/${lang}/status`), 200, 'class="evidence-list"');
  expect(status.text.match(/class="message message--/g), 'reporter and caseworker messages').toHaveLength(2);
  token = tokenOf(status.text);
  keep('status, empty message', await reporter.post(`/${lang}/status/messages`).type('form').send({ _csrf: token, message: ' ' }), 422, summary);
  const upload = (files: Upload[]) => {
    let req = reporter.post(`/${lang}/status/evidence`).field('_csrf', token);
    for (const f of files) req = req.attach('evidence', f.content, f.name);
    return req;
  };
  keep('status, no file chosen', await upload([]), 422, summary);
  keep('status, 415 file type', await upload([{ name: typed.file, content: ELF }]), 415, summary);
  keep('status, 413 file too big', await upload([{ name: typed.file, content: BIG_PDF }]), 413, summary);

  const withdrawPage = keep('withdraw confirmation', await reporter.get(`/${lang}/status/withdraw`), 200, 'id="confirm"');
  token = tokenOf(withdrawPage.text);
  keep('withdraw confirmation with error', await reporter.post(`/${lang}/status/withdraw`).type('form').send({ _csrf: token }), 422, summary);
  const withdrawn = keep('withdrawn', await reporter.post(`/${lang}/status/withdraw`).type('form').send({ _csrf: token, confirm: 'yes' }), 200);
  expect(withdrawn.text, 'left the withdraw form').not.toContain('id="confirm"');

  // Signing in with a receipt.
  const visitor: Agent = request.agent(t.app);
  const signIn = keep('status sign-in', await visitor.get(`/${lang}/status`), 200, 'id="receipt"');
  token = tokenOf(signIn.text);
  const attempt = (value: string) => visitor.post(`/${lang}/status`).type('form').send({ _csrf: token, receipt: value });
  keep('status sign-in, unknown receipt', await attempt('1111 2222 3333 4444 5555'), 422, summary);
  keep('status sign-in, malformed receipt', await attempt('12'), 422, summary);

  // Error pages (views/errors/error.ejs).
  keep('404', await request(t.app).get(`/${lang}/no-such-page`), 404, `href="/${lang}/"`);
  keep('404 outside a language, by Accept-Language', await request(t.app).get('/no-such-page').set('Accept-Language', lang), 404);
  keep('401 signed out', await request(t.app).get(`/${lang}/status/withdraw`), 401, `href="/${lang}/status"`);
  keep('403 expired form', await request(t.app).post(`/${lang}/status`).type('form').send({ receipt }), 403);
  keep(
    '413 too much at once',
    await visitor
      .post(`/${lang}/status`)
      .type('form')
      .send({ _csrf: token, receipt: '1'.repeat(300 * 1024) }),
    413,
  );
  keep('503 not set up: landing', await request(bare.app).get(`/${lang}/`), 503);
  keep('503 not set up: report form', await request(bare.app).get(`/${lang}/report`), 503);

  // 429: the rate-limited app's attempts were used up in beforeAll.
  const busy = request.agent(limited.app);
  token = tokenOf((await busy.get(`/${lang}/status`)).text);
  keep('status sign-in, 429', await busy.post(`/${lang}/status`).type('form').send({ _csrf: token, receipt }), 429, summary);
  token = tokenOf((await busy.get(`/${lang}/report`)).text);
  keep('report form, 429', await postReport(busy, token, validReport(lang), [], lang), 429, summary);

  return pages;
}

describe('the checker', () => {
  it('finds English on an English page and on a page with an English string left in it', async () => {
    const en = await request(t.app).get('/en/');
    const found = englishOn(en.text, [orgName]);
    expect(found.some((f) => f.startsWith('en.json landing.title verbatim'))).toBe(true);
    expect(found.some((f) => f.startsWith('Latin word "Report"'))).toBe(true);
    // One English word in a Chinese page is enough.
    const zh = await request(t.app).get('/zh-hans/');
    expect(englishOn(zh.text, [orgName])).toEqual([]);
    expect(englishOn(zh.text.replace('</h1>', ' safely</h1>'), [orgName])).toEqual([expect.stringContaining('Latin word "safely"')]);
    // Attributes a reporter sees count; scripts and styles do not.
    expect(englishOn('<p title="Leave this site">离开</p>')).toEqual(expect.arrayContaining([expect.stringContaining('site.quick_exit verbatim')]));
    expect(englishOn('<script>var x = "Leave this site";</script><style>.warning{}</style><p>离开</p>')).toEqual([]);
    expect(englishOn('<input type="submit" value="Send message">')).toEqual(
      expect.arrayContaining([expect.stringContaining('status.message_button')]),
    );
    expect(englishOn('<input type="hidden" name="_csrf" value="abcdefgh">')).toEqual([]);
  });
});

describe.each(LANGS)('/%s/: every reporter page', (lang) => {
  it('has no English and says its language and direction', async () => {
    const pages = await renderAll(lang);
    const findings: string[] = [];
    for (const page of pages) {
      const html = /<html\b[^>]*>/.exec(page.html)?.[0] ?? '(no <html> tag)';
      const dir = RTL.includes(lang) ? 'rtl' : 'ltr';
      if (!html.includes(`lang="${lang}"`) || !html.includes(`dir="${dir}"`))
        findings.push(`${page.name}: ${html} (want lang="${lang}" dir="${dir}")`);
      for (const f of englishOn(page.html, [orgName])) findings.push(`${page.name} (${page.status}): ${f}`);
    }
    expect(pages.length).toBeGreaterThanOrEqual(35);
    // The walk reached every validation message and every error a reporter meets (in this language's words).
    const shown = pages.map((p) => visibleText(p.html).join(' ')).join(' ');
    const own = new Map(localeLeaves(lang).map((l) => [l.key, l.value]));
    const wanted = [...[...own.keys()].filter((k) => k.startsWith('validation.')), ...REACHED_ERRORS.map((code) => `errors.${code}.title`)];
    const unseen = wanted.filter((k) => {
      const longest = own
        .get(k)!
        .split(/\{\{[^}]*\}\}/)
        .map((x) => x.replace(/\s+/g, ' ').trim())
        .sort((a, b) => b.length - a.length)[0]!;
      return !shown.includes(longest);
    });
    expect(unseen, 'messages no page showed').toEqual([]);
    expect(findings, `English on /${lang}/ pages:\n${findings.join('\n')}`).toEqual([]);
  }, 300_000);
});
