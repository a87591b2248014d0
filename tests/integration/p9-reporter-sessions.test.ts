import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptJson, decryptText, formatReceipt, parseSessionToken, toHex, type SessionToken } from '../../server/crypto/index.js';
import { sql } from 'kysely';
import type { ReporterPayload } from '../../server/reporting/session.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { onPostgres } from '../helpers/db.js';
import { dumpAllTables, readTree } from '../helpers/dump.js';
import { VALID_REPORT, csrfFrom, fileReport, signInWithReceipt, type Agent } from '../helpers/reporter.js';
import { formsFound, formsInBytes, formsOfBytes, formsOfText, plantForms, type Form } from '../helpers/secret-forms.js';
import { readAsTeam, teamKey } from '../helpers/staff.js';

/**
 * P9 for reporters. A reporter's session row holds the report's data key
 * and, from the moment the report is filed until the receipt is typed back,
 * the receipt, both encrypted under a key derived from the cookie. At each
 * of those moments (just filed; receipt confirmed; signed in again with the
 * receipt and at work) every reporter session row and every table are
 * searched for the data key and the receipt in every form the code could
 * have written them, and every 32-byte window of each row is tried as the
 * payload's key, as the data key and as the cookie's token. The controls:
 * the cookie does open each row and finds both secrets in it, the window
 * search finds a key appended to a row, and control values planted in the
 * clear are found in the dump and, on PGlite, in the data files.
 */
let t: TestApp;

/** One report just filed, as each test needs it: its pending session's agent, its receipt and its keys. */
type Filed = { agent: Agent; receipt: string; reportId: string; dataKey: Uint8Array; narrative: Uint8Array };

async function fileOne(): Promise<Filed> {
  const text = `Reporter session test ${randomBytes(8).toString('hex')}`;
  const filed = await fileReport(t.app, { ...VALID_REPORT, narrative: text });
  const reportId = await t.testDb.db
    .selectFrom('form_submissions')
    .select('report_id')
    .where('state', '=', 'sent')
    .orderBy('created_at', 'desc')
    .executeTakeFirstOrThrow()
    .then((r) => r.report_id!);
  const report = await t.testDb.db.selectFrom('reports').select(['narrative']).where('id', '=', reportId).executeTakeFirstOrThrow();
  const { dataKey, narrative } = await readAsTeam(t.testDb.db, await teamKey(t.testDb.db, t.recoveryKey!), reportId);
  if (narrative !== text) throw new Error('not the report just filed');
  return { agent: filed.agent, receipt: filed.receipt, reportId, dataKey, narrative: report.narrative };
}

async function typeReceiptBack(f: Filed): Promise<void> {
  const token = await csrfFrom(f.agent, '/en/report/receipt');
  const res = await f.agent.post('/en/report/receipt').type('form').send({ _csrf: token, receipt: f.receipt });
  expect(res.status).toBe(303);
}

beforeAll(async () => {
  t = await createTestApp({ onDisk: true });
});
afterAll(async () => {
  await t.close();
});

type SessionRow = { id_hash: Uint8Array; payload: Uint8Array; report_id: string | null };

const reporterRows = (): Promise<SessionRow[]> =>
  t.testDb.db.selectFrom('sessions').select(['id_hash', 'payload', 'report_id']).where('kind', '=', 'reporter').execute();
const rowBytes = (r: SessionRow) => Buffer.concat([Buffer.from(r.id_hash), Buffer.from(r.payload), Buffer.from(r.report_id ?? '')]);
const payloadContext = (idHash: Uint8Array) => ({ table: 'sessions', id: toHex(idHash), field: 'payload' });

function cookieToken(agent: Agent): { raw: Buffer; token: SessionToken } {
  const cookie = agent.jar.getCookies({ domain: '127.0.0.1', path: '/', secure: false, script: false }).find((c) => c.name === 'harbour_r');
  if (!cookie) throw new Error('no reporter cookie');
  return { raw: Buffer.from(cookie.value, 'base64url'), token: parseSessionToken(cookie.value)! };
}

/** The control: the cookie finds its row and opens its payload. */
async function openWithCookie(agent: Agent): Promise<{ row: SessionRow; payload: ReporterPayload }> {
  const { token } = cookieToken(agent);
  const row = (await reporterRows()).find((r) => Buffer.from(r.id_hash).equals(Buffer.from(token.idHash)));
  if (!row) throw new Error('the cookie has no session row');
  return { row, payload: decryptJson<ReporterPayload>(token.key, row.payload, payloadContext(row.id_hash)) };
}

const secretForms = (f: Filed): Record<string, Form[]> => ({
  'data key': formsOfBytes(f.dataKey, 'data key'),
  receipt: [...formsOfText(f.receipt, 'receipt'), ...formsOfText(formatReceipt(f.receipt), 'receipt grouped')],
});

function succeeds(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch {
    return false;
  }
}

/** What a 32-byte window of a row could be, if a key had been written down in it. */
function windowUses(f: Filed, row: SessionRow): Record<string, (k: Uint8Array) => boolean> {
  return {
    'opens the payload': (k) => succeeds(() => decryptJson(k, row.payload, payloadContext(row.id_hash))),
    'opens the report (is its data key)': (k) =>
      succeeds(() => decryptText(k, f.narrative, { table: 'reports', id: f.reportId, field: 'narrative' })),
    "is the cookie's token": (k) => Buffer.from(parseSessionToken(Buffer.from(k).toString('base64url'))!.idHash).equals(Buffer.from(row.id_hash)),
  };
}

/** Offsets of the windows of `blob` that do any of those things, by what they do. */
function windowsThat(f: Filed, blob: Buffer, row: SessionRow): Record<string, number[]> {
  const hits: Record<string, number[]> = {};
  for (const [what, test] of Object.entries(windowUses(f, row))) {
    for (let i = 0; i + 32 <= blob.length; i++) {
      if (test(new Uint8Array(blob.subarray(i, i + 32)))) (hits[what] ??= []).push(i);
    }
  }
  return hits;
}

/** Every reporter session row: no form of either secret, no window that opens anything. Returns how many rows are this report's. */
async function expectRowsClean(f: Filed): Promise<number> {
  const rows = await reporterRows();
  for (const row of rows) {
    const blob = rowBytes(row);
    const found = Object.entries(secretForms(f))
      .map(([name, forms]) => [name, formsInBytes(blob, forms)] as const)
      .filter(([, labels]) => labels.length > 0);
    expect(Object.fromEntries(found), 'found in a reporter session row').toEqual({});
    expect(windowsThat(f, blob, row), 'a window of a reporter session row').toEqual({});
  }
  return rows.filter((r) => r.report_id === f.reportId).length;
}

async function expectDumpClean(f: Filed): Promise<string> {
  const dump = await dumpAllTables(t.testDb.db);
  expect(dump.length).toBeGreaterThan(1000);
  const found = Object.entries(secretForms(f))
    .map(([name, forms]) => [name, formsFound(dump, forms)] as const)
    .filter(([, labels]) => labels.length > 0);
  expect(Object.fromEntries(found), 'found in the database dump').toEqual({});
  return dump;
}

describe('P9 reporter sessions keep the data key and the receipt off the disk', () => {
  it('just filed: the cookie opens the session row, which holds the data key and the receipt (the control)', async () => {
    const { agent: filedAgent, reportId, dataKey, receipt } = await fileOne();
    const { row, payload } = await openWithCookie(filedAgent);
    expect(row.report_id).toBe(reportId);
    expect(payload.reportId).toBe(reportId);
    expect(Buffer.from(payload.dataKey, 'base64').equals(Buffer.from(dataKey))).toBe(true);
    expect(payload.stage === 'receipt_pending' && payload.receipt).toBe(receipt);
    // The form's copy of the receipt exists at this moment too (encrypted under the form's key).
    const claim = await t.testDb.db
      .selectFrom('form_submissions')
      .select('receipt_sealed')
      .where('report_id', '=', reportId)
      .executeTakeFirstOrThrow();
    expect(claim.receipt_sealed).not.toBeNull();
  });

  it('just filed: no row holds either in any form, no window of a row opens anything, and no table holds either', async () => {
    const f = await fileOne();
    expect(await expectRowsClean(f)).toBe(1);
    await expectDumpClean(f);
  });

  it('receipt typed back: it leaves the payload and the form claim; the rows and tables stay clean', async () => {
    const f = await fileOne();
    const { reportId, dataKey } = f;
    await typeReceiptBack(f);
    const { payload } = await openWithCookie(f.agent);
    expect(payload.stage).toBe('signed_in');
    expect('receipt' in payload).toBe(false);
    expect(Buffer.from(payload.dataKey, 'base64').equals(Buffer.from(dataKey))).toBe(true);
    const claim = await t.testDb.db
      .selectFrom('form_submissions')
      .select('receipt_sealed')
      .where('report_id', '=', reportId)
      .executeTakeFirstOrThrow();
    expect(claim.receipt_sealed).toBeNull();
    expect(await expectRowsClean(f)).toBe(1);
    await expectDumpClean(f);
  });

  it('signed in with the receipt on another device, then a message and a file: every row and table stays clean', async () => {
    const f = await fileOne();
    const { dataKey } = f;
    await typeReceiptBack(f);
    const { agent, res } = await signInWithReceipt(t.app, f.receipt);
    expect(res.status).toBe(303);
    const token = await csrfFrom(agent, '/en/status');
    expect((await agent.post('/en/status/messages').type('form').send({ _csrf: token, message: 'They called again on Sunday.' })).status).toBe(303);
    expect((await agent.post('/en/status/evidence').field('_csrf', token).attach('evidence', Buffer.from('call log\n'), 'calls.txt')).status).toBe(
      303,
    );
    const { payload } = await openWithCookie(agent);
    expect(Buffer.from(payload.dataKey, 'base64').equals(Buffer.from(dataKey))).toBe(true);
    expect('receipt' in payload).toBe(false);
    expect(await expectRowsClean(f)).toBe(2);
    await expectDumpClean(f);
  });

  it('positive control: the window search finds the payload key, the data key or the token written into a row', async () => {
    const f = await fileOne();
    const { dataKey } = f;
    const { row } = await openWithCookie(f.agent);
    const { raw, token } = cookieToken(f.agent);
    const blob = rowBytes(row);
    const at = blob.length + 3;
    const leaked = (secret: Uint8Array) => Buffer.concat([blob, randomBytes(3), Buffer.from(secret), randomBytes(5)]);
    expect(windowsThat(f, leaked(token.key), row)).toEqual({ 'opens the payload': [at] });
    expect(windowsThat(f, leaked(dataKey), row)).toEqual({ 'opens the report (is its data key)': [at] });
    expect(windowsThat(f, leaked(raw), row)).toEqual({ "is the cookie's token": [at] });
  });

  const digits = () => Array.from(randomBytes(20), (b) => String(b % 10)).join('');
  it('positive control: a session payload written in the clear, and every form of other values, are found in the dump and (PGlite) the data files, where the real secrets are not', async () => {
    const f = await fileOne();
    const { reportId } = f;
    const planted: Form[] = [];
    const controlKey = randomBytes(32);
    const controlReceipt = digits();
    const clear: ReporterPayload = {
      stage: 'receipt_pending',
      reportId,
      dataKey: controlKey.toString('base64'),
      receipt: controlReceipt,
      urgent: false,
    };
    const clearForms = [...formsOfBytes(controlKey, 'control data key'), ...formsOfText(controlReceipt, 'control receipt')];
    // The payload as the session store would write it if it skipped the encryption.
    await t.testDb.db
      .insertInto('sessions')
      .values({
        id_hash: randomBytes(32),
        kind: 'reporter',
        report_id: reportId,
        payload: Buffer.from(JSON.stringify(clear)),
        expires_at: new Date(Date.now() + 3_600_000),
        last_seen_at: new Date(),
      })
      .execute();
    const row = (await reporterRows()).find((r) => Buffer.from(r.payload).includes(Buffer.from(controlReceipt)))!;
    expect(formsInBytes(rowBytes(row), clearForms)).toEqual(expect.arrayContaining(['control data key base64 +0', 'control receipt utf8']));
    const inBytea = await plantForms(
      t.testDb.db,
      [...formsOfBytes(randomBytes(32), 'bytea key'), ...formsOfText(digits(), 'bytea receipt')],
      'bytea',
    );
    const inText = await plantForms(t.testDb.db, [...formsOfBytes(randomBytes(32), 'text key'), ...formsOfText(digits(), 'text receipt')], 'text');
    const dump = await dumpAllTables(t.testDb.db);
    expect(formsFound(dump, clearForms)).toEqual(expect.arrayContaining(['control data key base64 +0', 'control receipt utf8']));
    expect(formsFound(dump, inBytea)).toEqual(inBytea.map((f) => f.label));
    expect(formsFound(dump, inText)).toEqual(inText.map((f) => f.label));
    planted.push(...inBytea, ...inText);
    // PostgreSQL's own files are not searched, only its table dump (above).
    if (onPostgres) return;
    if (!t.testDb.dataDir) throw new Error('no data directory');
    await sql`checkpoint`.execute(t.testDb.db); // every page on disk; the database stays open for the other tests
    const files = readTree(t.testDb.dataDir);
    expect(formsFound(files, planted)).toEqual(planted.map((p) => p.label));
    const found = Object.entries(secretForms(f))
      .map(([name, forms]) => [name, formsFound(files, forms)] as const)
      .filter(([, labels]) => labels.length > 0);
    expect(Object.fromEntries(found), 'found in the PGlite data directory').toEqual({});
  });
});
