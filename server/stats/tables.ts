import type { Db } from '../db/index.js';
import { loadLists, type ListName } from '../settings/lists.js';
import { CATEGORIES } from '../reporting/taxonomy.js';
import { checkRules, protectTable, protectedMean, type Cell, type ProtectedTable, type Rules } from './disclosure.js';
import * as q from './queries.js';

/**
 * The fixed tables of docs/statistics.md, built from aggregates and passed through
 * disclosure control before anything else sees them. The page, CSV, JSON and
 * charts all render from this one structure, so they agree cell by cell.
 */
export type Axis = { key: string; label: string }[];
export type StatsTable = { id: string; title: string; rowTitle: string; columnTitle: string; rows: Axis; columns: Axis; data: ProtectedTable };
export type FirstResponseRow = { quarter: string; label: string; answered: Cell; unanswered: Cell; meanDays: Cell };
export type Statistics = { period: q.Period; quarters: Axis; rules: Rules; tables: StatsTable[]; firstResponse: FirstResponseRow[] };

export class PeriodError extends Error {}

const QUARTER = /^(\d{4})-Q([1-4])$/;

/** '2026-Q1' → '2026-01-01'; whole quarters only. */
export function quarterStart(text: string): string {
  const m = QUARTER.exec(text);
  if (!m) throw new PeriodError('Choose quarters like 2026-Q1.');
  return `${m[1]}-${String((Number(m[2]) - 1) * 3 + 1).padStart(2, '0')}-01`;
}

export function quarterLabel(start: string): string {
  return `${start.slice(0, 4)} Q${(Number(start.slice(5, 7)) - 1) / 3 + 1}`;
}

export function quartersBetween(from: string, to: string): string[] {
  const out: string[] = [];
  let [y, m] = [Number(from.slice(0, 4)), Number(from.slice(5, 7))];
  const end = to;
  for (let guard = 0; guard < 100; guard++) {
    const s = `${y}-${String(m).padStart(2, '0')}-01`;
    if (s > end) break;
    out.push(s);
    m += 3;
    if (m > 12) [y, m] = [y + 1, 1];
  }
  return out;
}

/** Validates a period of whole quarters (at most five years). */
export function periodOf(fromQuarter: string, toQuarter: string): q.Period {
  const from = quarterStart(fromQuarter);
  const to = quarterStart(toQuarter);
  if (from > to) throw new PeriodError('The first quarter must not be after the last.');
  if (quartersBetween(from, to).length > 20) throw new PeriodError('Choose at most five years (20 quarters).');
  return { from, to };
}

function matrix(counts: q.PairCount[], rows: Axis, columns: Axis): number[][] {
  const index = new Map(counts.map((c) => [`${c.row}\u0000${c.col}`, c.n]));
  return rows.map((r) => columns.map((c) => index.get(`${r.key}\u0000${c.key}`) ?? 0));
}

/** List values in list order, retired ones included, plus any code still found in the data (never lose a count). */
function axisFor(listItems: { code: string }[], counts: q.PairCount[], side: 'row' | 'col', label: (code: string) => string): Axis {
  const codes = listItems.map((i) => i.code);
  for (const c of counts) if (!codes.includes(c[side])) codes.push(c[side]);
  return codes.map((key) => ({ key, label: label(key) }));
}

export async function buildStatistics(db: Db, period: q.Period, rulesIn: Rules, label: (kind: string, code: string) => string): Promise<Statistics> {
  const rules = checkRules(rulesIn);
  const lists = await loadLists(db);
  const quarters: Axis = quartersBetween(period.from, period.to).map((key) => ({ key, label: quarterLabel(key) }));
  const categories: Axis = CATEGORIES.map((key) => ({ key, label: label('category', key) }));
  const list = (name: ListName, counts: q.PairCount[], side: 'row' | 'col') => axisFor(lists[name], counts, side, (c) => label(name, c));

  const {
    categoryByQuarter: byQuarter,
    categoryByCommunity: byCommunity,
    regionByQuarter: regions,
    stateByCategory: states,
    outcomeByQuarter: outcomes,
    firstResponse: response,
  } = await q.aggregates(
    db,
    period,
    quarters.map((qt) => qt.key),
  );
  const outcomeKeys = [
    'new',
    'triaged',
    'in_progress',
    'referred',
    ...new Set(
      outcomes
        .map((o) => o.row)
        .filter((k) => k.startsWith('closed:'))
        .sort(),
    ),
    'referred_to_police',
  ];
  const outcomeAxis: Axis = [...new Set(outcomeKeys)].map((key) => ({ key, label: label('outcome', key) }));

  const table = (id: string, title: string, rowTitle: string, columnTitle: string, counts: q.PairCount[], rows: Axis, columns: Axis): StatsTable => ({
    id,
    title,
    rowTitle,
    columnTitle,
    rows,
    columns,
    data: protectTable(matrix(counts, rows, columns), rules),
  });
  const communities = list('community', byCommunity, 'col');
  const regionAxis = list('region', regions, 'row');
  const stateAxis = list('state', states, 'row');

  return {
    period,
    quarters,
    rules,
    tables: [
      table('category-quarter', 'Reports by category and quarter', 'Category', 'Quarter', byQuarter, categories, quarters),
      table('category-community', 'Reports by category and community', 'Category', 'Community', byCommunity, categories, communities),
      table('region-quarter', 'Reports by region and quarter', 'Region', 'Quarter', regions, regionAxis, quarters),
      table('state-category', 'Reports by suspected state and category', 'Suspected state', 'Category', states, stateAxis, categories),
      table('outcome-quarter', 'Status and referral outcome by quarter', 'Status or outcome', 'Quarter', outcomes, outcomeAxis, quarters),
    ],
    firstResponse: quarters.map((qt) => {
      const r = response.find((x) => x.quarter === qt.key) ?? { answered: 0, daySum: 0, unanswered: 0 };
      const counts = protectTable([[r.answered, r.unanswered]], rules);
      return {
        quarter: qt.key,
        label: qt.label,
        answered: counts.cells[0]![0]!,
        unanswered: counts.cells[0]![1]!,
        meanDays: protectedMean(r.answered, r.daySum),
      };
    }),
  };
}
