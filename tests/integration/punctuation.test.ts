import { readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localesDir } from '../../server/paths.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { csrfFrom, fileReport, postReport, signInWithReceipt } from '../helpers/reporter.js';

/**
 * Pages join words with each language's own punctuation and order, from its
 * locale file: a page title with a problem, an error summary's "field:
 * problem" and a field's own error, a list of categories ("、" in Chinese,
 * "، " in Uyghur), a month and year; never English ": " and ", " glued into
 * a Chinese, Uyghur or Tibetan sentence.
 */
type Locale = {
  site: { list_separator: string };
  form: { error_summary_title: string; title: string };
  categories: Record<string, { label: string }>;
  months: Record<string, string>;
};
const locale = (lang: string) => JSON.parse(readFileSync(path.join(localesDir, `${lang}.json`), 'utf8')) as Locale;

const EXPECTED = [
  { lang: 'en', colon: ': ', separator: ', ', march2026: (m: string) => `${m} 2026` },
  { lang: 'zh-hans', colon: '：', separator: '、', march2026: (m: string) => `2026年${m}` },
  { lang: 'zh-hant', colon: '：', separator: '、', march2026: (m: string) => `2026年${m}` },
  { lang: 'ug', colon: ': ', separator: '، ', march2026: (m: string) => `2026-يىلى ${m}` },
  { lang: 'bo', colon: '། ', separator: '། ', march2026: (m: string) => `2026 ${m}` },
] as const;

let t: TestApp;
let receipt: string;
beforeAll(async () => {
  t = await createTestApp();
  ({ receipt } = await fileReport(t.app)); // categories: threats, family
});
afterAll(async () => {
  await t.close();
});

describe.each(EXPECTED)('$lang punctuation', ({ lang, colon, separator, march2026 }) => {
  const l = locale(lang);

  it('in the title and the error summary of a refused form', async () => {
    const agent = request.agent(t.app);
    const res = await postReport(agent, await csrfFrom(agent, `/${lang}/report`), {}, [], lang);
    expect(res.status).toBe(422);
    expect(res.text).toContain(`<title>${l.form.error_summary_title}${colon}${l.form.title}`);
    // Each summary line names its field, then the problem.
    const lines = [...res.text.matchAll(/<a href="#field-[a-z_]+">([^<]*)<\/a>/g)].map((m) => m[1]!);
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line).toContain(colon);
    // Each field's own message starts, for screen readers, with the problem in the same words.
    expect(res.text).toContain(`<span class="visually-hidden">${l.form.error_summary_title}${colon}</span>`);
  });

  it('between the categories on the status page', async () => {
    const { agent } = await signInWithReceipt(t.app, receipt, lang);
    const res = await agent.get(`/${lang}/status`);
    expect(res.status).toBe(200);
    expect(l.site.list_separator).toBe(separator);
    expect(res.text).toContain(`${l.categories['threats']!.label}${separator}${l.categories['family']!.label}`);
    expect(res.text).toContain(march2026(l.months['3']!)); // when it started, in the language's order
  });
});
