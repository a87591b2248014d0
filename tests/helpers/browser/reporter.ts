import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { E2E_REPORT, WRONG_RECEIPT, type ReportInput } from './fixtures.js';
import type { Lang } from './languages.js';
import { clickAndLoad } from './navigation.js';

// The reporter's pages driven as a reporter does: filling the form, reading the receipt, signing in, walking every state.

/** Fills the report form by its stable ids (the labels change with the language). */
export async function fillReport(page: Page, r: ReportInput): Promise<void> {
  for (const c of r.categories) await page.locator(`#cat-${c}`).check();
  await page.locator('#narrative').fill(r.narrative);
  await page.locator('#region').selectOption(r.region);
  await page.locator(`#targeted-${r.targeted}`).check();
  await page.locator('#community').selectOption(r.community);
  await page.locator(`#consent-${r.consent}`).check();
  await page.locator(`#follow_up-${r.followUp}`).check();
  if (r.files?.length) await page.locator('#evidence').setInputFiles(r.files);
}

/** The receipt on the confirmation page: 20 digits in groups of four, returned without spaces. */
export async function readReceipt(page: Page): Promise<string> {
  const shown = (await page.locator('.receipt').innerText()).trim();
  expect(shown).toMatch(/^\d{4} \d{4} \d{4} \d{4} \d{4}$/);
  return shown.replace(/ /g, '');
}

export async function signIn(page: Page, baseUrl: string, lang: string, receipt: string): Promise<void> {
  await page.goto(`${baseUrl}/${lang}/status`);
  await page.locator('#receipt').fill(receipt);
  await clickAndLoad(page, page.locator(`form[action="/${lang}/status"] button[type="submit"]`));
}
/** The page states walkReporterPages visits, in order. */
export const REPORTER_PAGES = [
  'landing',
  'emergency',
  'report form',
  'report form with errors',
  'receipt',
  'receipt with mismatch error',
  'status',
  'withdraw confirmation',
  'withdraw confirmation with error',
  'withdrawn',
  'status sign-in',
  'status sign-in with wrong receipt',
  '404',
] as const;
export type ReporterPage = (typeof REPORTER_PAGES)[number];

/**
 * Every reporter page, in the states a reporter can meet, in one language.
 * `visit` is called on each with a short name; the walk checks it reached the
 * state it names before handing over, so a broken flow fails here, not as a
 * confusing accessibility or layout result.
 */
export async function walkReporterPages(
  page: Page,
  baseUrl: string,
  lang: Lang,
  evidenceFile: string,
  visit: (name: ReporterPage) => Promise<void>,
): Promise<void> {
  const go = async (p: string, status = 200) => {
    const res = await page.goto(`${baseUrl}/${lang}${p}`);
    expect(res?.status(), `GET /${lang}${p}`).toBe(status);
  };
  const errorSummary = page.locator('.error-summary');
  const submit = (form: string) => page.locator(`form[action="/${lang}${form}"] button[type="submit"]`);

  await go('/');
  await visit('landing');
  await go('/emergency');
  await visit('emergency');

  await go('/report');
  await visit('report form');
  await clickAndLoad(page, submit('/report'));
  expect(await errorSummary.count(), 'report form shows its errors').toBe(1);
  await visit('report form with errors');

  await fillReport(page, { ...E2E_REPORT, files: [evidenceFile] });
  await clickAndLoad(page, submit('/report'));
  expect(new URL(page.url()).pathname).toBe(`/${lang}/report/receipt`);
  const receipt = await readReceipt(page);
  await visit('receipt');

  await page.locator('#receipt').fill(WRONG_RECEIPT);
  await clickAndLoad(page, submit('/report/receipt'));
  expect(await errorSummary.count(), 'receipt mismatch error').toBe(1);
  await visit('receipt with mismatch error');

  await page.locator('#receipt').fill(receipt);
  await clickAndLoad(page, submit('/report/receipt'));
  expect(new URL(page.url()).pathname).toBe(`/${lang}/status`);
  await page.locator('#message').fill('Is there anything else you need from me?');
  await clickAndLoad(page, submit('/status/messages'));
  expect(await page.locator('.thread .message').count(), 'message thread').toBe(1);
  expect(await page.locator('.evidence-list li').count(), 'evidence list').toBe(1);
  await visit('status');

  await go('/status/withdraw');
  await visit('withdraw confirmation');
  await clickAndLoad(page, submit('/status/withdraw'));
  expect(await errorSummary.count(), 'withdraw without the checkbox').toBe(1);
  expect(await page.locator('#confirm').getAttribute('aria-describedby'), 'error tied to the checkbox').toBe('confirm-error');
  await visit('withdraw confirmation with error');
  await page.locator('#confirm').check();
  await clickAndLoad(page, submit('/status/withdraw'));
  expect(await page.locator('#confirm').count(), 'left the withdraw form').toBe(0);
  await visit('withdrawn');

  await go('/status');
  expect(await page.locator('#receipt').count(), 'status sign-in form').toBe(1);
  await visit('status sign-in');
  await page.locator('#receipt').fill(WRONG_RECEIPT);
  await clickAndLoad(page, submit('/status'));
  expect(await errorSummary.count(), 'wrong receipt error').toBe(1);
  expect(await page.locator('#receipt').getAttribute('aria-describedby'), 'error tied to the field').toBe('receipt-hint receipt-error');
  await visit('status sign-in with wrong receipt');

  await go('/no-such-page', 404);
  await visit('404');
}
