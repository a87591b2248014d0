import { randomBytes } from 'node:crypto';
import request from 'supertest';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../server/db/index.js';
import { decryptEvidence, readEvidenceMeta } from '../../server/reporting/evidence.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { contains, dumpAllTables, readTree } from '../helpers/dump.js';
import { VALID_REPORT, csrfFrom, postReport } from '../helpers/reporter.js';
import { readAsTeam, teamKey } from '../helpers/staff.js';

/**
 * P1 (seized data reveals no content) and P10 (no reporter trace): a report
 * whose every free-text field, file name, file content and image EXIF holds
 * a unique canary is filed from a known IP and user agent; then every table,
 * every file of the embedded database and every log line are searched.
 */
const tag = randomBytes(6).toString('hex');
const C = {
  narrative: `NarrativeCanary${tag}`,
  stateReason: `ReasonCanary${tag}`,
  contact: `contactcanary${tag}@example.org`,
  link: `https://example.org/LinkCanary${tag}`,
  fileName: `FileNameCanary${tag}.txt`,
  fileContent: `FileContentCanary${tag}`,
  imageName: `ImageNameCanary${tag}.jpg`,
  exif: `ExifCanary${tag}`,
  message: `MessageCanary${tag}`,
  laterFile: `LaterFileCanary${tag}.txt`,
  userAgent: `UserAgentCanary${tag}`,
  ip: `203.0.113.${(parseInt(tag.slice(0, 2), 16) % 200) + 20}`,
};

let t: TestApp;
let receipt = '';
let reportId = '';

beforeAll(async () => {
  t = await createTestApp({ onDisk: true, env: { TRUST_PROXY: '1', RATE_LIMITS: 'true' } });
  const jpeg = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#2266aa' } })
    .jpeg()
    .withExif({ IFD0: { ImageDescription: C.exif, Artist: C.exif, Copyright: C.exif } })
    .toBuffer();
  // Control: the canary really is inside the uploaded image.
  expect(jpeg.includes(Buffer.from(C.exif))).toBe(true);

  const agent = request.agent(t.app);
  const as = (r: request.Test) => r.set('User-Agent', C.userAgent).set('X-Forwarded-For', C.ip);
  const form = await as(agent.get('/en/report'));
  const token = /name="_csrf" value="([^"]+)"/.exec(form.text)![1]!;
  const fields = {
    ...VALID_REPORT,
    narrative: `My neighbour was approached. ${C.narrative}`,
    state_reason: C.stateReason,
    links: C.link,
    follow_up: 'contact',
    contact_method: 'email',
    contact_value: C.contact,
    contact_language: 'ug',
  };
  const res = await as(
    postReport(agent, token, fields, [
      { name: C.fileName, content: Buffer.from(`${C.fileContent}\n`) },
      { name: C.imageName, content: jpeg },
    ]),
  );
  expect(res.status).toBe(303);
  const page = await as(agent.get('/en/report/receipt'));
  receipt = /class="receipt"[^>]*>([\d ]+)</.exec(page.text)![1]!.replace(/ /g, '');
  const confirm = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
  await as(agent.post('/en/report/receipt').type('form').send({ _csrf: confirm, receipt }));

  const statusToken = await csrfFrom(agent, '/en/status');
  expect((await as(agent.post('/en/status/messages').type('form').send({ _csrf: statusToken, message: C.message }))).status).toBe(303);
  const later = await as(agent.post('/en/status/evidence').field('_csrf', statusToken).attach('evidence', Buffer.from('more\n'), C.laterFile));
  expect(later.status).toBe(303);
  // A receipt sign-in too, so the receipt path has been through the logs and rate limits.
  const signIn = request.agent(t.app);
  const signToken = /name="_csrf" value="([^"]+)"/.exec((await as(signIn.get('/en/status'))).text)![1]!;
  expect((await as(signIn.post('/en/status').type('form').send({ _csrf: signToken, receipt }))).status).toBe(303);

  reportId = (await t.testDb.db.selectFrom('reports').select('id').executeTakeFirstOrThrow()).id;
});

afterAll(async () => {
  if (reopened) await reopened.destroy();
  await t.close();
});
/** The database as opened again after the positive control flushed it to its files. */
let reopened: Awaited<ReturnType<typeof createDb>> | null = null;

const secrets = () => ({ ...C, receipt, receiptGrouped: receipt.replace(/(\d{4})(?=\d)/g, '$1 ') });

describe('P1 and P10 canaries', () => {
  it('the team can still read everything (the canaries were really stored)', async () => {
    const team = await teamKey(t.testDb.db, t.recoveryKey!);
    const report = await readAsTeam(t.testDb.db, team, reportId);
    expect(report.narrative).toContain(C.narrative);
    expect(report.contact?.['value']).toBe(C.contact);
    expect(report.details['links']).toEqual([C.link]);
    const names: string[] = [];
    for (const e of await t.testDb.db.selectFrom('evidence').select(['id', 'meta']).where('report_id', '=', reportId).execute()) {
      names.push(readEvidenceMeta(report.dataKey, e.id, e.meta!).name);
    }
    expect(names.sort()).toEqual([C.fileName, C.imageName, C.laterFile].sort());
  });

  it('no canary, receipt, IP or user agent is in any table', async () => {
    const dump = await dumpAllTables(t.testDb.db);
    expect(dump.length).toBeGreaterThan(1000);
    for (const [name, value] of Object.entries(secrets())) {
      expect(contains(dump, value), `${name} found in the database dump`).toBe(false);
    }
  });

  it('no canary, receipt, IP or user agent is in any log line', () => {
    const logs = t.logs.join('');
    expect(t.logs.filter((l) => l.includes('"request"')).length).toBeGreaterThan(5);
    for (const [name, value] of Object.entries(secrets())) {
      expect(logs.includes(value), `${name} found in the logs`).toBe(false);
    }
    expect(logs).not.toMatch(/user-agent|x-forwarded-for|"ip"/i);
  });

  it('P10: the stored image has no EXIF after decryption', async () => {
    const team = await teamKey(t.testDb.db, t.recoveryKey!);
    const { dataKey } = await readAsTeam(t.testDb.db, team, reportId);
    const rows = await t.testDb.db.selectFrom('evidence').selectAll().where('report_id', '=', reportId).execute();
    const image = rows.find((r) => readEvidenceMeta(dataKey, r.id, r.meta!).name === C.imageName)!;
    const parts: Uint8Array[] = [];
    for await (const chunk of decryptEvidence(t.testDb.db, dataKey, image)) parts.push(chunk);
    const bytes = Buffer.concat(parts);
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('jpeg');
    expect(meta.width).toBe(32);
    expect(meta.exif).toBeUndefined();
    expect(bytes.includes(Buffer.from(C.exif))).toBe(false);
  });

  it('positive control: the same search finds a plaintext canary in the dump and the data files', async () => {
    const control = `PlaintextControl${tag}`;
    await t.testDb.db.updateTable('installation').set({ org_name: control }).execute();
    const dump = await dumpAllTables(t.testDb.db);
    expect(contains(dump, control)).toBe(true);
    if (t.testDb.dataDir) {
      await t.testDb.db.destroy(); // flush PGlite to its files
      const files = readTree(t.testDb.dataDir);
      expect(contains(files, control), 'control missing from the data files').toBe(true);
      for (const [name, value] of Object.entries(secrets())) {
        expect(contains(files, value), `${name} found in the PGlite data directory`).toBe(false);
      }
      // Open again: the other tests read the database too, in whatever order they run.
      t.testDb.db = reopened = await createDb({ kind: 'pglite', dataDir: t.testDb.dataDir });
    }
  });
});
