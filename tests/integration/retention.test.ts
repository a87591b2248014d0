import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purge } from '../../server/retention/purge.js';
import { buildStatistics, periodOf } from '../../server/stats/tables.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { contains, dumpAllTables } from '../helpers/dump.js';
import { addStaff, signInStaff, staffCsrf } from '../helpers/staff.js';
import { VALID_REPORT, csrfFrom, fileReport, signInWithReceipt } from '../helpers/reporter.js';

/** Retention: closed cases past the period go with everything tied to them; statistics stay as published. */
let t: TestApp;
const count = async (table: 'reports' | 'evidence' | 'evidence_chunks' | 'messages' | 'sessions', reportIds: string[]) => {
  const db = t.testDb.db;
  if (table === 'evidence_chunks') {
    return Number(
      (
        await db
          .selectFrom('evidence_chunks')
          .innerJoin('evidence', 'evidence.id', 'evidence_chunks.evidence_id')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('evidence.report_id', 'in', reportIds)
          .executeTakeFirstOrThrow()
      ).n,
    );
  }
  const column = table === 'reports' ? 'id' : 'report_id';
  return Number(
    (
      await db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('n'))
        .where(sql.ref(column), 'in', reportIds)
        .executeTakeFirstOrThrow()
    ).n,
  );
};

async function fileClosed(daysAgo: number): Promise<string> {
  const { receipt } = await fileReport(t.app, VALID_REPORT, [{ name: 'n.txt', content: Buffer.from('evidence '.repeat(20_000)) }]);
  const { agent } = await signInWithReceipt(t.app, receipt);
  const token = await csrfFrom(agent, '/en/status');
  await agent.post('/en/status/messages').type('form').send({ _csrf: token, message: 'a message' });
  const row = await t.testDb.db.selectFrom('reports').select('id').orderBy('submitted_at', 'desc').executeTakeFirstOrThrow();
  await t.testDb.db
    .updateTable('reports')
    .set({
      status: 'closed',
      closing_outcome: 'resolved',
      closed_at: new Date(Date.now() - daysAgo * 86_400_000),
      submitted_at: new Date(Date.now() - (daysAgo + 30) * 86_400_000),
    })
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
    await t.testDb.db
      .updateTable('reports')
      .set({ retain_until: new Date(Date.now() + 30 * 86_400_000) })
      .where('id', '=', extended)
      .execute();
    for (const table of ['reports', 'evidence', 'evidence_chunks', 'messages', 'sessions'] as const)
      expect(await count(table, old), table).toBeGreaterThan(0);

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
    const archivedBefore = Number(
      (
        await t.testDb.db
          .selectFrom('stats_archive')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
    const results = await Promise.all([purge(t.testDb.db, { closedRetentionDays: 365 }), purge(t.testDb.db, { closedRetentionDays: 365 })]);
    expect(results.reduce((a, r) => a + r.deleted, 0)).toBe(3);
    expect(await count('reports', due)).toBe(0);
    const archivedAfter = Number(
      (
        await t.testDb.db
          .selectFrom('stats_archive')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
    expect(archivedAfter - archivedBefore).toBe(3); // archived once each, not twice
  });
});

describe('caseworker retention actions', () => {
  async function caseworkerOn(id: string) {
    const cw = await addStaff(t, { roles: ['caseworker'] });
    const agent = await signInStaff(t, cw);
    const token = await staffCsrf(agent, `/staff/cases/${id}`);
    return { agent, token, cw };
  }

  it('flags a case on the queue 14 days before deletion, and keeps it when extended with a reason', async () => {
    const soon = await fileClosed(360); // deleted in 5 days
    const later = await fileClosed(300); // in 65 days: not flagged
    const { agent, token } = await caseworkerOn(soon);
    const queue = await agent.get('/staff/cases?status=closed');
    const rowOf = (html: string, id: string) => html.split('<tr>').find((r) => r.includes(`/staff/cases/${id}`)) ?? '';
    expect(rowOf(queue.text, soon)).toContain('Deleted on');
    expect(rowOf(queue.text, later)).not.toContain('Deleted on');
    expect(queue.text).toMatch(/closed cases? (is|are) deleted within 14 days/);
    const due = await agent.get('/staff/cases?status=closed&deleting=yes');
    expect(due.text).toContain(`/staff/cases/${soon}`);
    expect(due.text).not.toContain(`/staff/cases/${later}`);
    expect((await agent.get(`/staff/cases/${soon}`)).text).toContain('This case is deleted on');

    // Refused: no reason, a malformed date, a date before the deletion date, a date too far ahead.
    const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
    const refuse = async (form: Record<string, string>, field: string) => {
      const res = await agent
        .post(`/staff/cases/${soon}/retention`)
        .type('form')
        .send({ _csrf: token, ...form });
      expect(res.status, JSON.stringify(form)).toBe(422);
      expect(res.text).toContain(`id="${field}-error"`);
    };
    await refuse({ retain_until: inDays(200), retain_reason: '' }, 'retain_reason');
    await refuse({ retain_until: '31/03/2027', retain_reason: 'Police investigation' }, 'retain_until');
    await refuse({ retain_until: '2027-02-30', retain_reason: 'Police investigation' }, 'retain_until');
    await refuse({ retain_until: inDays(2), retain_reason: 'Police investigation' }, 'retain_until');
    await refuse({ retain_until: inDays(4 * 365), retain_reason: 'Police investigation' }, 'retain_until');
    expect((await t.testDb.db.selectFrom('reports').select('retain_until').where('id', '=', soon).executeTakeFirstOrThrow()).retain_until).toBeNull();

    const reason = 'Met Police investigation CANARY-RETAIN-7731 still open';
    const ok = await agent
      .post(`/staff/cases/${soon}/retention`)
      .type('form')
      .send({ _csrf: token, retain_until: inDays(200), retain_reason: reason });
    expect(ok.status).toBe(303);
    const page = await agent.get(`/staff/cases/${soon}`);
    expect(page.text).toContain(`Kept until ${inDays(200)}: ${reason}`); // the note, decrypted for the caseworker
    expect(page.text).toContain('extended');
    // The reason is stored encrypted only: no plaintext anywhere in the database.
    const dump = await dumpAllTables(t.testDb.db);
    expect(contains(dump, 'Met Police investigation')).toBe(false);
    expect(dump).toContain('case_notes'); // the dump sees the notes table
    const entry = await t.testDb.db
      .selectFrom('audit_log')
      .select('details')
      .where('action', '=', 'case.retention_extended')
      .where('case_id', '=', soon)
      .executeTakeFirstOrThrow();
    expect(entry.details).toMatchObject({ until: inDays(200) });

    // Past the period by 10 more days: still kept, because of the extension.
    await t.testDb.db
      .updateTable('reports')
      .set({ closed_at: new Date(Date.now() - 375 * 86_400_000) })
      .where('id', '=', soon)
      .execute();
    await purge(t.testDb.db, { closedRetentionDays: 365 });
    expect(await count('reports', [soon])).toBe(1);
    expect(rowOf((await agent.get('/staff/cases?status=closed')).text, soon)).not.toContain('Deleted on');
  });

  it('deletes a never-triaged report as spam with everything tied to it, only when confirmed', async () => {
    const { receipt } = await fileReport(t.app, VALID_REPORT, [{ name: 'spam.txt', content: Buffer.from('buy now '.repeat(10_000)) }]);
    const { agent: reporter } = await signInWithReceipt(t.app, receipt);
    const id = (await t.testDb.db.selectFrom('reports').select('id').orderBy('submitted_at', 'desc').executeTakeFirstOrThrow()).id;
    const { agent, token } = await caseworkerOn(id);
    expect((await agent.get(`/staff/cases/${id}`)).text).toContain('Delete as spam');

    const unconfirmed = await agent.post(`/staff/cases/${id}/spam`).type('form').send({ _csrf: token });
    expect(unconfirmed.status).toBe(422);
    expect(unconfirmed.text).toContain('Tick the box');
    expect(await count('reports', [id])).toBe(1);

    const done = await agent.post(`/staff/cases/${id}/spam`).redirects(0).type('form').send({ _csrf: token, confirm_spam: 'yes' });
    expect(done.status).toBe(303);
    expect(done.headers['location']).toBe('/staff/cases?notice=deleted');
    for (const table of ['reports', 'evidence', 'evidence_chunks', 'sessions'] as const) expect(await count(table, [id]), table).toBe(0);
    const after = await reporter.get('/en/status');
    expect(after.text).toContain('name="receipt"'); // the reporter's session went with it: asked for a receipt again
    expect(after.text).not.toContain('Withdraw and delete my report');
    expect((await agent.get(`/staff/cases/${id}`)).status).toBe(404);
    const entry = await t.testDb.db
      .selectFrom('audit_log')
      .select(['actor_id'])
      .where('action', '=', 'case.deleted_as_spam')
      .where('case_id', '=', id)
      .executeTakeFirst();
    expect(entry).toBeDefined();
  });

  it('refuses to delete a triaged case as spam', async () => {
    await fileReport(t.app, VALID_REPORT);
    const id = (await t.testDb.db.selectFrom('reports').select('id').orderBy('submitted_at', 'desc').executeTakeFirstOrThrow()).id;
    const { agent, token } = await caseworkerOn(id);
    expect((await agent.post(`/staff/cases/${id}/status`).type('form').send({ _csrf: token, status: 'triaged' })).status).toBe(303);
    expect((await agent.get(`/staff/cases/${id}`)).text).not.toContain('Delete as spam');
    const res = await agent.post(`/staff/cases/${id}/spam`).type('form').send({ _csrf: token, confirm_spam: 'yes' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('Only a report nobody has triaged');
    expect(await count('reports', [id])).toBe(1);
  });
});
