import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../server/cli.js';
import { currentTotp, decodeRecoveryKey, encodeRecoveryKey, newTotpSecret, readySodium } from '../../server/crypto/index.js';
import { createDb } from '../../server/db/index.js';
import { openTeamKeyWithRecovery } from '../../server/setup/service.js';
import { unlockWithPassword, unwrapTotpSecret } from '../../server/staff/users.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createTestDb, onPostgres, withMigrationLock, type TestDb } from '../helpers/db.js';
import { dumpAllTables, readTree } from '../helpers/dump.js';
import { fileReport, type Agent } from '../helpers/reporter.js';
import { formsFound, formsOfBytes, formsOfRecoveryKey, formsOfText, formsOfTotpSecret, plantForms, type Form } from '../helpers/secret-forms.js';
import { signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

/**
 * P1 for what staff hold and write, and P7 (the recovery key is not kept).
 * The installation is made by the real `harbour setup`; its first
 * administrator (a caseworker too) enrols a second factor through the real
 * pages, then works a reporter's case through the case page, writing every
 * kind of free text the staff side has: a note, a reply, a referral (crime
 * reference, override reason, a chosen note), a reason to keep the case
 * longer and a reason to reopen it. Then every table, every log line and, on
 * PGlite, every file under DATA_DIR are searched for that text, the TOTP
 * secret, the password and every private key, in each form the code could
 * have written them (raw, hex, base64 at any alignment, base32, UTF-16).
 * Positive controls plant other values of the same kinds in the same forms
 * and find every one, in the dump and in the data files.
 */
const tag = randomBytes(6).toString('hex');
const STAFF_TEXT = {
  note: `NoteCanary${tag} — he came back to the station in Croydon`,
  reply: `ReplyCanary${tag} — could you tell us when the calls started?`,
  crimeReference: `CrimeRefCanary${tag}`,
  overrideReason: `OverrideCanary${tag}: threat to life, the caller described the home`,
  retainReason: `RetainCanary${tag} — police investigation still open`,
  reopenReason: `ReopenCanary${tag}: the reporter wrote again (Ürümqi)`,
};
const LEAD = { email: `lead-${tag}@example.org`, name: 'Lead Caseworker', password: `harbour lead passphrase ${tag}` };

let testDb: TestDb;
let t: TestApp;
/** The CLI's DATA_DIR on PGlite (the data directory is its pgdata/); null on PostgreSQL. */
let dataDir: string | null = null;
let printedRecoveryKey = '';
/** What a copy taken right after `harbour setup` holds. */
const afterSetup = { dump: '', files: null as string | null };
let lead: TestStaff;
let agent: Agent;
let caseId = '';

/** Runs the real `harbour setup` with the first administrator, returning what it printed. */
async function harbourSetup(env: Record<string, string | undefined>, passwordFile: string): Promise<string> {
  const saved = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const output: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    output.push(String(chunk));
    return true;
  });
  try {
    const code = await runCli([
      'setup',
      '--org',
      'Secrets At Rest Test',
      '--admin-email',
      LEAD.email,
      '--admin-name',
      LEAD.name,
      '--password-file',
      passwordFile,
    ]);
    if (code !== 0) throw new Error(`harbour setup exited ${code}`);
  } finally {
    spy.mockRestore();
    process.env = saved;
  }
  return output.join('');
}

async function post(path: string, fields: Record<string, string | string[]>) {
  const token = await staffCsrf(agent, `/staff/cases/${caseId}`);
  const res = await agent
    .post(path)
    .type('form')
    .send({ _csrf: token, ...fields });
  if (res.status !== 303) throw new Error(`${path}: ${res.status} ${res.text.slice(0, 1500)}`);
  return res;
}

const daysFromNow = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);

beforeAll(async () => {
  await readySodium();
  const pwDir = mkdtempSync(path.join(os.tmpdir(), 'harbour-p1-pw-')); // outside DATA_DIR, which is searched
  const passwordFile = path.join(pwDir, 'pw.txt');
  writeFileSync(passwordFile, `${LEAD.password}\n`);
  try {
    let output: string;
    if (onPostgres) {
      // A schema of its own, migrated here first: the CLI's migrator, given no schema, would take another
      // test file's migration table for its own. The CLI reaches the schema through the search_path in
      // its DATABASE_URL; its own migrate is then a no-op.
      testDb = await createTestDb();
      const cliUrl = new URL(process.env['TEST_DATABASE_URL']!);
      cliUrl.searchParams.set('options', `-c search_path=${testDb.schema}`);
      output = await withMigrationLock(() => harbourSetup({ DATABASE_URL: cliUrl.toString() }, passwordFile));
    } else {
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'harbour-p1-'));
      output = await harbourSetup({ DATABASE_URL: undefined, DATA_DIR: dataDir }, passwordFile);
      afterSetup.files = readTree(dataDir); // the CLI has closed the database: its files are complete
      const db = await createDb({ kind: 'pglite', dataDir: path.join(dataDir, 'pgdata') });
      const dir = dataDir;
      testDb = {
        db,
        kind: 'pglite',
        dataDir: path.join(dir, 'pgdata'),
        schema: null,
        async close() {
          await db.destroy();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    printedRecoveryKey = /([0-9A-F]{8}(?:-[0-9A-F]{8}){7}-[0-9A-F]{4})/.exec(output)?.[1] ?? '';
    expect(printedRecoveryKey, 'harbour setup printed no recovery key').not.toBe('');
    afterSetup.dump = await dumpAllTables(testDb.db);
  } finally {
    rmSync(pwDir, { recursive: true, force: true });
  }

  t = await createTestApp({ testDb, setup: false });

  // First sign-in: password, then the enrolment page with the new secret, then a code from it.
  agent = request.agent(t.app);
  const signInToken = await staffCsrf(agent, '/staff/sign-in');
  expect((await agent.post('/staff/sign-in').type('form').send({ _csrf: signInToken, email: LEAD.email, password: LEAD.password })).status).toBe(303);
  const enrol = await agent.get('/staff/two-factor');
  const secret = /class="secret">([A-Z2-7 ]+)</.exec(enrol.text)?.[1]?.replace(/ /g, '');
  if (!secret) throw new Error(`no enrolment secret on the page (status ${enrol.status})`);
  const enrolToken = /name="_csrf" value="([^"]+)"/.exec(enrol.text)![1]!;
  expect(
    (
      await agent
        .post('/staff/two-factor')
        .type('form')
        .send({ _csrf: enrolToken, code: currentTotp(secret) })
    ).status,
  ).toBe(303);
  const row = await testDb.db.selectFrom('users').select(['id', 'roles']).where('email', '=', LEAD.email).executeTakeFirstOrThrow();
  lead = { id: row.id, email: LEAD.email, password: LEAD.password, totpSecret: secret, roles: row.roles };
  // A later sign-in the usual way (the code checked against the wrapped secret).
  agent = await signInStaff(t, lead);

  await fileReport(t.app);
  caseId = (await testDb.db.selectFrom('reports').select('id').where('state', '=', 'submitted').executeTakeFirstOrThrow()).id;
  await post(`/staff/cases/${caseId}/notes`, { note: STAFF_TEXT.note });
  await post(`/staff/cases/${caseId}/messages`, { message: STAFF_TEXT.reply });
  const noteId = (await testDb.db.selectFrom('case_notes').select('id').where('report_id', '=', caseId).executeTakeFirstOrThrow()).id;
  // The report's consent is "talk to me first", so the referral needs an override reason.
  await post(`/staff/cases/${caseId}/referrals`, {
    destination: 'counter_terrorism_policing',
    referred_on: daysFromNow(-1),
    crime_reference: STAFF_TEXT.crimeReference,
    notes: noteId,
    override_reason: STAFF_TEXT.overrideReason,
  });
  await post(`/staff/cases/${caseId}/status`, { status: 'closed', outcome: 'support_given' });
  await post(`/staff/cases/${caseId}/retention`, { retain_until: daysFromNow(500), retain_reason: STAFF_TEXT.retainReason });
  await post(`/staff/cases/${caseId}/status`, { status: 'in_progress', reopen_reason: STAFF_TEXT.reopenReason });
  // The referral pack and bundle decrypt the referral and the chosen note: reads that must leave nothing behind.
  const referralId = (await testDb.db.selectFrom('referrals').select('id').where('report_id', '=', caseId).executeTakeFirstOrThrow()).id;
  expect((await agent.get(`/staff/cases/${caseId}/referrals/${referralId}/pack`)).status).toBe(200);
  expect((await agent.get(`/staff/cases/${caseId}/referrals/${referralId}/bundle`)).status).toBe(200);
}, 240_000); // a cold start of an on-disk PGlite, and several Argon2id derivations

afterAll(async () => {
  await testDb?.close();
});

/** Every secret this file looks for, by name, in every form. */
async function realSecrets(): Promise<Record<string, Form[]>> {
  const recoveryPrivate = decodeRecoveryKey(printedRecoveryKey)!;
  const team = await openTeamKeyWithRecovery(testDb.db, printedRecoveryKey);
  const unlocked = (await unlockWithPassword(testDb.db, LEAD.email, LEAD.password))!;
  return {
    ...Object.fromEntries(Object.entries(STAFF_TEXT).map(([k, v]) => [`staff text ${k}`, formsOfText(v, k)])),
    'TOTP secret': formsOfTotpSecret(lead.totpSecret),
    'recovery key': formsOfRecoveryKey(printedRecoveryKey, recoveryPrivate),
    'team private key': formsOfBytes(team.privateKey, 'team key'),
    "the lead's private key": formsOfBytes(unlocked.keyPair.privateKey, 'staff key'),
    "the lead's password-derived key": formsOfBytes(unlocked.wrapKey, 'wrap key'),
    "the lead's password": formsOfText(LEAD.password, 'password'),
  };
}

/** Every secret with the forms of it found, so one failure names them all. */
function expectNoneIn(haystack: string, secrets: Record<string, Form[]>, where: string) {
  const found = Object.entries(secrets)
    .map(([name, forms]) => [name, formsFound(haystack, forms)] as const)
    .filter(([, labels]) => labels.length > 0);
  expect(Object.fromEntries(found), `found in ${where}`).toEqual({});
}

describe('P1: staff secrets and staff-written text at rest', () => {
  it('the staff-written text was really stored: the case page shows every piece of it', async () => {
    const page = await agent.get(`/staff/cases/${caseId}`);
    expect(page.status).toBe(200);
    for (const [name, text] of Object.entries(STAFF_TEXT)) expect(page.text, name).toContain(text);
    expect(await testDb.db.selectFrom('case_notes').select('id').where('report_id', '=', caseId).execute()).toHaveLength(3); // the note, kept-until, reopened
    expect(
      await testDb.db.selectFrom('messages').select('id').where('report_id', '=', caseId).where('author_id', '=', lead.id).execute(),
    ).toHaveLength(1);
  });

  it('the TOTP secret was really enrolled: the users row holds it wrapped, and the password opens it', async () => {
    const unlocked = (await unlockWithPassword(testDb.db, LEAD.email, LEAD.password))!;
    expect(unlocked.user.totp_secret_wrapped).not.toBeNull();
    expect(unwrapTotpSecret(unlocked.wrapKey, unlocked.user)).toBe(lead.totpSecret);
  });

  it('no staff-written text, TOTP secret, password or private key is in any table, in any form', async () => {
    const dump = await dumpAllTables(testDb.db);
    expect(dump.length).toBeGreaterThan(5000);
    expectNoneIn(dump, await realSecrets(), 'the database dump');
  });

  it('nor in any log line', async () => {
    expect(t.logs.filter((l) => l.includes('"request"')).length).toBeGreaterThan(10);
    expectNoneIn(t.logs.join('\n'), await realSecrets(), 'the logs');
  });
});

describe('P7: the recovery private key is not kept', () => {
  it('the printed key is the real one: it opens the current team key', async () => {
    const team = await openTeamKeyWithRecovery(testDb.db, printedRecoveryKey);
    const current = await testDb.db.selectFrom('team_keys').select('public_key').where('retired_at', 'is', null).executeTakeFirstOrThrow();
    expect(Buffer.from(team.publicKey).equals(Buffer.from(current.public_key))).toBe(true);
    expect(team.privateKey).toHaveLength(32);
  });

  it('right after harbour setup, no form of it is in any table, nor (PGlite) in any file under DATA_DIR', () => {
    const forms = formsOfRecoveryKey(printedRecoveryKey, decodeRecoveryKey(printedRecoveryKey)!);
    expect(afterSetup.dump).toContain('Secrets At Rest Test'); // the dump is of the installation just made
    expect(formsFound(afterSetup.dump, forms), 'recovery key in the dump after setup').toEqual([]);
    if (afterSetup.files !== null) {
      expect(afterSetup.files).toContain('Secrets At Rest Test');
      expect(formsFound(afterSetup.files, forms), 'recovery key in DATA_DIR after setup').toEqual([]);
    }
  });
});

describe('the search would find them: positive controls, then the data files', () => {
  /** Other values of every kind searched for above, none of them a real secret. */
  function controls(label: string): Form[] {
    const key = new Uint8Array(randomBytes(32));
    return [
      ...formsOfText(`ControlText${label}${tag} — Ürümqi`, `control ${label} text`),
      ...formsOfTotpSecret(newTotpSecret()),
      ...formsOfRecoveryKey(encodeRecoveryKey(key), key),
      ...formsOfBytes(randomBytes(32), `control ${label} key`),
    ];
  }
  it('every form of a control value is found in the dump, in a bytea column and in a text column, and (PGlite) in the data files, where no real secret is', async () => {
    const inBytea = await plantForms(testDb.db, controls('bytea'), 'bytea');
    const inText = await plantForms(testDb.db, controls('text'), 'text');
    expect(inBytea.length).toBeGreaterThan(40);
    expect(inText.length).toBeGreaterThan(30);
    const dump = await dumpAllTables(testDb.db);
    expect(formsFound(dump, inBytea)).toEqual(inBytea.map((f) => f.label));
    expect(formsFound(dump, inText)).toEqual(inText.map((f) => f.label));
    const planted = [...inBytea, ...inText];
    // PostgreSQL's own files are not searched, only its table dump (above).
    if (onPostgres) return;
    if (!dataDir) throw new Error('no DATA_DIR');
    expect(planted.length).toBeGreaterThan(70);
    const secrets = await realSecrets();
    await sql`checkpoint`.execute(testDb.db); // every page on disk; the database stays open for the other tests
    const files = readTree(dataDir);
    expect(formsFound(files, planted)).toEqual(planted.map((f) => f.label));
    expectNoneIn(files, secrets, 'the files under DATA_DIR');
  });
});
