import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purge } from '../../server/retention/purge.js';
import { buildStatistics, periodOf } from '../../server/stats/tables.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { VALID_REPORT, csrfFrom, fileReport, signInWithReceipt } from '../helpers/reporter.js';

/** Retention: closed cases past the period go with everything tied to them; statistics stay as published. */
let t: TestApp;
const count = async (table: 'reports' | 'evidence' | 'evidence_chunks' | 'messages' | 'sessions', reportIds: string[]) => {
  const db = t.testDb.db;
  if (table === 'evidence_chunks') {
    return Number((await db.selectFrom('evidence_chunks').innerJoin('evidence', 'evidence.id', 'evidence_chunks.evidence_id').select((eb) => eb.fn.countAll().as('n')).where('evidence.report_id', 'in', reportIds).executeTakeFirstOrThrow()).n);
  }
  const column = table === 'reports' ? 'id' : 'report_id';
  return Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).where(sql.ref(column), 'in', reportIds).executeTakeFirstOrThrow()).n);
};

async function fileClosed(daysAgo: number): Promise<string> {
  const { receipt } = await fileReport(t.app, VALID_REPORT, [{ name: 'n.txt', content: Buffer.from('evidence '.repeat(20_000)) }]);
  const { agent } = await signInWithReceipt(t.app, receipt);
  const token = await csrfFrom(agent, '/en/status');
  await agent.post('/en/status/messages').type('form').send({ _csrf: token, message: 'a message' });
  const row = await t.testDb.db.selectFrom('reports').select('id').orderBy('submitted_at', 'desc').executeTakeFirstOrThrow();
  await t.testDb.db
    .updateTable('reports')
    .set({ status: 'closed', closing_outcome: 'resolved', closed_at: new Date(Date.now() - daysAgo * 86_400_000), submitted_at: new Date(Date.now() - (daysAgo + 30) * 86_400_000) })
    .where('id', '=', row.id)
    .execute();
  return row.id;
}

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('retention', () => {
  it('deletes closed cases past the period with all their rows; keeps the rest; statistics unchanged', async () => {
    const old = [await fileClosed(400), await fileClosed(380)];
    const recent = await fileClosed(100);
    const extended = await fileClosed(500);
    await t.testDb.db.updateTable('reports').set({ retain_until: new Date(Date.now() + 30 * 86_400_000) }).where('id', '=', extended).execute();
    for (const table of ['reports', 'evidence', 'evidence_chunks', 'messages', 'sessions'] as const) expect(await count(table, old), table).toBeGreaterThan(0);

    const now = new Date();
    const year = now.getUTCFullYear();
    const period = periodOf(`${year - 2}-Q1`, `${year}-Q${Math.floor(now.getUTCMonth() / 3) + 1}`);
    const before = JSON.stringify(await buildStatistics(t.testDb.db, period, { threshold: 5, base: 5 }, (k, c) => c));

    const dry = await purge(t.testDb.db, { closedRetentionDays: 365, dryRun: true });
    expect(dry.due.sort()).toEqual([...old].sort());
    expect(await count('reports', old)).toBe(2);

    const res = await purge(t.testDb.db, { closedRetentionDays: 365 });
    expect(res.deleted).toBe(2);
    for (const table of ['reports', 'evidence', 'evidence_chunks', 'messages', 'sessions'] as const) expect(await count(table, old), table).toBe(0);
    expect(await count('reports', [recent, extended])).toBe(2);
    expect(JSON.stringify(await buildStatistics(t.testDb.db, period, { threshold: 5, base: 5 }, (k, c) => c))).toBe(before);
    const entry = await t.testDb.db.selectFrom('audit_log').select('details').where('action', '=', 'retention.purged').executeTakeFirstOrThrow();
    expect(entry.details).toEqual({ deleted: 2 });
  });

  it('two instances purging at once delete each case once', async () => {
    const due = [await fileClosed(400), await fileClosed(401), await fileClosed(402)];
    const archivedBefore = Number((await t.testDb.db.selectFrom('stats_archive').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const results = await Promise.all([purge(t.testDb.db, { closedRetentionDays: 365 }), purge(t.testDb.db, { closedRetentionDays: 365 })]);
    expect(results.reduce((a, r) => a + r.deleted, 0)).toBe(3);
    expect(await count('reports', due)).toBe(0);
    const archivedAfter = Number((await t.testDb.db.selectFrom('stats_archive').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    expect(archivedAfter - archivedBefore).toBe(3); // archived once each, not twice
  });
});
