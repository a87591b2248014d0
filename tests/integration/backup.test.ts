import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAuditVerify } from '../../server/audit/cli.js';
import { audit } from '../../server/audit/log.js';
import { writeBackup } from '../../server/backup/backup.js';
import { BackupError, KIND, frame, message, preamble } from '../../server/backup/format.js';
import * as bq from '../../server/backup/queries.js';
import { restoreBackup } from '../../server/backup/restore.js';
import { BACKED_UP_TABLES, NOT_BACKED_UP } from '../../server/backup/tables.js';
import { BackupEncryptor, encodeRecoveryKey, newKeyPair } from '../../server/crypto/index.js';
import { createDb } from '../../server/db/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createTestDb, onPostgres, pgliteTemplate, withMigrationLock, type TestDb } from '../helpers/db.js';
import { contains } from '../helpers/dump.js';
import { VALID_REPORT, csrfFrom, fileReport, signInWithReceipt } from '../helpers/reporter.js';
import { addStaff, signInStaff, type TestStaff } from '../helpers/staff.js';
import type { Agent } from '../helpers/reporter.js';

/**
 * `harbour backup` / `harbour restore` (server/backup): a backup of a live
 * installation restores into a fresh one, on the database under test and
 * from PGlite to PostgreSQL, with every receipt, case, statistic and audit
 * entry intact; and a changed, cut-off or wrongly keyed file is refused
 * with nothing written. The file shows no canary and no triage value.
 */
const tag = randomBytes(5).toString('hex');
const narrativeCanary = (i: number) => `NarrativeCanary${tag}n${i}`;
const fileCanary = (i: number) => `FileContentCanary${tag}f${i}`;
const messageCanary = `MessageCanary${tag}`;
const ORG = 'Test Community Aid';
const REPORTS = 3;

type Source = { t: TestApp; staff: TestStaff; receipts: string[]; ids: string[]; file: string; concurrent: string[] };

let dir: string;
const cleanup: (() => Promise<void>)[] = [];

async function pgliteTestDb(migrated: boolean): Promise<TestDb> {
  const db = await createDb({ kind: 'pglite', dataDir: null, loadDataDir: await pgliteTemplate(migrated ? 'migrated' : 'empty') });
  return { db, kind: 'pglite', dataDir: null, schema: null, close: () => db.destroy() };
}

const binary = (req: ReturnType<Agent['get']>) =>
  req.buffer(true).parse((r, cb) => {
    const parts: Buffer[] = [];
    r.on('data', (c: Buffer) => parts.push(c));
    r.on('end', () => cb(null, Buffer.concat(parts)));
  });

/** An installation with reports (and evidence), a reporter's message, a caseworker-administrator, audit entries and archived statistics; backed up while reports keep coming. */
async function makeSource(testDb?: TestDb): Promise<Source> {
  const t = await createTestApp(testDb ? { testDb } : {});
  cleanup.push(async () => {
    await t.close();
    if (testDb) await testDb.close();
  });
  const staff = await addStaff(t, { roles: ['admin', 'caseworker'] });
  const receipts: string[] = [];
  for (let i = 0; i < REPORTS; i++) {
    const { receipt } = await fileReport(t.app, { ...VALID_REPORT, narrative: `Someone followed me. ${narrativeCanary(i)}` }, [
      { name: `note-${i}.txt`, content: Buffer.from(`${fileCanary(i)}\n`) },
    ]);
    receipts.push(receipt);
  }
  const { agent } = await signInWithReceipt(t.app, receipts[0]!);
  const token = await csrfFrom(agent, '/en/status');
  expect((await agent.post('/en/status/messages').type('form').send({ _csrf: token, message: messageCanary })).status).toBe(303);
  const ids = (await t.testDb.db.selectFrom('reports').select('id').where('state', '=', 'submitted').execute()).map((r) => r.id);
  expect(ids).toHaveLength(REPORTS);
  // The caseworker opens each case (audited reads), and statistics of deleted cases exist.
  const caseworker = await signInStaff(t, staff);
  for (const id of ids) expect((await caseworker.get(`/staff/cases/${id}`)).status).toBe(200);
  await t.testDb.db
    .insertInto('stats_archive')
    .values({
      quarter: '2025-10-01',
      categories: ['threats'],
      community: 'uyghur',
      region: 'london',
      suspected_state: 'china',
      urgent: false,
      status: 'closed',
      closing_outcome: null,
      referred: false,
      first_response_days: 2,
    })
    .execute();

  // The backup runs while two more reports are filed.
  const file = path.join(dir, `backup-${randomBytes(4).toString('hex')}.hbk`);
  const filing = Promise.all([0, 1].map((i) => fileReport(t.app, { ...VALID_REPORT, narrative: `Filed during the backup ${i}.` })));
  await writeBackup(t.testDb.db, file);
  const concurrent = (await filing).map((f) => f.receipt);
  return { t, staff, receipts, ids, file, concurrent };
}

async function restoreInto(target: TestDb, file: string, key: string) {
  return withMigrationLock(() => restoreBackup(target.db, file, key, target.schema ? { schema: target.schema } : {}));
}

async function freshTarget(kind: 'same' | 'pglite' = 'same'): Promise<TestDb> {
  const target = kind === 'pglite' ? await pgliteTestDb(false) : await createTestDb({ migrate: false });
  cleanup.push(() => target.close());
  return target;
}

/** Whether anything was written: every backed-up table but the default lists is empty. */
async function nothingRestored(target: TestDb): Promise<boolean> {
  const present = new Set(await bq.baseTables(target.db));
  for (const table of BACKED_UP_TABLES) {
    if (table === 'list_items' || !present.has(table)) continue;
    if ((await bq.rowCount(target.db, table)) > 0) return false;
  }
  return true;
}

async function statistics(t: TestApp, staff: TestStaff) {
  const agent = await signInStaff(t, staff);
  const res = await agent.get('/admin/statistics.json?from=2025-Q4&to=2026-Q4');
  expect(res.status).toBe(200);
  return res.body as unknown;
}

/** The restored installation behaves like the original: receipts, evidence, cases, audit chain, statistics, sequences. */
async function checkRestored(source: Source, target: TestDb) {
  const t2 = await createTestApp({ testDb: target, setup: false });
  for (const [i, receipt] of source.receipts.entries()) {
    const { agent, res } = await signInWithReceipt(t2.app, receipt);
    expect(res.status).toBe(303);
    const page = await agent.get('/en/status');
    expect(page.text).toContain(narrativeCanary(i));
    if (i === 0) expect(page.text).toContain(messageCanary);
    const eid = /\/en\/status\/evidence\/([0-9a-f-]{36})/.exec(page.text)![1]!;
    const file = await binary(agent.get(`/en/status/evidence/${eid}`));
    expect(file.status).toBe(200);
    expect((file.body as Buffer).toString()).toBe(`${fileCanary(i)}\n`);
  }
  // The snapshot: reports filed during the backup are in it whole or not at all.
  const restoredIds = new Set((await target.db.selectFrom('reports').select('id').execute()).map((r) => r.id));
  for (const id of source.ids) expect(restoredIds.has(id)).toBe(true);
  const incomplete = await target.db
    .selectFrom('evidence')
    .select(['id', 'chunk_count'])
    .where('state', '=', 'complete')
    .execute()
    .then(async (rows) => {
      const bad: string[] = [];
      for (const e of rows) {
        const n = await target.db
          .selectFrom('evidence_chunks')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('evidence_id', '=', e.id)
          .executeTakeFirstOrThrow();
        if (Number(n.n) !== e.chunk_count) bad.push(e.id);
      }
      return bad;
    });
  expect(incomplete).toEqual([]);

  // A caseworker signs in with their own password and second factor and reads every case.
  const caseworker = await signInStaff(t2, source.staff);
  const pages = [];
  for (const id of source.ids) pages.push(await caseworker.get(`/staff/cases/${id}`));
  expect(pages.map((p) => p.status)).toEqual(source.ids.map(() => 200));
  const caseText = pages.map((p) => p.text).join('\n');
  for (let i = 0; i < REPORTS; i++) expect(caseText).toContain(narrativeCanary(i));

  // Statistics are identical (the source's own reports, as in the snapshot, plus the archive).
  const restoredCount = restoredIds.size;
  const sourceStats = await withOnlySnapshot(source, restoredIds, () => statistics(source.t, source.staff));
  expect(await statistics(t2, source.staff)).toEqual(sourceStats);
  expect(restoredCount).toBeGreaterThanOrEqual(REPORTS);

  // The audit chain verifies, and goes on: new entries continue the sequence.
  const lines: string[] = [];
  expect(await runAuditVerify(target.db, (l) => lines.push(l))).toBe(0);
  await audit(target.db, { action: 'staff.sign_out', subjectUserId: source.staff.id, details: {} });
  expect(await runAuditVerify(target.db, () => {})).toBe(0);
  // Serial columns continue past the restored values.
  const before = await target.db
    .selectFrom('stats_archive')
    .select((eb) => eb.fn.max('id').as('m'))
    .executeTakeFirstOrThrow();
  const added = await target.db
    .insertInto('stats_archive')
    .values({
      quarter: '2025-07-01',
      categories: ['threats'],
      community: 'uyghur',
      region: 'london',
      suspected_state: 'china',
      urgent: false,
      status: 'closed',
      closing_outcome: null,
      referred: false,
      first_response_days: 1,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  expect(Number(added.id)).toBeGreaterThan(Number(before.m));
  await t2.close();
}

/**
 * The source's statistics as of the snapshot: reports filed after it are
 * left out by hiding them (state pending) for the time of the call.
 */
async function withOnlySnapshot<T>(source: Source, snapshot: Set<string>, fn: () => Promise<T>): Promise<T> {
  const db = source.t.testDb.db;
  const later = (await db.selectFrom('reports').select('id').where('state', '=', 'submitted').execute())
    .map((r) => r.id)
    .filter((id) => !snapshot.has(id));
  if (later.length) await db.updateTable('reports').set({ state: 'pending' }).where('id', 'in', later).execute();
  try {
    return await fn();
  } finally {
    if (later.length) await db.updateTable('reports').set({ state: 'submitted' }).where('id', 'in', later).execute();
  }
}

let source: Source;

/** Every backed-up table's rows as PostgreSQL's JSON text, sorted. */
async function everyRow(db: TestDb): Promise<Record<string, string[]>> {
  const all: Record<string, string[]> = {};
  await db.db.transaction().execute(async (trx) => {
    for (const table of BACKED_UP_TABLES) {
      const rows: string[] = [];
      for await (const batch of bq.tableRows(trx, table, 1000)) rows.push(...batch);
      all[table] = rows.sort();
    }
  });
  return all;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'harbour-backup-'));
  source = await makeSource();
}, 120_000);
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

describe('backup and restore', () => {
  it(`restores into a fresh installation on the same database (${onPostgres ? 'PostgreSQL → PostgreSQL' : 'PGlite → PGlite'})`, async () => {
    const target = await freshTarget();
    const r = await restoreInto(target, source.file, source.t.recoveryKey!);
    expect(r.rows['reports']).toBeGreaterThanOrEqual(REPORTS);
    expect(r.rows['evidence_chunks']).toBeGreaterThanOrEqual(REPORTS);
    await checkRestored(source, target);
  }, 120_000);

  it.runIf(onPostgres)(
    'restores a backup of the embedded database into PostgreSQL (PGlite → PostgreSQL)',
    async () => {
      const fromPglite = await makeSource(await pgliteTestDb(true));
      const target = await freshTarget();
      expect(target.kind).toBe('postgres');
      await restoreInto(target, fromPglite.file, fromPglite.t.recoveryKey!);
      await checkRestored(fromPglite, target);
    },
    180_000,
  );

  it.runIf(onPostgres)(
    'is one snapshot: what commits while it runs is wholly absent, and the restore holds together',
    async () => {
      const t = source.t;
      const file = path.join(dir, 'snapshot.hbk');
      let during = '';
      await writeBackup(t.testDb.db, file, {
        afterSnapshot: async () => {
          // A report with a file, its audit entries and a caseworker's read, all committed while the backup reads.
          during = (await fileReport(t.app, VALID_REPORT, [{ name: 'late.txt', content: Buffer.from('late\n') }])).receipt;
          const agent = await signInStaff(t, source.staff);
          expect((await agent.get('/staff/cases')).status).toBe(200);
        },
      });
      expect(during).not.toBe('');
      const target = await freshTarget();
      const r = await restoreInto(target, file, t.recoveryKey!);
      const now = await bq.rowCount(t.testDb.db, 'reports');
      expect(r.rows['reports']).toBe(now - 1);
      expect(r.rows['audit_log']).toBeLessThan(await bq.rowCount(t.testDb.db, 'audit_log'));
      const t2 = await createTestApp({ testDb: target, setup: false });
      cleanup.push(() => t2.close());
      expect((await signInWithReceipt(t2.app, during)).res.status).toBe(422);
      expect(await runAuditVerify(target.db, () => {})).toBe(0);
    },
    60_000,
  );

  it('a restore is row for row the installation as it was backed up', async () => {
    const file = path.join(dir, 'now.hbk');
    await writeBackup(source.t.testDb.db, file);
    const before = await everyRow(source.t.testDb);
    const target = await freshTarget();
    await restoreInto(target, file, source.t.recoveryKey!);
    const after = await everyRow(target);
    for (const table of BACKED_UP_TABLES) expect(after[table], table).toEqual(before[table]);
    expect(before['evidence_chunks']!.length).toBeGreaterThanOrEqual(REPORTS);
  }, 60_000);

  it('the file holds no canary and no triage value in plaintext', () => {
    const text = readFileSync(source.file).toString('latin1');
    expect(text.startsWith('HRBRBKUP')).toBe(true);
    const needles = [
      ...Array.from({ length: REPORTS }, (_, i) => narrativeCanary(i)),
      ...Array.from({ length: REPORTS }, (_, i) => fileCanary(i)),
      messageCanary,
      'uyghur',
      'china',
      'london',
      'threats',
      'family',
      ORG,
      source.staff.email,
      'Filed during the backup',
      'audit_log',
    ];
    for (const n of needles) {
      expect(contains(text, n), n).toBe(false);
      expect(text.includes(Buffer.from(n).toString('hex')), `${n} as hex`).toBe(false);
    }
  });

  it('a changed byte anywhere after the header is refused, with nothing restored', async () => {
    const bytes = readFileSync(source.file);
    for (const at of [9, 100, Math.floor(bytes.length / 2), bytes.length - 5]) {
      const bad = Buffer.from(bytes);
      bad[at] = bad[at]! ^ 0x01;
      const file = path.join(dir, `flipped-${at}.hbk`);
      writeFileSync(file, bad);
      const target = await freshTarget();
      const err = await restoreInto(target, file, source.t.recoveryKey!).catch((e: unknown) => e);
      expect(err, `byte ${at}`).toBeInstanceOf(BackupError);
      expect((err as Error).message).toMatch(/changed or damaged|incomplete or damaged|does not open this backup/);
      expect(await nothingRestored(target)).toBe(true);
    }
  }, 120_000);

  it('a truncated file is refused, with nothing restored', async () => {
    const bytes = readFileSync(source.file);
    for (const keep of [bytes.length - 1, bytes.length - 40, Math.floor(bytes.length / 2), 50]) {
      const file = path.join(dir, `cut-${keep}.hbk`);
      writeFileSync(file, bytes.subarray(0, keep));
      const target = await freshTarget();
      const err = await restoreInto(target, file, source.t.recoveryKey!).catch((e: unknown) => e);
      expect(err, `${keep} bytes`).toBeInstanceOf(BackupError);
      expect((err as Error).message).toMatch(/incomplete|changed or damaged/);
      expect(await nothingRestored(target)).toBe(true);
    }
  }, 120_000);

  it('a wrong recovery key, or a mistyped one, is refused before anything is written', async () => {
    const target = await freshTarget();
    const wrong = encodeRecoveryKey(newKeyPair().privateKey);
    await expect(restoreInto(target, source.file, wrong)).rejects.toThrow(/does not open this backup/);
    await expect(
      restoreInto(
        target,
        source.file,
        source.t.recoveryKey!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
      ),
    ).rejects.toThrow(/not a valid recovery key/);
    expect(await bq.lastMigration(target.db)).toBeNull(); // not even migrated
    const notBackup = path.join(dir, 'not-a-backup.hbk');
    writeFileSync(notBackup, 'PGDMP this is something else');
    await expect(restoreInto(target, notBackup, source.t.recoveryKey!)).rejects.toThrow(/not a Harbour backup/);
  });

  it('a backup from a newer Harbour (a migration this code does not know) is refused before anything is written', async () => {
    const pub = (await source.t.testDb.db.selectFrom('installation').select('recovery_public_key').executeTakeFirstOrThrow()).recovery_public_key;
    const enc = new BackupEncryptor(pub);
    const pre = preamble(enc.sealedKey);
    const header = { harbourBackup: 1, migration: '2099_01_01_000000_from_the_future', createdAt: new Date().toISOString(), tables: [] };
    const file = path.join(dir, 'future.hbk');
    writeFileSync(file, Buffer.concat([pre, enc.start(pre), frame(enc.encrypt(message(KIND.header, JSON.stringify(header)), false))]));
    const target = await freshTarget();
    await expect(restoreInto(target, file, source.t.recoveryKey!)).rejects.toThrow(/newer than this version of Harbour knows: upgrade Harbour first/);
    expect(await bq.lastMigration(target.db)).toBeNull();
  });

  it('a file forged with the recovery public key cannot bring in tables a backup never holds (sessions), nor a malformed header', async () => {
    const pub = (await source.t.testDb.db.selectFrom('installation').select('recovery_public_key').executeTakeFirstOrThrow()).recovery_public_key;
    const migration = (await bq.lastMigration(source.t.testDb.db))!;
    const forged = (name: string, header: unknown) => {
      const enc = new BackupEncryptor(pub);
      const pre = preamble(enc.sealedKey);
      const file = path.join(dir, name);
      writeFileSync(file, Buffer.concat([pre, enc.start(pre), frame(enc.encrypt(message(KIND.header, JSON.stringify(header)), false))]));
      return file;
    };
    const base = { harbourBackup: 1, migration, createdAt: new Date().toISOString() };
    const target = await freshTarget();
    for (const [name, header] of [
      ['sessions.hbk', { ...base, tables: [{ name: 'sessions', columns: ['id_hash'] }] }],
      ['migrations.hbk', { ...base, tables: [{ name: 'kysely_migration', columns: ['name'] }] }],
      [
        'twice.hbk',
        {
          ...base,
          tables: [
            { name: 'users', columns: [] },
            { name: 'users', columns: [] },
          ],
        },
      ],
      ['shape.hbk', { ...base, tables: 'users' }],
      ['proto.hbk', { ...base, tables: [{ name: '__proto__', columns: [] }] }],
      ['null.hbk', null],
    ] as const) {
      await expect(restoreInto(target, forged(name, header), source.t.recoveryKey!), name).rejects.toThrow(BackupError);
    }
    expect(await bq.lastMigration(target.db)).toBeNull(); // refused before the target was touched
  });

  it('a non-empty installation is refused', async () => {
    const target = await freshTarget();
    await restoreInto(target, source.file, source.t.recoveryKey!);
    const reports = await bq.rowCount(target.db, 'reports');
    await expect(restoreInto(target, source.file, source.t.recoveryKey!)).rejects.toThrow(/not empty/);
    expect(await bq.rowCount(target.db, 'reports')).toBe(reports);
    await expect(restoreInto(source.t.testDb, source.file, source.t.recoveryKey!)).rejects.toThrow(/not empty/);
  }, 60_000);

  it('every table of the schema is backed up or left out on purpose, and a new one stops the backup', async () => {
    const tables = await bq.baseTables(source.t.testDb.db);
    expect(tables.filter((x) => !(BACKED_UP_TABLES as readonly string[]).includes(x) && !(x in NOT_BACKED_UP))).toEqual([]);
    expect(BACKED_UP_TABLES.filter((x) => !tables.includes(x))).toEqual([]);

    const extra = await createTestDb();
    cleanup.push(() => extra.close());
    await extra.db.schema.createTable('case_photos').addColumn('id', 'uuid').execute();
    const err = await writeBackup(extra.db, path.join(dir, 'extra.hbk')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupError);
    expect((err as Error).message).toContain('case_photos');
  });
});
