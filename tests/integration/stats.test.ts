import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellText } from '../../server/stats/disclosure.js';
import { archiveForStatistics } from '../../server/stats/archive-queries.js';
import { buildStatistics, periodOf, PeriodError, type Statistics } from '../../server/stats/tables.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { insertReports, type ReportFacts } from '../helpers/reports.js';
import { addStaff, signInStaff } from '../helpers/staff.js';

/** Statistics over hand-built data: the disclosure rules hold on real aggregates, deletion does not change them. */
let t: TestApp;
const label = (kind: string, code: string) => `${kind}:${code}`;
const period = periodOf('2026-Q1', '2026-Q2');
const rules = { threshold: 10, base: 5 };

const addReports = (n: number, f: ReportFacts & { categories: string[]; at: string }) => insertReports(t, n, f);

const cell = (s: Statistics, table: string, row: string, col: string) => {
  const tb = s.tables.find((x) => x.id === table)!;
  const r = tb.rows.findIndex((x) => x.key === row);
  const c = tb.columns.findIndex((x) => x.key === col);
  return cellText(tb.data.cells[r]![c]!);
};

let threatIds: string[] = [];
beforeAll(async () => {
  t = await createTestApp();
  threatIds = await addReports(9, { categories: ['threats'], at: '2026-02-10T12:00:00Z' }); // 9 → [c]
  await addReports(30, { categories: ['threats'], at: '2026-05-10T12:00:00Z' });
  await addReports(12, { categories: ['family'], at: '2026-02-11T12:00:00Z' }); // 12 → 10
  await addReports(13, { categories: ['family'], at: '2026-05-11T12:00:00Z', community: 'tibetan' });
  await addReports(13, { categories: ['legal'], at: '2026-05-12T12:00:00Z', community: 'tibetan' }); // 13 → 15
  await addReports(22, { categories: ['legal'], at: '2026-02-12T12:00:00Z', community: 'tibetan' }); // 22 → 20
  await addReports(40, { categories: ['surveillance', 'digital'], at: '2026-05-20T12:00:00Z', status: 'closed', outcome: 'resolved' });
  await addReports(30, { categories: ['recruitment'], at: '2025-12-31T23:00:00Z' }); // outside the period
});
afterAll(async () => {
  await t.close();
});

describe('statistics', () => {
  it('applies the rules to real aggregates: [c], zeros, rounding, secondary suppression, totals', async () => {
    const s = await buildStatistics(t.testDb.db, period, rules, label);
    expect(cell(s, 'category-quarter', 'threats', '2026-01-01')).toBe('[c]');
    // threats Q1 (9) would be alone in its row and column: threats Q2 (30, the row's smallest other)
    // is hidden too, then family Q1 and Q2 (the smallest others in those columns).
    expect(cell(s, 'category-quarter', 'threats', '2026-04-01')).toBe('[c]');
    expect(cell(s, 'category-quarter', 'family', '2026-01-01')).toBe('[c]');
    expect(cell(s, 'category-quarter', 'family', '2026-04-01')).toBe('[c]');
    expect(cell(s, 'category-quarter', 'legal', '2026-04-01')).toBe('15');
    expect(cell(s, 'category-quarter', 'legal', '2026-01-01')).toBe('20');
    expect(cell(s, 'category-quarter', 'return', '2026-01-01')).toBe('0');
    expect(cell(s, 'category-quarter', 'recruitment', '2026-01-01')).toBe('0'); // 2025 Q4 is outside
    const tb = s.tables.find((x) => x.id === 'category-quarter')!;
    // Q1 column: threats 9 is hidden, so a second cell in that column is hidden too.
    expect(tb.data.cells.map((r) => r[0]!).filter((c) => c.kind === 'suppressed').length).toBeGreaterThanOrEqual(2);
    // No row or column is left with a lone hidden cell.
    for (const row of tb.data.cells) expect(row.filter((c) => c.kind === 'suppressed').length).not.toBe(1);
    // Totals from unrounded data: Q1 column 9 + 12 + 22 = 43 → 45; grand total 9 + 30 + 12 + 13 + 13 + 22 + 40 + 40 = 179 → 180.
    expect(cellText(tb.data.columnTotals[0]!)).toBe('45');
    expect(cellText(tb.data.grandTotal)).toBe('180');
  });

  it('holds no free text, no case id and no date finer than a quarter', async () => {
    const json = JSON.stringify(await buildStatistics(t.testDb.db, period, rules, label));
    expect(json).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}/);
    for (const date of json.match(/\d{4}-\d{2}-\d{2}/g) ?? []) expect(date).toMatch(/-(01|04|07|10)-01$/);
    expect(json).not.toMatch(/T\d{2}:\d{2}/);
  });

  it('published figures do not change when retention deletes a case (archived first)', async () => {
    const before = JSON.stringify(await buildStatistics(t.testDb.db, period, rules, label));
    for (const id of threatIds.slice(0, 5)) {
      await t.testDb.db.transaction().execute(async (trx) => {
        await archiveForStatistics(trx, id);
        await trx.deleteFrom('reports').where('id', '=', id).execute();
      });
    }
    expect(JSON.stringify(await buildStatistics(t.testDb.db, period, rules, label))).toBe(before);
  });

  it('a retired or renamed list value keeps its counts', async () => {
    await t.testDb.db
      .updateTable('list_items')
      .set({ retired_at: new Date(), labels: JSON.stringify({ en: 'Tibetan (old)' }) })
      .where('list', '=', 'community')
      .where('code', '=', 'tibetan')
      .execute();
    await t.testDb.db.deleteFrom('list_items').where('list', '=', 'region').where('code', '=', 'london').execute();
    const s = await buildStatistics(t.testDb.db, period, rules, label);
    expect(cell(s, 'category-community', 'legal', 'tibetan')).toBe('35');
    expect(cell(s, 'category-community', 'family', 'tibetan')).toBe('15');
    expect(s.tables.find((x) => x.id === 'region-quarter')!.rows.some((r) => r.key === 'london')).toBe(true);
  });

  it('counts each referred report once, follows referrals added and removed, and keeps the count after deletion', async () => {
    const own = await createTestApp();
    try {
      const db = own.testDb.db;
      const q1 = await insertReports(own, 20, { categories: ['threats'], at: '2026-02-10T12:00:00Z' });
      const q2 = await insertReports(own, 12, { categories: ['threats'], at: '2026-05-10T12:00:00Z' });
      const refer = (ids: string[]) =>
        db
          .insertInto('referrals')
          .values(
            ids.map((report_id) => ({
              id: randomUUID(),
              report_id,
              destination: 'police_met',
              referred_on: '2026-06-01',
              consent_override: false,
              details: new Uint8Array(40),
            })),
          )
          .execute();
      await refer(q1.slice(0, 15));
      await refer(q1.slice(0, 5)); // referred twice: still one referred report
      await refer(q2.slice(0, 10));
      const referred = async () =>
        Number(
          (
            await db
              .selectFrom('reports')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('referred', '=', true)
              .executeTakeFirstOrThrow()
          ).n,
        );
      expect(await referred()).toBe(25);
      const police = async () => {
        const s = await buildStatistics(db, period, rules, label);
        return [cell(s, 'outcome-quarter', 'referred_to_police', '2026-01-01'), cell(s, 'outcome-quarter', 'referred_to_police', '2026-04-01')];
      };
      expect(await police()).toEqual(['15', '10']);

      // A referral removed: the report stops counting only when it has none left.
      await db.deleteFrom('referrals').where('report_id', 'in', q1.slice(5, 10)).execute();
      const [first] = await db.selectFrom('referrals').select('id').where('report_id', '=', q1[0]!).execute();
      await db.deleteFrom('referrals').where('id', '=', first!.id).execute();
      expect(await referred()).toBe(20);
      expect(await police()).toEqual(['10', '10']);

      // Retention deletes referred cases (archived first): the figures stay.
      for (const id of q2.slice(0, 5)) {
        await db.transaction().execute(async (trx) => {
          await archiveForStatistics(trx, id);
          await trx.deleteFrom('reports').where('id', '=', id).execute();
        });
      }
      expect(await police()).toEqual(['10', '10']);
    } finally {
      await own.close();
    }
  });

  it('periods are whole quarters, in order, at most five years', () => {
    expect(periodOf('2025-Q4', '2026-Q1')).toEqual({ from: '2025-10-01', to: '2026-01-01' });
    expect(() => periodOf('2026-Q2', '2026-Q1')).toThrow(PeriodError);
    expect(() => periodOf('2026-03', '2026-Q1')).toThrow(PeriodError);
    expect(() => periodOf('2020-Q1', '2026-Q1')).toThrow(PeriodError);
  });

  it('the page, the CSV and the JSON agree cell by cell; each view and export is audited; admins only', async () => {
    const admin = await addStaff(t, { roles: ['admin'] });
    const agent = await signInStaff(t, admin);
    const page = await agent.get('/admin/statistics?from=2026-Q1&to=2026-Q2');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<svg');
    const csv = await agent.get('/admin/statistics.csv?from=2026-Q1&to=2026-Q2');
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.text).toContain('suppressed and shown as [c]');
    const json = await agent.get('/admin/statistics.json?from=2026-Q1&to=2026-Q2');
    const body = json.body as { rules: { threshold: number }; tables: { id: string; rows: { label: string; cells: string[] }[] }[] };
    expect(body.rules.threshold).toBe(10);
    const s = await buildStatistics(t.testDb.db, period, rules, (k, c) => c);
    // CSV: a header block, then one block per table (title, column names, rows, totals).
    const blocks = csv.text.split('\r\n\r\n').slice(1);
    // The charts draw each row's total: its figure (the last <text> of each bar) equals the table's total cell.
    const charts = [...page.text.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => m[0]);
    expect(charts).toHaveLength(body.tables.length);
    body.tables.forEach((tb, k) => {
      const figures = [...charts[k]!.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]).filter((_, i) => i % 2 === 1);
      expect(figures, `chart ${tb.id}`).toEqual(tb.rows.map((r) => r.cells.at(-1)));
    });
    body.tables.forEach((tb, k) => {
      const built = s.tables.find((x) => x.id === tb.id)!;
      const lines = blocks[k]!.split('\r\n');
      expect(lines[0]).toBe(`# ${built.title}`);
      tb.rows.forEach((row, i) => {
        expect(row.cells.slice(0, -1)).toEqual(built.data.cells[i]!.map(cellText));
        // The same cells, in the same order, in the CSV line and the page row.
        expect(lines[i + 2]!.split(',').slice(-row.cells.length)).toEqual(row.cells);
        const cellsHtml = row.cells.map((c) => `<td>${c}</td>`).join('');
        expect(page.text).toContain(cellsHtml);
      });
    });
    const actions = (await t.testDb.db.selectFrom('audit_log').select('action').where('actor_id', '=', admin.id).execute()).map((a) => a.action);
    expect(actions.filter((a) => a === 'stats.viewed')).toHaveLength(1);
    expect(actions.filter((a) => a === 'stats.exported')).toHaveLength(2);
    expect((await agent.get('/admin/statistics?from=2026-Q3&to=2026-Q1')).status).toBe(400);
    const cw = await signInStaff(t, await addStaff(t, { roles: ['caseworker'] }));
    expect((await cw.get('/admin/statistics')).status).toBe(403);
    expect((await cw.get('/admin/statistics.csv')).status).toBe(403);
  });
});
