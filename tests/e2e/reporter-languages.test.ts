import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  E2E_REPORT,
  LANGS,
  arrowProblems,
  clickAndLoad,
  directionFacts,
  directionProblems,
  expectLanguage,
  expectStep,
  fillReport,
  localeStrings,
  pathOf,
  readReceipt,
  replyAsCaseworker,
  reversedNumbers,
  tr,
  untranslatedWords,
  useBrowserRig,
  walkReporterPages,
  type DirectionFacts,
  type Lang,
} from '../helpers/browser.js';
import { serveDestination } from '../helpers/destination.js';
import { fileReport } from '../helpers/reporter.js';
import { addStaff, signInStaff } from '../helpers/staff.js';

// Issue 5: the reporter's whole journey in each of the five languages with
// JavaScript off (Tor Browser "Safest"), and once with it on; every page in
// the reporter's language, from its locale file; Uyghur laid out right to
// left with numbers left to right; the language list keeps the reporter
// where they are, on the report form with what they typed.

// Where the quick exit leads in this file: served by the test, not the internet.
const destination = await serveDestination();
afterAll(() => destination.close());
const QUICK_EXIT_URL = destination.url;
const rig = useBrowserRig({ QUICK_EXIT_URL });

let staffAgent: ReturnType<typeof signInStaff> | null = null;
/** One caseworker, signed in through the staff pages on first use, shared by the journeys. */
const caseworker = () =>
  (staffAgent ??= addStaff(rig.served.t, { roles: ['caseworker'], name: 'Casey Worker' }).then((s) => signInStaff(rig.served.t, s)));

async function withContext<T>(js: boolean, use: (newPage: () => Promise<Page>) => Promise<T>): Promise<T> {
  const contexts: BrowserContext[] = [];
  const newPage = async () => {
    const context = await rig.browser.newContext({ javaScriptEnabled: js });
    contexts.push(context);
    return context.newPage();
  };
  try {
    return await use(newPage);
  } finally {
    await Promise.all(contexts.map((c) => c.close()));
  }
}

/** Written in each language, so the form, the database and the pages carry the script. */
const NARRATIVES: Record<Lang, string> = {
  en: E2E_REPORT.narrative,
  'zh-hans': '两个自称“服务站”的男人在我公寓外等候，打听我妹妹的情况。',
  'zh-hant': '兩個自稱「服務站」的男人在我公寓外等候，打聽我妹妹的情況。',
  ug: 'ئىككى ئادەم ئۆيۈمنىڭ سىرتىدا ساقلاپ تۇرۇپ، سىڭلىم توغرىسىدا سورىدى.',
  bo: 'མི་གཉིས་ཀྱིས་ངའི་ཁང་པའི་ཕྱི་ལོགས་སུ་སྒུག་ནས་ངའི་སྲིང་མོའི་སྐོར་དྲི་བ་བཏང་།',
};
const ANSWERS: Record<Lang, string> = {
  en: 'Yes, Thursday after six is safe.',
  'zh-hans': '可以，星期四六点以后是安全的。',
  'zh-hant': '可以，星期四六點以後是安全的。',
  ug: 'ھەئە، پەيشەنبە كۈنى سائەت ئالتىدىن كېيىن بىخەتەر.',
  bo: 'ལགས། གཟའ་ཕུར་བུའི་ཆུ་ཚོད་དྲུག་གི་རྗེས་སུ་བདེ་འཇགས་ཡིན།',
};

/** Every page of the journey: in the language, titled from the locale file, no English left in it. */
async function expectPage(page: Page, lang: Lang, titleKey: string, where: string) {
  await expectStep(page, lang, titleKey, `${lang} ${where}`);
  if (lang !== 'en') {
    expect(await untranslatedWords(page, lang, ['Test Community Aid']), `${lang} ${where}: words not from locales/${lang}.json`).toEqual([]);
  }
}

const submitOf = (page: Page, action: string) => page.locator(`form[action="${action}"] button[type="submit"]`);

/**
 * The reporter's journey in one language: report with a photo, receipt,
 * leave, a caseworker replies, back with the receipt, answer, evidence
 * listed, withdraw, the receipt opens nothing. Buttons and fields are found
 * by their text in that language, so an untranslated control fails.
 */
async function reporterJourney(lang: Lang, js: boolean) {
  const { baseUrl } = rig.served;
  const marker = `#${lang}-${js ? 'js' : 'nojs'}-${Date.now()}`;
  const narrative = `${NARRATIVES[lang]} ${marker}`;
  const button = (page: Page, key: string) => page.getByRole('button', { name: tr(lang, key), exact: true });

  await withContext(js, async (newPage) => {
    // Day 1: the landing page, then the form.
    const page = await newPage();
    await page.goto(`${baseUrl}/${lang}/`);
    await expectPage(page, lang, 'landing.title', 'landing');
    await clickAndLoad(page, page.getByRole('link', { name: tr(lang, 'landing.report_button'), exact: true }));
    expect(pathOf(page)).toBe(`/${lang}/report`);
    await expectPage(page, lang, 'form.title', 'report form');
    expect(await page.getByLabel(tr(lang, 'form.evidence.label'), { exact: false }).count(), 'evidence field labelled').toBe(1);

    await fillReport(page, { ...E2E_REPORT, narrative, files: [rig.jpeg.file] });
    await clickAndLoad(page, button(page, 'form.submit'));
    expect(pathOf(page)).toBe(`/${lang}/report/receipt`);
    await expectPage(page, lang, 'receipt.title', 'receipt');
    const receipt = await readReceipt(page);

    await page.getByLabel(tr(lang, 'receipt.confirm_label'), { exact: true }).fill(receipt);
    await clickAndLoad(page, button(page, 'receipt.confirm_button'));
    expect(pathOf(page)).toBe(`/${lang}/status`);
    await expectPage(page, lang, 'status.title', 'status after confirming');
    expect(await page.locator('.notice--success').innerText()).toBe(tr(lang, 'status.confirmed'));
    expect(await page.locator('.narrative').innerText()).toBe(narrative);

    // Leave: signed out, back on the landing page in the same language.
    await clickAndLoad(page, button(page, 'status.leave_button'));
    expect(pathOf(page)).toBe(`/${lang}/`);
    await expectPage(page, lang, 'landing.title', 'landing after leaving');
    await page.goto(`${baseUrl}/${lang}/status`);
    await expectPage(page, lang, 'status.sign_in_title', 'status after leaving');
    expect(await page.locator('.narrative').count(), 'signed out').toBe(0);

    // A caseworker replies meanwhile.
    const reply = `Thank you for telling us (${marker}). Can we call you on Thursday?`;
    await replyAsCaseworker(rig.served.t, await caseworker(), marker, reply);

    // Another day, another browser session: only the receipt leads back.
    const later = await newPage();
    await later.goto(`${baseUrl}/${lang}/status`);
    await expectPage(later, lang, 'status.sign_in_title', 'status sign-in');
    await later.getByLabel(tr(lang, 'status.receipt_label'), { exact: true }).fill(receipt.replace(/(\d{4})(?=\d)/g, '$1 '));
    await clickAndLoad(later, button(later, 'status.sign_in_button'));
    expect(pathOf(later)).toBe(`/${lang}/status`);
    await expectPage(later, lang, 'status.title', 'status on return');
    expect(await later.locator('.narrative').innerText()).toBe(narrative);
    const staffMessage = later.locator('.thread .message--staff');
    expect(await staffMessage.locator('.message__body').allInnerTexts()).toEqual([reply]);
    expect(await staffMessage.locator('.message__meta strong').innerText()).toBe(tr(lang, 'status.from_staff'));

    const answer = `${ANSWERS[lang]} ${marker}`;
    await later.getByLabel(tr(lang, 'status.message_label'), { exact: true }).fill(answer);
    await clickAndLoad(later, button(later, 'status.message_button'));
    expect(pathOf(later)).toBe(`/${lang}/status`);
    await expectPage(later, lang, 'status.title', 'status after answering');
    expect(await later.locator('.thread .message__body').allInnerTexts()).toEqual([reply, answer]);
    expect(await later.locator('.thread .message--reporter .message__meta strong').innerText()).toBe(tr(lang, 'status.from_you'));

    const evidence = later.locator('.evidence-list li');
    expect(await evidence.count(), 'the photo is listed').toBe(1);
    expect(await evidence.innerText()).toContain('harbour-photo.jpg');
    expect(await evidence.innerText()).toContain(tr(lang, 'status.cleaned'));
    expect(await evidence.getByRole('link', { name: `${tr(lang, 'status.download')} harbour-photo.jpg`, exact: true }).count()).toBe(1);

    // Withdraw, with the confirmation checkbox.
    await clickAndLoad(later, later.getByRole('link', { name: tr(lang, 'status.withdraw_link'), exact: true }));
    expect(pathOf(later)).toBe(`/${lang}/status/withdraw`);
    await expectPage(later, lang, 'status.withdraw_title', 'withdraw');
    await later.getByLabel(tr(lang, 'status.withdraw_confirm_label'), { exact: true }).check();
    await clickAndLoad(later, button(later, 'status.withdraw_button'));
    await expectPage(later, lang, 'status.withdrawn_title', 'withdrawn');
    expect(await later.locator('main').innerText()).toContain(tr(lang, 'status.withdrawn'));

    // The receipt opens nothing any more.
    const after = await newPage();
    await after.goto(`${baseUrl}/${lang}/status`);
    await after.getByLabel(tr(lang, 'status.receipt_label'), { exact: true }).fill(receipt);
    await clickAndLoad(after, button(after, 'status.sign_in_button'));
    expect(pathOf(after)).toBe(`/${lang}/status`);
    await expectLanguage(after, lang, `${lang} sign-in with a withdrawn receipt`);
    expect(await after.locator('main h1').innerText()).toBe(tr(lang, 'status.sign_in_title'));
    expect(await after.locator('.error-summary').innerText()).toContain(tr(lang, 'status.receipt_unknown'));
    expect(await after.locator('.narrative').count()).toBe(0);
  });
}

describe.concurrent('the reporter journey in every language', () => {
  it.each(LANGS)('%s, JavaScript off: report with evidence, receipt, leave, reply, answer, withdraw', async (lang) => {
    await reporterJourney(lang, false);
  });

  it('ug, JavaScript on: the same journey; Esc pressed three times leaves for the quick-exit address', async () => {
    await reporterJourney('ug', true);
    await withContext(true, async (newPage) => {
      const page = await newPage();
      await page.goto(`${rig.served.baseUrl}/ug/report`);
      await page.locator('#narrative').fill('half written');
      const left = page.waitForURL(QUICK_EXIT_URL);
      for (let i = 0; i < 3; i++) await page.keyboard.press('Escape');
      await left;
      expect(await page.locator('h1').innerText()).toBe('Weather');
      // location.replace: Back does not return to Harbour.
      await page.goBack().catch(() => null);
      expect(page.url()).not.toContain(rig.served.baseUrl + '/ug/report');

      // Two presses are not enough (an ordinary Esc closes a menu).
      const other = await newPage();
      await other.goto(`${rig.served.baseUrl}/ug/`);
      await other.keyboard.press('Escape');
      await other.keyboard.press('Escape');
      await other.waitForTimeout(200);
      expect(pathOf(other)).toBe('/ug/');
    });
  });

  it('the check for words not from the locale file finds English on an English page (positive control)', async () => {
    await withContext(false, async (newPage) => {
      const page = await newPage();
      await page.goto(`${rig.served.baseUrl}/en/report`);
      const found = await untranslatedWords(page, 'zh-hans');
      expect(found.join('\n')).toContain(tr('en', 'form.title'));
    });
  });
});

// ---------------------------------------------------------------- right to left

/** The landing page, the form, the receipt and the status page, measured for reading direction. */
async function measureDirection(lang: Lang) {
  return withContext(false, async (newPage) => {
    const page = await newPage();
    const facts: Record<string, DirectionFacts> = {};
    const numbers: string[] = [];
    const measure = async (name: string) => {
      await expectLanguage(page, lang, `${lang} ${name}`);
      facts[name] = await directionFacts(page);
      numbers.push(...(await reversedNumbers(page)).map((n) => `${lang} ${name}: ${n}`));
    };
    await page.goto(`${rig.served.baseUrl}/${lang}/`);
    await measure('landing');
    await page.goto(`${rig.served.baseUrl}/${lang}/emergency`);
    await measure('emergency');
    await page.goto(`${rig.served.baseUrl}/${lang}/report`);
    await measure('report form');
    // A phone number to reply to: it must read left to right on the status page.
    await fillReport(page, { ...E2E_REPORT, narrative: NARRATIVES[lang], followUp: 'contact' });
    await page.locator('#contact_method-phone').check();
    await page.locator('#contact_value').fill('+44 7700 900123');
    await clickAndLoad(page, submitOf(page, `/${lang}/report`));
    expect(pathOf(page), 'the report was accepted').toBe(`/${lang}/report/receipt`);
    await measure('receipt');
    const receipt = await readReceipt(page);
    await page.locator('#receipt').fill(receipt);
    await clickAndLoad(page, submitOf(page, `/${lang}/report/receipt`));
    expect(pathOf(page)).toBe(`/${lang}/status`);
    await page.locator('#message').fill(ANSWERS[lang]);
    await clickAndLoad(page, submitOf(page, `/${lang}/status/messages`));
    await measure('status');
    // The phone number as shown, left to right on screen whatever the page's direction.
    const phone = page.locator('.report-fields span[dir="ltr"]');
    expect(await phone.innerText()).toBe('+44 7700 900123');
    await clickAndLoad(page, submitOf(page, `/${lang}/status/leave`));
    await page.goto(`${rig.served.baseUrl}/${lang}/status`);
    await measure('status sign-in');

    // Positive control for the number check: a number in a sentence of this page's language, not isolated.
    await page.evaluate(
      (text) => {
        const p = document.createElement('p');
        p.textContent = text;
        document.querySelector('main')!.append(p);
      },
      lang === 'ug' ? '\u0633\u0627\u0646 1234 5678 9012' : 'Number 1234 5678 9012',
    );
    const control = await reversedNumbers(page);
    return { facts, numbers, control };
  });
}

describe('Uyghur reads right to left', () => {
  it('ug pages are mirrored with numbers left to right; the same checks on en pages see left to right', async () => {
    const [ug, en] = await Promise.all([measureDirection('ug'), measureDirection('en')]);
    const pages = Object.keys(en.facts);
    expect(Object.keys(ug.facts)).toEqual(pages);

    const problems = pages.flatMap((name) => directionProblems(ug.facts[name]!, 'rtl', `ug ${name}`));
    expect(problems, problems.join('\n')).toEqual([]);
    expect(ug.numbers, ug.numbers.join('\n')).toEqual([]);
    const arrows = pages.flatMap((name) => arrowProblems(en.facts[name]!, ug.facts[name]!, name));
    expect(arrows, arrows.join('\n')).toEqual([]);

    // The receipt itself: direction ltr, its digits left to right on screen (also covered by reversedNumbers).
    const receiptRun = ug.facts['receipt']!.ltrRuns.find((r) => r.what.startsWith('p'));
    expect(receiptRun?.direction).toBe('ltr');

    // The same checks tell the difference: English is left to right and fails as right to left.
    const enProblems = pages.flatMap((name) => directionProblems(en.facts[name]!, 'ltr', `en ${name}`));
    expect(enProblems, enProblems.join('\n')).toEqual([]);
    expect(en.numbers).toEqual([]);
    for (const name of pages) {
      const asRtl = directionProblems(en.facts[name]!, 'rtl', `en ${name}`);
      expect(
        asRtl.some((p) => p.includes('<html dir')),
        `${name}: dir`,
      ).toBe(true);
      expect(
        asRtl.some((p) => p.includes('site name')),
        `${name}: header`,
      ).toBe(true);
      expect(
        asRtl.some((p) => p.includes('text starts')),
        `${name}: text start`,
      ).toBe(true);
    }
    expect(
      directionProblems(en.facts['report form']!, 'rtl', 'en').some((p) => p.includes('the box')),
      'choices',
    ).toBe(true);
    expect(
      directionProblems(en.facts['report form']!, 'rtl', 'en').some((p) => p.includes('reading-start side')),
      'start borders',
    ).toBe(true);
    expect(ug.control, 'an unisolated number in Uyghur text is caught').toHaveLength(1);
    expect(en.control, 'the same number in English text reads left to right').toEqual([]);
  });
});

// ---------------------------------------------------------------- language list

describe.concurrent('the language list keeps the reporter where they are', () => {
  it('on an ordinary page each language links to the same page: /en/emergency → /ug/emergency', async () => {
    await withContext(false, async (newPage) => {
      const page = await newPage();
      await page.goto(`${rig.served.baseUrl}/en/emergency`);
      const nav = page.locator('nav.languages');
      expect(await nav.getAttribute('aria-label')).toBe(tr('en', 'site.languages'));
      const hrefs = await nav.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      expect(hrefs).toEqual(LANGS.map((l) => `/${l}/emergency`));
      expect(await nav.locator('a[aria-current="true"]').getAttribute('lang')).toBe('en');
      await clickAndLoad(page, nav.locator('a[lang="ug"]'));
      expect(pathOf(page)).toBe('/ug/emergency');
      await expectPage(page, 'ug', 'emergency.title', 'emergency via the language list');
    });
  });

  it('signed in on /zh-hant/status, Tibetan keeps the report open and the half-written message, JavaScript off', async () => {
    const { receipt } = await fileReport(rig.served.t.app);
    await withContext(false, async (newPage) => {
      const page = await newPage();
      await page.goto(`${rig.served.baseUrl}/zh-hant/status`);
      await page.locator('#receipt').fill(receipt);
      await clickAndLoad(page, submitOf(page, '/zh-hant/status'));
      await expectPage(page, 'zh-hant', 'status.title', 'status');
      const draft = `${NARRATIVES['zh-hant']} (draft)`;
      await page.locator('#message').fill(draft);
      await clickAndLoad(page, page.locator('nav.languages button[lang="bo"]'));
      await expectPage(page, 'bo', 'status.title', 'status via the language list');
      expect(await page.locator('.narrative').count(), 'still signed in, the report shown').toBe(1);
      expect(await page.locator('#message').inputValue(), 'the message kept').toBe(draft);
      expect(await page.locator('nav.languages a[aria-current="true"]').getAttribute('href')).toBe('/bo/status');
      // Nothing was sent: sending it now adds it to the thread, in Tibetan.
      expect(await page.locator('#messages .thread > li').count()).toBe(0);
      await clickAndLoad(page, submitOf(page, '/bo/status/messages'));
      expect(pathOf(page)).toBe('/bo/status');
      expect(await page.locator('#messages .thread > li').count()).toBe(1);
    });
  });

  it('on every page a reporter can meet, including after a form was sent, each language link opens that page', async () => {
    const broken: string[] = [];
    await withContext(false, async (newPage) => {
      const page = await newPage();
      const checkLinks = async (name: string) => {
        const hrefs = await page.locator('nav.languages a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')!));
        for (const href of hrefs) {
          // With this browser's cookies (the reporter's session): what the link would show.
          const res = await page.request.get(new URL(href, rig.served.baseUrl).href, { maxRedirects: 0 });
          const expected = name === '404' ? 404 : 200;
          if (res.status() !== expected) broken.push(`${name} at ${pathOf(page)}: ${href} answers ${res.status()}`);
        }
      };
      await walkReporterPages(page, rig.served.baseUrl, 'en', rig.jpeg.file, checkLinks);

      // The status page after a refused message (rendered in answer to the POST).
      const { receipt } = await fileReport(rig.served.t.app);
      await page.goto(`${rig.served.baseUrl}/en/status`);
      await page.locator('#receipt').fill(receipt);
      await clickAndLoad(page, submitOf(page, '/en/status'));
      await clickAndLoad(page, submitOf(page, '/en/status/messages'));
      expect(await page.locator('.error-summary').count(), 'an empty message is refused').toBe(1);
      await checkLinks('status with a message error');
    });
    expect(broken, broken.join('\n')).toEqual([]);
  });

  it('on the report form a language is a submit button that keeps what was typed: en → ug, JavaScript off', async () => {
    await withContext(false, async (newPage) => {
      const page = await newPage();
      await page.goto(`${rig.served.baseUrl}/en/report`);
      await expectPage(page, 'en', 'form.title', 'report form');
      const nav = page.locator('nav.languages');
      for (const code of LANGS.filter((l) => l !== 'en')) {
        const b = nav.locator(`button[lang="${code}"]`);
        expect(await b.count(), `${code}: a button in the language list`).toBe(1);
        expect(
          await b.evaluate((el) => ({
            type: el.getAttribute('type'),
            form: el.getAttribute('form'),
            formaction: el.getAttribute('formaction'),
            formnovalidate: el.hasAttribute('formnovalidate'),
          })),
          `${code} button`,
        ).toEqual({ type: 'submit', form: 'report-form', formaction: `/${code}/report/language`, formnovalidate: true });
      }
      expect(await page.locator('form#report-form').getAttribute('action')).toBe('/en/report');

      // Half a form: a narrative, a category, a region (and a file, which is not kept).
      const narrative = 'They phoned my mother twice last week.\nThe second time they asked for my address.';
      await page.locator('#narrative').fill(narrative);
      await page.locator('#cat-family').check();
      await page.locator('#region').selectOption('scotland');
      await page.locator('#evidence').setInputFiles([rig.jpeg.file]);

      await clickAndLoad(page, nav.locator('button[lang="ug"]'));
      // The answer to the POST is the form itself (nothing is stored to redirect to).
      expect(['/ug/report', '/ug/report/language']).toContain(pathOf(page));
      await expectPage(page, 'ug', 'form.title', 'report form after switching');
      expect(await page.locator('form#report-form').getAttribute('action')).toBe('/ug/report');
      // Every entry in the language list still leads somewhere: the current one too.
      const current = page.locator('nav.languages [aria-current="true"]');
      expect(await current.getAttribute('lang')).toBe('ug');
      const href = await current.getAttribute('href');
      expect(href).toBe('/ug/report');
      expect((await page.request.get(new URL(href!, rig.served.baseUrl).href)).status(), `the current language's link ${href}`).toBe(200);
      expect(await page.locator('.error-summary').count(), 'no errors for a half-filled form').toBe(0);
      expect(await page.locator('#narrative').inputValue()).toBe(narrative);
      expect(await page.locator('input[name="categories"]:checked').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))).toEqual([
        'family',
      ]);
      expect(await page.locator('#region').inputValue()).toBe('scotland');
      // The file is not kept, and a note in Uyghur says so.
      expect(await page.locator('#evidence').evaluate((el: HTMLInputElement) => el.files?.length ?? 0)).toBe(0);
      const notes = await page.locator('main .notice').allInnerTexts();
      expect(
        notes.filter((n) => localeStrings('ug').includes(n.trim())),
        `a note from locales/ug.json that files are not kept: ${notes.join(' | ')}`,
      ).toHaveLength(1);
      // The switched form still sends: finish it in Uyghur.
      await fillReport(page, { ...E2E_REPORT, categories: [], narrative, region: 'scotland' });
      await clickAndLoad(page, submitOf(page, '/ug/report'));
      expect(pathOf(page)).toBe('/ug/report/receipt');
      await expectPage(page, 'ug', 'receipt.title', 'receipt after switching');
    });
  });
});
