import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, auditPast } from '../../server/audit/log.js';
import { verifyAuditChain } from '../../server/audit/verify.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

/** auditPast: a history written after the fact, on the same chain as audit() and verified the same way. */
let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
});
afterAll(async () => {
  await t.close();
});

describe('auditPast', () => {
  it('appends entries with their own times, in the order given, and the chain verifies with audit() entries around them', async () => {
    const caseId = randomUUID();
    await audit(t.db, { action: 'stats.viewed' });
    const times = ['2025-01-02T03:04:05.678Z', '2025-01-02T03:04:05.678Z', '2025-06-30T23:59:59.999Z'];
    await auditPast(t.db, [
      { at: new Date(times[0]!), action: 'case.status_changed', caseId, details: { from: 'new', to: 'triaged', outcome: null } },
      { at: new Date(times[1]!), action: 'case.note_added', caseId: caseId.toUpperCase(), details: { noteId: randomUUID() } },
      { at: new Date(times[2]!), action: 'retention.purged', details: { deleted: 3 } },
    ]);
    // Concurrent appends of both kinds never fork the chain.
    await Promise.all([
      ...Array.from({ length: 16 }, () => audit(t.db, { action: 'stats.viewed' })),
      ...Array.from({ length: 4 }, () =>
        auditPast(t.db, [{ at: new Date('2024-01-01T00:00:00Z'), action: 'stats.exported', details: { format: 'csv' } }]),
      ),
    ]);
    const rows = await t.db.selectFrom('audit_log').select(['seq', 'at', 'action', 'case_id']).orderBy('seq').execute();
    expect(rows.slice(1, 4).map((r) => r.at.toISOString())).toEqual(times);
    expect(rows[2]!.case_id).toBe(caseId); // stored, and hashed, in PostgreSQL's lower-case form
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    const result = await verifyAuditChain(t.db);
    expect(result.problems).toEqual([]);
    expect(result.checked).toBe(24);
  });

  it('refuses an invalid time or id before writing anything', async () => {
    const before = (await t.db.selectFrom('audit_log').select('seq').execute()).length;
    await expect(auditPast(t.db, [{ at: new Date('not a date'), action: 'stats.viewed' }])).rejects.toThrow(/valid time/);
    await expect(
      auditPast(t.db, [
        { at: new Date(), action: 'stats.viewed' },
        { at: new Date(), action: 'case.viewed', caseId: '1 or 1=1' },
      ]),
    ).rejects.toThrow(/UUID/);
    expect((await t.db.selectFrom('audit_log').select('seq').execute()).length).toBe(before);
    await auditPast(t.db, []);
    expect((await verifyAuditChain(t.db)).ok).toBe(true);
  });
});
