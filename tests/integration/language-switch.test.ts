import { readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localesDir } from '../../server/paths.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { VALID_REPORT, csrfFrom, fileReport, postReport, signInWithReceipt } from '../helpers/reporter.js';

/** The language list keeps the reporter where they are; on the report form it keeps what they typed. */
let t: TestApp;
const ug = JSON.parse(readFileSync(path.join(localesDir, 'ug.json'), 'utf8')) as {
  form: { title: string; files_dropped_language: string };
  status: { title: string };
};
const count = async (table: 'reports' | 'evidence' | 'messages') =>
  Number(
    (
      await t.testDb.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('language switcher', () => {
  it('links every other page to the same page in each language', async () => {
    const page = await request(t.app).get('/zh-hant/emergency');
    for (const code of ['en', 'zh-hans', 'ug', 'bo']) expect(page.text).toContain(`href="/${code}/emergency"`);
    expect(page.text).toMatch(/href="\/zh-hant\/emergency"[^>]*aria-current="true"/);
  });

  it('on the report form, offers each other language as a button that submits the form there', async () => {
    const page = await request(t.app).get('/en/report');
    for (const code of ['zh-hans', 'zh-hant', 'ug', 'bo']) {
      expect(page.text).toMatch(
        new RegExp(`<button type="submit" form="report-form" formaction="/${code}/report/language" formnovalidate[^>]*lang="${code}"`),
      );
    }
    expect(page.text).toContain('id="report-form"');
    expect(page.text).toMatch(/href="\/en\/report"[^>]*aria-current="true"/);
  });

  it('brings the half-filled form back in the new language with every answer kept, storing nothing', async () => {
    const agent = request.agent(t.app);
    const token = await csrfFrom(agent, '/en/report');
    const narrative = 'Two men waited outside my flat in Croydon on Tuesday. ئۇلار مېنى كۆزەتتى';
    const before = { reports: await count('reports'), evidence: await count('evidence') };
    const res = await agent
      .post('/ug/report/language')
      .field('_csrf', token)
      .field('categories', 'surveillance')
      .field('categories', 'family')
      .field('narrative', narrative)
      .field('region', 'london')
      .attach('evidence', Buffer.from('a photo that will not be kept'), 'photo.txt');
    expect(res.status).toBe(200);
    expect(res.text).toContain('<html lang="ug" dir="rtl">');
    expect(res.text).toContain(ug.form.title);
    expect(res.text).toContain(`>${narrative}</textarea>`);
    expect(res.text).toMatch(/value="surveillance"[^>]*checked/);
    expect(res.text).toMatch(/value="family"[^>]*checked/);
    expect(res.text).toMatch(/value="london"[^>]*selected/);
    expect(res.text).toContain(ug.form.files_dropped_language); // the file must be chosen again, and the page says so
    expect(res.text).toMatch(/href="\/ug\/report"[^>]*aria-current="true"/); // not the POST-only address
    expect(res.text).not.toContain('class="error-summary"'); // not a submission: no errors yet
    expect(res.text).toContain('action="/ug/report"'); // sending it now files it in Uyghur
    expect(await count('reports')).toBe(before.reports);
    expect(await count('evidence')).toBe(before.evidence);
  });

  it('refuses a switch without the CSRF token, or to an unknown language', async () => {
    const agent = request.agent(t.app);
    await csrfFrom(agent, '/en/report');
    expect((await agent.post('/bo/report/language').field('narrative', 'x')).status).toBe(403);
    const token = await csrfFrom(agent, '/en/report');
    expect((await agent.post('/fr/report/language').field('_csrf', token).field('narrative', 'x')).status).toBe(404);
  });

  it('on the status page, offers each other language as a button that submits the message box there', async () => {
    const { receipt } = await fileReport(t.app);
    const { agent } = await signInWithReceipt(t.app, receipt);
    const page = await agent.get('/en/status');
    expect(page.text).toContain('id="message-form"');
    for (const code of ['zh-hans', 'zh-hant', 'ug', 'bo']) {
      expect(page.text).toMatch(
        new RegExp(`<button type="submit" form="message-form" formaction="/${code}/status/language" formnovalidate[^>]*lang="${code}"`),
      );
    }
    expect(page.text).toMatch(/href="\/en\/status"[^>]*aria-current="true"/);
  });

  it('brings the status page back in the new language with the half-written message kept, storing nothing', async () => {
    const { receipt } = await fileReport(t.app);
    const { agent } = await signInWithReceipt(t.app, receipt);
    const token = await csrfFrom(agent, '/en/status');
    const messages = await count('messages');
    const draft = 'They called my brother again last night. <b>ئۇلار</b> & more';
    const res = await agent.post('/ug/status/language').type('form').send({ _csrf: token, message: draft });
    expect(res.status).toBe(200);
    expect(res.text).toContain('<html lang="ug" dir="rtl">');
    expect(res.text).toContain(ug.status.title);
    expect(res.text).toContain('>They called my brother again last night. &lt;b&gt;ئۇلار&lt;/b&gt; &amp; more</textarea>');
    expect(res.text).toContain('action="/ug/status/messages"'); // sending it now sends it
    expect(res.text).toMatch(/href="\/ug\/status"[^>]*aria-current="true"/); // not the POST-only address
    expect(res.text).not.toContain('class="error-summary"');
    expect(await count('messages')).toBe(messages);
  });

  it('refuses a status switch without the CSRF token or without a session', async () => {
    const { receipt } = await fileReport(t.app);
    const { agent } = await signInWithReceipt(t.app, receipt);
    await csrfFrom(agent, '/en/status');
    expect((await agent.post('/bo/status/language').type('form').send({ message: 'x' })).status).toBe(403);
    const stranger = request.agent(t.app);
    const token = await csrfFrom(stranger, '/en/status');
    expect((await stranger.post('/bo/status/language').type('form').send({ _csrf: token, message: 'x' })).status).toBe(401);

    // Just filed, the receipt not yet typed back: not signed in to the status page, whatever is posted.
    const filer = request.agent(t.app);
    const filed = await postReport(filer, await csrfFrom(filer, '/en/report'), VALID_REPORT);
    expect(filed.status).toBe(303);
    const token2 = await csrfFrom(filer, '/en/report/receipt');
    for (const path of ['/bo/status/language', '/en/status/messages']) {
      expect((await filer.post(path).type('form').send({ _csrf: token2, message: 'x' })).status, path).toBe(401);
    }
  });

  it('on a page drawn in answer to a form, links each language to a page that exists', async () => {
    const { receipt } = await fileReport(t.app);
    const { agent } = await signInWithReceipt(t.app, receipt);
    const token = await csrfFrom(agent, '/en/status');
    const refused = await agent.post('/en/status/messages').type('form').send({ _csrf: token, message: '' });
    expect(refused.status).toBe(422);
    expect(refused.text).toMatch(/href="\/en\/status"[^>]*aria-current="true"/);
    expect(refused.text).toContain('formaction="/ug/status/language"');
    expect(refused.text).not.toMatch(/href="\/[a-z-]+\/status\/messages"/); // no link to the POST-only address
    const withdrawn = await agent.post('/en/status/withdraw').type('form').send({ _csrf: token, confirm: 'yes' });
    expect(withdrawn.status).toBe(200);
    expect(withdrawn.text).toContain('href="/bo/"');
    expect(withdrawn.text).not.toContain('href="/bo/status/withdraw"');
    for (const href of ['/ug/status', '/bo/']) expect((await request(t.app).get(href)).status, href).toBe(200);
  });
});
