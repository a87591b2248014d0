import request from 'supertest';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { VALID_REPORT, csrfFrom, fileReport, postReport, signInWithReceipt } from '../helpers/reporter.js';

/** Bad input: each case gets a clear 4xx page in the reporter's language and writes nothing. */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { MAX_FILE_MB: '1', MAX_REPORT_MB: '2', MAX_FILES_PER_UPLOAD: '3' } });
});
afterAll(async () => {
  await t.close();
});

type Counts = Record<'reports' | 'evidence' | 'chunks' | 'messages', number>;
async function counts(): Promise<Counts> {
  const db = t.testDb.db;
  const n = async (table: 'reports' | 'evidence' | 'evidence_chunks' | 'messages') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return { reports: await n('reports'), evidence: await n('evidence'), chunks: await n('evidence_chunks'), messages: await n('messages') };
}
let before: Counts;
beforeEach(async () => {
  before = await counts();
});
const nothingWritten = async () => expect(await counts()).toEqual(before);

async function submit(fields: Record<string, string | string[]>, files: { name: string; content: Buffer }[] = []) {
  const agent = request.agent(t.app);
  const token = await csrfFrom(agent, '/en/report');
  return postReport(agent, token, fields, files);
}

describe('report form', () => {
  it('missing answers: 422, one message per field, the input kept', async () => {
    const res = await submit({ narrative: 'Only this <b>text</b>', region: 'london' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('There is a problem');
    expect(res.text).toContain('href="#field-categories"');
    expect(res.text).toContain('Choose at least one.');
    expect(res.text).toContain('Answer this question.');
    expect(res.text).toContain('Only this &lt;b&gt;text&lt;/b&gt;'); // kept, and escaped
    expect(res.text).toMatch(/<option value="london" selected>/);
    await nothingWritten();
  });

  it('an oversized narrative: 422 with the limit named', async () => {
    const res = await submit({ ...VALID_REPORT, narrative: 'x'.repeat(20_001) });
    expect(res.status).toBe(422);
    expect(res.text).toContain('under 20000 characters');
    await nothingWritten();
  });

  it('a field beyond the parser limit: 413, nothing written', async () => {
    const res = await submit({ ...VALID_REPORT, state_reason: 'y'.repeat(70 * 1024) });
    expect(res.status).toBe(413);
    expect(res.text).toContain('too long');
    await nothingWritten();
  });

  it('wrong types and unknown codes: 422', async () => {
    const res = await submit({
      ...VALID_REPORT,
      categories: ['threats', 'aliens'],
      region: 'atlantis',
      from_month: '13',
      from_year: 'abc',
      consent: 'maybe',
    });
    expect(res.status).toBe(422);
    expect(res.text).toContain('Choose one of the options shown.');
    expect(res.text).toContain('Choose a month and a year.');
    await nothingWritten();
  });

  it('invalid UTF-8 in a field: 422 asking to type it again', async () => {
    const agent = request.agent(t.app);
    const token = await csrfFrom(agent, '/en/report');
    const boundary = '----harbourtest';
    const part = (name: string, value: Buffer | string) =>
      Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`),
        Buffer.from(value),
        Buffer.from('\r\n'),
      ]);
    const fields = Object.entries(VALID_REPORT).flatMap(([k, v]) =>
      [v].flat().map((x) => part(k, k === 'narrative' ? Buffer.from([0x48, 0x69, 0xff, 0xfe, 0x21]) : x)),
    );
    const body = Buffer.concat([part('_csrf', token), ...fields, Buffer.from(`--${boundary}--\r\n`)]);
    const res = await agent.post('/en/report').set('Content-Type', `multipart/form-data; boundary=${boundary}`).send(body);
    expect(res.status).toBe(422);
    expect(res.text).toContain('characters we could not read');
    await nothingWritten();
  });

  it('a missing or forged CSRF token: 403, the text kept, nothing written', async () => {
    const agent = request.agent(t.app);
    await agent.get('/en/report');
    const none = await postReport(agent, null, VALID_REPORT);
    expect(none.status).toBe(403);
    expect(none.text).toContain('This page has expired');
    expect(none.text).toContain('phoned my mother');
    const forged = await postReport(agent, 'abc.def', VALID_REPORT, [{ name: 'a.txt', content: Buffer.from('hi') }]);
    expect(forged.status).toBe(403);
    await nothingWritten();
    // Other forms too.
    const status = await request(t.app).post('/en/status').type('form').send({ receipt: '12345678901234567890' });
    expect(status.status).toBe(403);
  });

  it('a file over the per-file limit: 413 naming the limit; the report and every chunk rolled back', async () => {
    const big = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(1024 * 1024 + 10, 0x41)]);
    const res = await submit(VALID_REPORT, [
      { name: 'ok.txt', content: Buffer.from('fine') },
      { name: 'big.pdf', content: big },
    ]);
    expect(res.status).toBe(413);
    expect(res.text).toContain('A file is too large');
    expect(res.text).toContain('at most 1 MB');
    expect(res.text).toContain('phoned my mother'); // the text survives
    expect(res.text).toContain('choose your files again');
    await nothingWritten();
  });

  it('files over the per-report limit: 413', async () => {
    const part = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(900 * 1024, 0x42)]);
    const res = await submit(VALID_REPORT, [
      { name: 'a.pdf', content: part },
      { name: 'b.pdf', content: part },
      { name: 'c.pdf', content: part },
    ]);
    expect(res.status).toBe(413);
    await nothingWritten();
  });

  it('too many files: 413', async () => {
    const f = { name: 'n.txt', content: Buffer.from('note') };
    const res = await submit(VALID_REPORT, [f, f, f, f]);
    expect(res.status).toBe(413);
    expect(res.text).toContain('Too many files');
    await nothingWritten();
  });

  it('a file whose content is not an accepted type, whatever its name: 415', async () => {
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(64, 0)]);
    const res = await submit(VALID_REPORT, [{ name: 'holiday.jpg', content: elf }]);
    expect(res.status).toBe(415);
    expect(res.text).toContain('not its name');
    await nothingWritten();
    const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(100, 1)]);
    expect((await submit(VALID_REPORT, [{ name: 'doc.pdf', content: zip }])).status).toBe(415);
    await nothingWritten();
  });

  it('an empty file: 422', async () => {
    const res = await submit(VALID_REPORT, [{ name: 'empty.txt', content: Buffer.alloc(0) }]);
    expect(res.status).toBe(422);
    await nothingWritten();
  });

  it('a decompression bomb image is refused before decoding: 413', async () => {
    // 10000 x 10000 pixels (100 MP) of one colour compresses to a small PNG.
    const bomb = await sharp({ create: { width: 10000, height: 10000, channels: 3, background: '#000' }, limitInputPixels: false })
      .png({ compressionLevel: 9 })
      .toBuffer();
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const res = await submit(VALID_REPORT, [{ name: 'bomb.png', content: bomb }]);
    expect(res.status).toBe(413);
    expect(res.text).toContain('too many pixels');
    await nothingWritten();
  });

  it('a damaged image: 422', async () => {
    const png = await sharp({ create: { width: 50, height: 50, channels: 3, background: '#fff' } })
      .png()
      .toBuffer();
    const broken = Buffer.concat([png.subarray(0, 60), Buffer.alloc(200, 0x13)]);
    const res = await submit(VALID_REPORT, [{ name: 'broken.png', content: broken }]);
    expect(res.status).toBe(422);
    await nothingWritten();
  });

  it('a body that is not multipart: 400', async () => {
    const res = await request(t.app).post('/en/report').type('form').send({ narrative: 'x' });
    expect(res.status).toBe(400);
    await nothingWritten();
  });

  it('errors come in the page language (lang attribute of the error page)', async () => {
    const agent = request.agent(t.app);
    await agent.get('/ug/report');
    const res = await postReport(agent, null, VALID_REPORT, [], 'ug');
    expect(res.status).toBe(403);
    expect(res.text).toContain('<html lang="ug" dir="rtl">');
  });
});

describe('status pages', () => {
  it('a malformed receipt: 422; a message too long: 422 with the draft kept', async () => {
    const bad = await signInWithReceipt(t.app, '1234');
    expect(bad.res.status).toBe(422);
    expect(bad.res.text).toContain('A receipt has 20 digits.');

    const { receipt } = await fileReport(t.app);
    const { agent } = await signInWithReceipt(t.app, receipt);
    const token = await csrfFrom(agent, '/en/status');
    before = await counts();
    const long = await agent
      .post('/en/status/messages')
      .type('form')
      .send({ _csrf: token, message: 'z'.repeat(10_001) });
    expect(long.status).toBe(422);
    expect(long.text).toContain('zzzzzzzz');
    const empty = await agent.post('/en/status/messages').type('form').send({ _csrf: token, message: '   ' });
    expect(empty.status).toBe(422);
    await nothingWritten();
  });

  it('without a session: 401, never another report', async () => {
    const res = await request(t.app).post('/en/status/messages').type('form').send({ message: 'x' });
    expect([401, 403]).toContain(res.status);
    const ev = await request(t.app).get('/en/status/evidence/00000000-0000-0000-0000-000000000000');
    expect(ev.status).toBe(401);
    expect(ev.text).toContain('signed out');
  });

  it('an unknown static file is a 404 page, not a 500', async () => {
    const res = await request(t.app).get('/static/css/nope.css');
    expect(res.status).toBe(404);
  });
});

describe('rate limits', () => {
  it('too many receipt attempts and too many submissions: 429 with Retry-After, the form kept', async () => {
    const limited = await createTestApp({
      env: { RATE_LIMITS: 'true', RECEIPT_ATTEMPTS_PER_HOUR_PER_IP: '3', SUBMISSIONS_PER_HOUR_PER_IP: '2' },
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await signInWithReceipt(limited.app, '11112222333344445555')).res.status);
      expect(statuses).toEqual([422, 422, 422, 429]);
      const last = await signInWithReceipt(limited.app, '11112222333344445555');
      expect(last.res.status).toBe(429);
      expect(Number(last.res.headers['retry-after'])).toBeGreaterThan(0);
      expect(last.res.text).toContain('too many attempts');

      await fileReport(limited.app);
      await fileReport(limited.app);
      const agent = request.agent(limited.app);
      const token = await csrfFrom(agent, '/en/report');
      const third = await postReport(agent, token, VALID_REPORT);
      expect(third.status).toBe(429);
      expect(third.text).toContain('phoned my mother');
      const rows = await limited.testDb.db.selectFrom('reports').select('id').execute();
      expect(rows).toHaveLength(2);
    } finally {
      await limited.close();
    }
  });
});
