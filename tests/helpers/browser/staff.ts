import type { Page } from 'playwright-core';
import type { TestApp } from '../app.js';
import { readAsTeam, staffCsrf, type signInStaff } from '../staff.js';
import { clickAndLoad } from './navigation.js';

// Staff pages in the browser, and a caseworker's part in a reporter journey.

/** The password step of the staff sign-in, through the real form; lands on /staff/two-factor when right. */
export async function staffPasswordStep(page: Page, baseUrl: string, who: { email: string; password: string }): Promise<void> {
  await page.goto(`${baseUrl}/staff/sign-in`);
  await page.locator('#email').fill(who.email);
  await page.locator('#password').fill(who.password);
  await clickAndLoad(page, page.locator('form[action="/staff/sign-in"] button[type="submit"]'));
}

type StaffAgent = Awaited<ReturnType<typeof signInStaff>>;

/**
 * A caseworker's reply to the report whose narrative contains `marker`,
 * posted through the case page's form by a signed-in staff agent
 * (signInStaff). The report is found as the team finds it: by opening it.
 */
export async function replyAsCaseworker(t: TestApp, staff: StaffAgent, marker: string, message: string): Promise<string> {
  const rows = await t.testDb.db.selectFrom('reports').select('id').where('state', '=', 'submitted').execute();
  let id: string | null = null;
  for (const r of rows) {
    if ((await readAsTeam(t.testDb.db, t.team!.keyPair, r.id)).narrative.includes(marker)) id = r.id;
  }
  if (!id) throw new Error(`no submitted report mentions ${marker}`);
  const token = await staffCsrf(staff, `/staff/cases/${id}`);
  const res = await staff.post(`/staff/cases/${id}/messages`).type('form').send({ _csrf: token, message });
  if (res.status !== 303) throw new Error(`caseworker reply failed: ${res.status} ${res.text.slice(0, 300)}`);
  return id;
}
