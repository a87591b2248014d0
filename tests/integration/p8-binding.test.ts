import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecryptionError } from '../../server/crypto/index.js';
import { decryptEvidence } from '../../server/reporting/evidence.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { VALID_REPORT, fileReport, signInWithReceipt } from '../helpers/reporter.js';
import { readAsTeam, teamKey } from '../helpers/staff.js';

/**
 * P8: every ciphertext is bound to its row and field. Swapping ciphertexts
 * between two reports, or between two fields of one report, or chunks
 * between two files, makes decryption fail instead of showing the wrong text.
 */
let t: TestApp;
const ids: string[] = [];
const receipts: string[] = [];
beforeAll(async () => {
  t = await createTestApp();
  for (const n of [1, 2]) {
    const { receipt } = await fileReport(t.app, { ...VALID_REPORT, narrative: `Report number ${n}` }, [
      { name: `file${n}.txt`, content: Buffer.from(`contents of file ${n} `.repeat(10_000)) },
    ]);
    receipts.push(receipt);
  }
  ids.push(...(await t.testDb.db.selectFrom('reports').select('id').orderBy('submitted_at').execute()).map((r) => r.id));
});
afterAll(async () => {
  await t.close();
});

describe('P8 bound ciphertexts', () => {
  it('both reports decrypt before tampering', async () => {
    const team = await teamKey(t.testDb.db, t.recoveryKey!);
    expect((await readAsTeam(t.testDb.db, team, ids[0]!)).narrative).toBe('Report number 1');
    expect((await readAsTeam(t.testDb.db, team, ids[1]!)).narrative).toBe('Report number 2');
  });

  it("a narrative moved to another report fails to decrypt, even with that report's key", async () => {
    const db = t.testDb.db;
    const team = await teamKey(db, t.recoveryKey!);
    const [a, b] = await Promise.all(ids.map((id) => db.selectFrom('reports').selectAll().where('id', '=', id).executeTakeFirstOrThrow()));
    // Move report 1's narrative AND data key into report 2: the key opens, the binding does not.
    await db.updateTable('reports').set({ narrative: a!.narrative, data_key_sealed: a!.data_key_sealed }).where('id', '=', b!.id).execute();
    await expect(readAsTeam(db, team, b!.id)).rejects.toThrow(DecryptionError);
    // Restore, then swap fields inside one report: details into narrative.
    await db.updateTable('reports').set({ narrative: b!.narrative, data_key_sealed: b!.data_key_sealed }).where('id', '=', b!.id).execute();
    expect((await readAsTeam(db, team, b!.id)).narrative).toBe('Report number 2');
    await db.updateTable('reports').set({ narrative: b!.details, details: b!.narrative }).where('id', '=', b!.id).execute();
    await expect(readAsTeam(db, team, b!.id)).rejects.toThrow(DecryptionError);
    await db.updateTable('reports').set({ narrative: b!.narrative, details: b!.details }).where('id', '=', b!.id).execute();
  });

  it('a receipt-wrapped key moved to another report does not open it', async () => {
    const db = t.testDb.db;
    expect((await signInWithReceipt(t.app, receipts[0]!)).res.status).toBe(303); // control: it opens before tampering
    const [a, b] = await Promise.all(ids.map((id) => db.selectFrom('reports').selectAll().where('id', '=', id).executeTakeFirstOrThrow()));
    // Give report 2 the lookup hash and wrapped key of report 1 (so report 1's receipt now finds row 2).
    await db.updateTable('reports').set({ receipt_lookup: null }).where('id', '=', a!.id).execute();
    await db
      .updateTable('reports')
      .set({ receipt_lookup: a!.receipt_lookup, data_key_wrapped: a!.data_key_wrapped })
      .where('id', '=', b!.id)
      .execute();
    // Report 1's receipt now finds row 2, but its wrapped key is bound to row 1: nothing opens.
    const moved = await signInWithReceipt(t.app, receipts[0]!);
    expect(moved.res.status).toBe(422);
    expect(moved.res.text).not.toMatch(/Report number [12]/);
    await db
      .updateTable('reports')
      .set({ receipt_lookup: b!.receipt_lookup, data_key_wrapped: b!.data_key_wrapped })
      .where('id', '=', b!.id)
      .execute();
    await db.updateTable('reports').set({ receipt_lookup: a!.receipt_lookup }).where('id', '=', a!.id).execute();
  });

  it('evidence chunks swapped between two files fail to decrypt', async () => {
    const db = t.testDb.db;
    const team = await teamKey(db, t.recoveryKey!);
    const files = await db.selectFrom('evidence').selectAll().where('report_id', 'in', ids).orderBy('created_at').execute();
    expect(files).toHaveLength(2);
    const [f1, f2] = files;
    const key2 = (await readAsTeam(db, team, f2!.report_id)).dataKey;
    const read = async (f: typeof f1) => {
      const out: Uint8Array[] = [];
      for await (const c of decryptEvidence(db, key2, f!)) out.push(c);
      return Buffer.concat(out).toString();
    };
    expect(await read(f2)).toContain('contents of file 2');
    // Chunk 0 of file 1 replaces chunk 0 of file 2.
    const c1 = await db.selectFrom('evidence_chunks').select('data').where('evidence_id', '=', f1!.id).where('seq', '=', 0).executeTakeFirstOrThrow();
    await db.updateTable('evidence_chunks').set({ data: c1.data }).where('evidence_id', '=', f2!.id).where('seq', '=', 0).execute();
    await expect(read(f2)).rejects.toThrow(DecryptionError);
  });

  it('a tampered report is refused on the status page, not shown', async () => {
    const db = t.testDb.db;
    const { receipt } = await fileReport(t.app, { ...VALID_REPORT, narrative: 'Report three' });
    const row = await db.selectFrom('reports').selectAll().orderBy('submitted_at', 'desc').executeTakeFirstOrThrow();
    const other = await db.selectFrom('reports').select('details').where('id', '=', ids[0]!).executeTakeFirstOrThrow();
    await db.updateTable('reports').set({ details: other.details }).where('id', '=', row.id).execute();
    const { agent } = await signInWithReceipt(t.app, receipt);
    const page = await agent.get('/en/status');
    expect(page.status).toBe(500);
    expect(page.text).not.toContain('Report three');
    expect(page.text).not.toMatch(/DecryptionError|at .*\.ts/);
  });
});
