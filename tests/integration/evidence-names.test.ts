import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unsealWith } from '../../server/crypto/index.js';
import { readEvidenceMeta } from '../../server/reporting/evidence.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { VALID_REPORT, fileReport, signInWithReceipt, type Agent } from '../helpers/reporter.js';
import { addStaff, signInStaff, staffCsrf } from '../helpers/staff.js';

// Convention 18: filenames of evidence are ours, derived from the detected
// type; the reporter's name for a file is shown as text only. Text files
// named to run when double-clicked (a batch file, an HTML application, a
// script, an SVG with a script in it) are accepted as text/plain: they must
// reach caseworkers and police only as evidence-N.txt.

const FILES = [
  { name: 'statement.bat', content: Buffer.from('@echo off\r\ndel /q %USERPROFILE%\\Documents\\*\r\n') },
  { name: 'invoice.hta', content: Buffer.from('<html><script>new ActiveXObject("WScript.Shell").Run("calc")</script></html>\n') },
  { name: 'readme.js', content: Buffer.from('WScript.Echo("hello");\n') },
  { name: 'photo.svg', content: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>\n') },
  { name: 'notes.txt', content: Buffer.from('What happened at the station, in my words.\n') },
];
const MISNAMED = FILES.slice(0, 4).map((f) => f.name);

let t: TestApp;
let staff: Agent;
let receipt: string;
let caseId: string;
let referralId: string;
/** Each uploaded name → our name for it and its evidence id, from the stored order. */
const ours = new Map<string, { file: string; id: string }>();

const binary = (r: request.Test) =>
  r.buffer(true).parse((res, cb) => {
    const parts: Buffer[] = [];
    res.on('data', (c: Buffer) => parts.push(c));
    res.on('end', () => cb(null, Buffer.concat(parts)));
  });

beforeAll(async () => {
  t = await createTestApp();
  ({ receipt } = await fileReport(t.app, VALID_REPORT, FILES));
  const report = await t.testDb.db.selectFrom('reports').selectAll().where('state', '=', 'submitted').executeTakeFirstOrThrow();
  caseId = report.id;
  const dataKey = unsealWith(report.data_key_sealed, t.team!.keyPair);
  const rows = await t.testDb.db
    .selectFrom('evidence')
    .select(['id', 'meta'])
    .where('report_id', '=', caseId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  rows.forEach((r, i) => ours.set(readEvidenceMeta(dataKey, r.id, r.meta!).name, { file: `evidence-${i + 1}.txt`, id: r.id }));
  staff = await signInStaff(t, await addStaff(t, { roles: ['caseworker'] }));
  const token = await staffCsrf(staff, `/staff/cases/${caseId}`);
  const referral = await staff
    .post(`/staff/cases/${caseId}/referrals`)
    .type('form')
    .send({ _csrf: token, destination: 'local_police', referred_on: '2026-01-05', override_reason: 'Threat to life.' });
  expect(referral.status).toBe(303);
  referralId = (await t.testDb.db.selectFrom('referrals').select('id').executeTakeFirstOrThrow()).id;
});
afterAll(async () => {
  await t?.close();
});

describe('evidence file names', () => {
  it('every file was stored as text, whatever its name said', () => {
    expect([...ours.keys()].sort()).toEqual(FILES.map((f) => f.name).sort());
  });

  it('the caseworker downloads each under our name, as an attachment, never inline', async () => {
    for (const f of FILES) {
      const { file, id } = ours.get(f.name)!;
      for (const query of ['', '?inline=1']) {
        const res = await binary(staff.get(`/staff/cases/${caseId}/evidence/${id}${query}`));
        expect(res.status).toBe(200);
        expect(res.headers['content-disposition'], f.name).toBe(`attachment; filename="${file}"`);
        expect(res.headers['content-type']).toBe('application/octet-stream');
        expect(Buffer.compare(res.body as Buffer, f.content)).toBe(0);
      }
    }
  });

  it('the case page shows our name, the reporter’s as text, and a warning only where they disagree', async () => {
    const page = await staff.get(`/staff/cases/${caseId}`);
    for (const f of FILES) {
      const { file, id } = ours.get(f.name)!;
      expect(page.text).toContain(`<span class="file-name">${file}</span>`);
      expect(page.text).toContain(`<span dir="auto" class="file-name">${f.name}</span>`);
      expect(page.text).toContain(`<a href="/staff/cases/${caseId}/evidence/${id}" download="${file}">`);
      const warning = `Warning: that name does not fit what the file is (text/plain). It is saved only as ${file}; do not rename it back.`;
      expect(page.text.includes(warning), f.name).toBe(MISNAMED.includes(f.name));
    }
    expect(page.text).not.toContain('<script>');
    expect(page.text).not.toMatch(/<img[^>]*photo\.svg/);
  });

  it('the bundle names its entries ours and lists the reporter’s names in referral.txt, with warnings', async () => {
    const res = await binary(staff.get(`/staff/cases/${caseId}/referrals/${referralId}/bundle`));
    expect(res.status).toBe(200);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'harbour-names-'));
    try {
      const zip = path.join(dir, 'bundle.zip');
      writeFileSync(zip, res.body as Buffer);
      const entries = execFileSync('unzip', ['-Z1', zip]).toString('utf8').split('\n').filter(Boolean);
      expect(entries).toEqual(['report.txt', 'referral.txt', ...FILES.map((_, i) => `evidence/evidence-${i + 1}.txt`)]);
      for (const f of FILES) {
        const entry = `evidence/${ours.get(f.name)!.file}`;
        expect(Buffer.compare(execFileSync('unzip', ['-p', zip, entry]), f.content)).toBe(0);
      }
      const listed = execFileSync('unzip', ['-p', zip, 'referral.txt']).toString('utf8').split('\r\n');
      for (const f of FILES) {
        const entry = `evidence/${ours.get(f.name)!.file}`;
        const line = listed.find((l) => l.startsWith(`  ${entry} `));
        expect(line, f.name).toBe(
          MISNAMED.includes(f.name)
            ? `  ${entry} (the reporter named it "${f.name}"; WARNING: that name does not fit what the file is, text/plain: open it only as ${entry})`
            : `  ${entry} (the reporter named it "${f.name}")`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the printable pack lists our names and warns about the misnamed files', async () => {
    const page = await staff.get(`/staff/cases/${caseId}/referrals/${referralId}/pack`);
    expect(page.status).toBe(200);
    for (const f of FILES) {
      expect(page.text).toContain(`<td>evidence/${ours.get(f.name)!.file}</td>`);
      expect(page.text).toContain(`<span dir="auto">${f.name}</span>`);
    }
    expect(page.text.split('Warning: this name does not fit what the file is.').length - 1).toBe(MISNAMED.length);
  });

  it('the reporter downloads their own files under our name too', async () => {
    const { agent } = await signInWithReceipt(t.app, receipt);
    for (const f of FILES) {
      const { file, id } = ours.get(f.name)!;
      const res = await binary(agent.get(`/en/status/evidence/${id}`));
      expect(res.status).toBe(200);
      expect(res.headers['content-disposition'], f.name).toBe(`attachment; filename="${file}"`);
      expect(res.headers['content-security-policy']).toBe("default-src 'none'; sandbox");
      expect(Buffer.compare(res.body as Buffer, f.content)).toBe(0);
    }
  });
});
