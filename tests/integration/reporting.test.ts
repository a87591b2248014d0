import request from 'supertest';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { VALID_REPORT, csrfFrom, fileReport, signInWithReceipt } from '../helpers/reporter.js';
import { readAsTeam, teamKey } from '../helpers/staff.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const count = async (table: 'reports' | 'evidence' | 'evidence_chunks' | 'messages' | 'sessions') =>
  Number(
    (
      await t.testDb.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('reporter journey', () => {
  it('files a report, shows the receipt once, confirms it, and opens the status page', async () => {
    const agent = request.agent(t.app);
    const token = await csrfFrom(agent, '/en/report');
    let req = agent.post('/en/report').field('_csrf', token);
    for (const [k, v] of Object.entries(VALID_REPORT)) for (const x of [v].flat()) req = req.field(k, x);
    const res = await req.attach('evidence', Buffer.from('notes about the call\n'), 'notes.txt');
    expect(res.status).toBe(303);
    expect(res.headers['location']).toBe('/en/report/receipt');

    const page = await agent.get('/en/report/receipt');
    expect(page.status).toBe(200);
    const receipt = /class="receipt"[^>]*>(\d{4} \d{4} \d{4} \d{4} \d{4})</.exec(page.text)?.[1];
    expect(receipt).toBeDefined();

    const confirmToken = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const wrong = await agent.post('/en/report/receipt').type('form').send({ _csrf: confirmToken, receipt: '1111 2222 3333 4444 5555' });
    expect(wrong.status).toBe(422);
    expect(wrong.text).toContain('does not match');
    expect(wrong.text).toContain(receipt); // still shown, so it can be copied again

    const ok = await agent
      .post('/en/report/receipt')
      .type('form')
      .send({ _csrf: confirmToken, receipt: receipt!.replace(/ /g, '-') });
    expect(ok.status).toBe(303);
    const status = await agent.get('/en/status?confirmed=1');
    expect(status.status).toBe(200);
    expect(status.text).toContain('phoned my mother in Urumqi');
    expect(status.text).toContain('notes.txt');
    // Once confirmed, the receipt is gone from the session: the receipt page no longer shows it.
    const again = await agent.get('/en/report/receipt');
    expect(again.status).toBe(303);
  });

  it('stores the plaintext triage fields and encrypts the rest for the team (P2: nobody signed in)', async () => {
    const { receipt } = await fileReport(t.app);
    expect(receipt).toMatch(/^\d{20}$/);
    const staffSessions = await t.testDb.db.selectFrom('sessions').select('kind').where('kind', '=', 'staff').execute();
    expect(staffSessions).toHaveLength(0);
    const row = await t.testDb.db.selectFrom('reports').selectAll().orderBy('submitted_at', 'desc').executeTakeFirstOrThrow();
    expect(row.state).toBe('submitted');
    expect(row.categories).toEqual(['threats', 'family']);
    expect(row.region).toBe('london');
    expect(row.community).toBe('uyghur');
    expect(row.suspected_state).toBe('china');
    expect(row.urgent).toBe(false);
    expect(String(row.incident_from)).toContain('2026-03');
    const team = await teamKey(t.testDb.db, t.recoveryKey!);
    const opened = await readAsTeam(t.testDb.db, team, row.id);
    expect(opened.narrative).toBe(VALID_REPORT['narrative']);
    expect(opened.details['consent']).toBe('talk_first');
    expect(opened.details['links']).toEqual(['https://example.org/post/1']);
  });

  it('P5: the receipt alone reads the report, the thread and the evidence; a wrong receipt reads nothing', async () => {
    const image = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#884422' } })
      .png()
      .toBuffer();
    const { receipt } = await fileReport(t.app, VALID_REPORT, [{ name: 'photo.png', content: image }]);

    const { agent, res } = await signInWithReceipt(t.app, receipt);
    expect(res.status).toBe(303);
    const token = await csrfFrom(agent, '/en/status');
    const msg = await agent.post('/en/status/messages').type('form').send({ _csrf: token, message: 'They called again today.' });
    expect(msg.status).toBe(303);

    // A brand-new browser with nothing but the receipt.
    const second = await signInWithReceipt(t.app, receipt.replace(/(\d{4})/g, '$1 '));
    expect(second.res.status).toBe(303);
    const page = await second.agent.get('/en/status');
    expect(page.text).toContain('phoned my mother in Urumqi');
    expect(page.text).toContain('They called again today.');
    const id = /\/en\/status\/evidence\/([0-9a-f-]{36})/.exec(page.text)![1]!;
    const file = await second.agent
      .get(`/en/status/evidence/${id}`)
      .buffer(true)
      .parse((r, cb) => {
        const parts: Buffer[] = [];
        r.on('data', (c: Buffer) => parts.push(c));
        r.on('end', () => cb(null, Buffer.concat(parts)));
      });
    expect(file.status).toBe(200);
    expect(file.headers['content-disposition']).toContain('attachment');
    const meta = await sharp(file.body as Buffer).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBe(40);

    const wrong = await signInWithReceipt(t.app, '12345678901234567890');
    expect(wrong.res.status).toBe(422);
    expect(wrong.res.text).not.toContain('Urumqi');
    expect([wrong.res.headers['set-cookie'] ?? []].flat().some((c) => c.startsWith('harbour_r='))).toBe(false);
    const after = await wrong.agent.get('/en/status');
    expect(after.text).not.toContain('Urumqi');
    expect(after.text).toContain('name="receipt"');

    // Someone else's evidence id is not reachable from this session.
    const other = await fileReport(t.app, VALID_REPORT, [{ name: 'x.png', content: image }]);
    const otherPage = await (await signInWithReceipt(t.app, other.receipt)).agent.get('/en/status');
    const otherId = /\/en\/status\/evidence\/([0-9a-f-]{36})/.exec(otherPage.text)![1]!;
    expect((await second.agent.get(`/en/status/evidence/${otherId}`)).status).toBe(404);
  });

  it('adds evidence later from the status page', async () => {
    const { receipt } = await fileReport(t.app);
    const { agent } = await signInWithReceipt(t.app, receipt);
    const token = await csrfFrom(agent, '/en/status');
    const res = await agent
      .post('/en/status/evidence')
      .field('_csrf', token)
      .attach('evidence', Buffer.from('%PDF-1.4\n% a document\n'), 'letter.pdf')
      .attach('evidence', Buffer.from('second note'), 'second.txt');
    expect(res.status).toBe(303);
    const page = await agent.get('/en/status');
    expect(page.text).toContain('letter.pdf');
    expect(page.text).toContain('second.txt');
  });

  it('withdrawal deletes the report with its messages, evidence, chunks and sessions; the receipt stops working', async () => {
    const before = { reports: await count('reports'), evidence: await count('evidence'), chunks: await count('evidence_chunks') };
    const { receipt } = await fileReport(t.app, VALID_REPORT, [{ name: 'n.txt', content: Buffer.from('to be deleted') }]);
    const { agent } = await signInWithReceipt(t.app, receipt);
    let token = await csrfFrom(agent, '/en/status');
    await agent.post('/en/status/messages').type('form').send({ _csrf: token, message: 'hello' });
    token = await csrfFrom(agent, '/en/status/withdraw');
    const unconfirmed = await agent.post('/en/status/withdraw').type('form').send({ _csrf: token });
    expect(unconfirmed.status).toBe(422);
    const res = await agent.post('/en/status/withdraw').type('form').send({ _csrf: token, confirm: 'yes' });
    expect(res.status).toBe(200);
    expect(res.text).toContain('deleted');
    expect(await count('reports')).toBe(before.reports);
    expect(await count('evidence')).toBe(before.evidence);
    expect(await count('evidence_chunks')).toBe(before.chunks);
    const rows = await t.testDb.db.selectFrom('sessions').select('report_id').execute();
    expect(rows.every((r) => r.report_id !== null)).toBe(true);
    const again = await signInWithReceipt(t.app, receipt);
    expect(again.res.status).toBe(422);
  });

  it('"leave" ends the reporter session', async () => {
    const { receipt } = await fileReport(t.app);
    const { agent } = await signInWithReceipt(t.app, receipt);
    const token = await csrfFrom(agent, '/en/status');
    const res = await agent.post('/en/status/leave').type('form').send({ _csrf: token });
    expect(res.status).toBe(303);
    const page = await agent.get('/en/status');
    expect(page.text).not.toContain('Urumqi');
    expect(page.text).toContain('name="receipt"');
  });

  it('the "in danger now" path marks the report urgent and shows emergency advice', async () => {
    const { agent } = await fileReport(t.app, { ...VALID_REPORT, danger_now: 'yes' });
    const page = await agent.get('/en/report/receipt');
    expect(page.text).toContain('call 999');
    expect(page.text).toContain('marked urgent');
    const row = await t.testDb.db.selectFrom('reports').select('urgent').orderBy('submitted_at', 'desc').executeTakeFirstOrThrow();
    expect(row.urgent).toBe(true);
    const emergency = await request(t.app).get('/en/emergency');
    expect(emergency.status).toBe(200);
    expect(emergency.text).toContain('999');
  });
});

describe('pages and routing', () => {
  it('redirects / by Accept-Language and serves every language with lang and dir', async () => {
    const res = await request(t.app).get('/').set('Accept-Language', 'ug-CN,ug;q=0.9,en;q=0.5');
    expect(res.status).toBe(302);
    expect(res.headers['location']).toBe('/ug/');
    for (const [lang, dir] of [
      ['en', 'ltr'],
      ['zh-hans', 'ltr'],
      ['zh-hant', 'ltr'],
      ['ug', 'rtl'],
      ['bo', 'ltr'],
    ]) {
      for (const path of ['/', '/report', '/status', '/emergency']) {
        const page = await request(t.app).get(`/${lang}${path}`);
        expect(page.status, `${lang}${path}`).toBe(200);
        expect(page.text).toContain(`<html lang="${lang}" dir="${dir}">`);
        expect(page.text).toContain('data-quick-exit');
      }
    }
  });

  it('answers health and readiness', async () => {
    expect((await request(t.app).get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await request(t.app).get('/readyz')).status).toBe(200);
  });

  it('an unknown language or page is a 404 page in the visitor language', async () => {
    const res = await request(t.app).get('/fr/report').set('Accept-Language', 'en');
    expect(res.status).toBe(404);
    expect(res.text).toContain('Page not found');
  });
});

describe('before set-up', () => {
  it('reporter pages say the service is not ready, without crashing', async () => {
    const fresh = await createTestApp({ setup: false });
    try {
      const landing = await request(fresh.app).get('/en/');
      expect(landing.status).toBe(503);
      expect(landing.text).toContain('not ready yet');
      const form = await request(fresh.app).get('/en/report');
      expect(form.status).toBe(503);
      expect(form.text).toContain('not ready yet');
      const post = await request(fresh.app).post('/en/report').field('narrative', 'x');
      expect(post.status).toBe(503);
    } finally {
      await fresh.close();
    }
  });
});
