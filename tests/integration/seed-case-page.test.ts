import type request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../server/audit/verify.js';
import { seedDemo } from '../../server/demo/seed-demo.js';
import * as words from '../../server/demo/seed-words.js';
import { currentTeamKey } from '../../server/setup/service.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { addStaff, signInStaff } from '../helpers/staff.js';

/**
 * What a real caseworker sees of a demo case after `harbour seed --demo`:
 * signed in through the real pages with their own approved key, the case
 * page shows the thread, the notes, the history and the referral, all
 * readable (so each was encrypted exactly as the app encrypts it, P8), and
 * the referral pack and bundle open.
 */
let t: TestApp;
let agent: ReturnType<typeof request.agent>;
let caseId: string;
let referral: { id: string; destination: string };

// EJS's escaping, to find a text in the page as it is written there.
const html = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;');
const shows = (page: string, texts: string[]) => texts.some((x) => page.includes(html(x)));
const UNREADABLE = 'could not be decrypted';
const binary = (r: request.Test) =>
  r.buffer(true).parse((res, cb) => {
    const parts: Buffer[] = [];
    res.on('data', (c: Buffer) => parts.push(c));
    res.on('end', () => cb(null, Buffer.concat(parts)));
  });

beforeAll(async () => {
  t = await createTestApp();
  await seedDemo(t.testDb.db, { count: 80, teamKey: await currentTeamKey(t.testDb.db), closedRetentionDays: 365 });
  const db = t.testDb.db;
  // A referred case with both sides of the conversation and notes.
  const row = await db
    .selectFrom('reports as r')
    .innerJoin('referrals as f', 'f.report_id', 'r.id')
    .select(['r.id', 'f.id as referral_id', 'f.destination'])
    .where('r.reporter_updated_at', 'is not', null)
    .where('r.first_response_at', 'is not', null)
    .orderBy('r.created_at')
    .executeTakeFirst();
  const fallback = await db
    .selectFrom('referrals')
    .select(['report_id as id', 'id as referral_id', 'destination'])
    .orderBy('created_at')
    .executeTakeFirstOrThrow();
  const chosen = row ?? fallback;
  caseId = chosen.id;
  referral = { id: chosen.referral_id, destination: chosen.destination };
  const me = await addStaff(t, { roles: ['caseworker'], name: 'Real Caseworker' });
  agent = await signInStaff(t, me);
});
afterAll(async () => {
  await t?.close();
});

describe('a seeded case, opened by a real caseworker', () => {
  it('shows the thread, the internal notes, the referral and a history by the fictional caseworkers, all readable', async () => {
    const res = await agent.get(`/staff/cases/${caseId}`);
    expect(res.status).toBe(200);
    const page = res.text;
    expect(page).not.toContain(UNREADABLE);
    expect(shows(page, words.STAFF_FIRST)).toBe(true); // the first reply is always one of these
    expect(shows(page, [...words.NOTES, ...words.REFERRAL_NOTES, ...words.CLOSING_NOTES])).toBe(true);
    expect(shows(page, words.REFERRAL_NOTES)).toBe(true); // the note the referral was made on
    const messages = await t.testDb.db.selectFrom('messages').select('author').where('report_id', '=', caseId).execute();
    if (messages.some((m) => m.author === 'reporter')) expect(shows(page, [...words.REPORTER_ADDS, ...words.REPORTER_REPLIES])).toBe(true);
    for (const action of [
      'Viewed the case',
      'Changed the status',
      'Added an internal note',
      'Sent a message to the reporter',
      'Recorded a referral',
    ]) {
      expect(page).toContain(action);
    }
    expect(page).toMatch(/Aylin Demir|Tom Hughes|Mei Lin Cheng/);
    expect(page).toContain(`/referrals/${referral.id}/pack`);
  });

  it('opens the referral pack and the bundle, decrypted', async () => {
    const pack = await agent.get(`/staff/cases/${caseId}/referrals/${referral.id}/pack`);
    expect(pack.status).toBe(200);
    expect(pack.text).not.toContain(UNREADABLE);
    expect(shows(pack.text, words.REFERRAL_NOTES)).toBe(true);

    const bundle = await binary(agent.get(`/staff/cases/${caseId}/referrals/${referral.id}/bundle`));
    expect(bundle.status).toBe(200);
    const zip = bundle.body as Buffer;
    for (const name of ['report.txt', 'referral.txt']) expect(zip.includes(Buffer.from(name))).toBe(true);
    // Stored, not deflated: the decrypted text is in the archive as it is.
    expect(zip.includes(Buffer.from(UNREADABLE))).toBe(false);
    expect(words.REFERRAL_NOTES.some((n) => zip.includes(Buffer.from(n)))).toBe(true);
  });

  it('and the audit chain, the seeded history followed by real reads, still verifies', async () => {
    expect((await agent.get(`/staff/cases/${caseId}`)).status).toBe(200);
    expect((await binary(agent.get(`/staff/cases/${caseId}/referrals/${referral.id}/bundle`))).status).toBe(200);
    const result = await verifyAuditChain(t.testDb.db);
    expect(result.problems).toEqual([]);
    const last = await t.testDb.db.selectFrom('audit_log').select(['action', 'case_id']).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
    expect(last).toEqual({ action: 'case.referral_bundle_downloaded', case_id: caseId });
  });
});
