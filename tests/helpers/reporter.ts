import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';

export type Agent = ReturnType<typeof request.agent>;

export const VALID_REPORT: Record<string, string | string[]> = {
  categories: ['threats', 'family'],
  narrative: 'A man who said he was from the association phoned my mother in Urumqi.',
  from_month: '3',
  from_year: '2026',
  ongoing: 'yes',
  region: 'london',
  targeted: 'me',
  community: 'uyghur',
  suspected_state: 'china',
  state_reason: 'He knew my asylum case number.',
  perpetrator: 'proxy',
  channels: ['phone', 'family'],
  links: 'https://example.org/post/1',
  consent: 'talk_first',
  follow_up: 'portal',
};

/** The CSRF token from the first hidden _csrf input on a page (and the cookie lands in the agent). */
export async function csrfFrom(agent: Agent, path: string): Promise<string> {
  return (await formFrom(agent, path)).csrf;
}

/** The CSRF token and, on the report form, the form's one-submission key. */
export async function formFrom(agent: Agent, path: string): Promise<{ csrf: string; formKey: string | null }> {
  const res = await agent.get(path);
  const m = /name="_csrf" value="([^"]+)"/.exec(res.text);
  if (!m) throw new Error(`no CSRF token on ${path} (status ${res.status})`);
  return { csrf: m[1]!, formKey: /name="form_key" value="([^"]+)"/.exec(res.text)?.[1] ?? null };
}

/** A fresh form key, as the report form carries one (each form files one report). */
export const newFormKeyForTest = () => randomBytes(32).toString('base64url');

export type Upload = { field?: string; name: string; content: Buffer };

/** Posts the report form as a browser would: _csrf first, fields, then files. */
export function postReport(agent: Agent, token: string | null, fields: Record<string, string | string[]>, files: Upload[] = [], lang = 'en') {
  let req = agent.post(`/${lang}/report`);
  if (token !== null) req = req.field('_csrf', token);
  // Like a browser, the form's own key comes with it (a new form each call, unless the test gives one).
  if (!('form_key' in fields)) req = req.field('form_key', newFormKeyForTest());
  for (const [k, v] of Object.entries(fields)) {
    for (const value of Array.isArray(v) ? v : [v]) req = req.field(k, value);
  }
  for (const f of files) req = req.attach(f.field ?? 'evidence', f.content, f.name);
  return req;
}

/** Files a report and returns its receipt (20 digits, no spaces). */
export async function fileReport(
  app: Express,
  fields: Record<string, string | string[]> = VALID_REPORT,
  files: Upload[] = [],
): Promise<{ agent: Agent; receipt: string }> {
  const agent = request.agent(app);
  const token = await csrfFrom(agent, '/en/report');
  const res = await postReport(agent, token, fields, files);
  if (res.status !== 303) throw new Error(`submission failed: ${res.status}\n${res.text.slice(0, 2000)}`);
  const page = await agent.get('/en/report/receipt');
  const m = /class="receipt"[^>]*>([\d ]+)</.exec(page.text);
  if (!m) throw new Error('no receipt on the confirmation page');
  return { agent, receipt: m[1]!.replace(/ /g, '') };
}

/** Signs in with a receipt on a fresh agent. */
export async function signInWithReceipt(app: Express, receipt: string, lang = 'en') {
  const agent = request.agent(app);
  const token = await csrfFrom(agent, `/${lang}/status`);
  const res = await agent.post(`/${lang}/status`).type('form').send({ _csrf: token, receipt });
  return { agent, res };
}
