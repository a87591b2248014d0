import { MIN_THRESHOLD } from '../settings/settings.js';

/**
 * Statistical disclosure control (docs/statistics.md), applied to every table
 * before it leaves the server, whatever the output (page, CSV, JSON, chart):
 *
 * - a count below the threshold (default 10, never below 5) is suppressed,
 *   shown as [c]; a true zero stays 0;
 * - secondary suppression: a row or column with exactly one suppressed cell
 *   gets a second one (its smallest remaining non-zero cell; if there is none,
 *   its total), repeated until no row or column has a lone suppressed cell;
 * - every other count is rounded to the nearest multiple of the base (5),
 *   halves up;
 * - totals are summed from the unrounded counts, then rounded, and suppressed
 *   when below the threshold.
 *
 * Written by hand: the rules are these few lines of policy, and no
 * maintained JavaScript package implements this convention.
 */
export type Cell = { kind: 'value'; value: number } | { kind: 'suppressed' };

export type Rules = Readonly<{ threshold: number; base: number }>;

export const DEFAULT_RULES: Rules = Object.freeze({ threshold: 10, base: 5 });
export { MIN_THRESHOLD };
export const MIN_AVERAGE_BASE = 25;

export type ProtectedTable = {
  cells: Cell[][];
  rowTotals: Cell[];
  columnTotals: Cell[];
  grandTotal: Cell;
};

export function checkRules(rules: Rules): Rules {
  if (!Number.isInteger(rules.threshold) || rules.threshold < MIN_THRESHOLD) {
    throw new RangeError(`the suppression threshold must be a whole number of at least ${MIN_THRESHOLD}`);
  }
  if (!Number.isInteger(rules.base) || rules.base < 1) throw new RangeError('the rounding base must be a positive whole number');
  return rules;
}

/** Nearest multiple of `base`, halves up. */
export function roundTo(value: number, base: number): number {
  return Math.floor(value / base + 0.5) * base;
}

const value = (v: number): Cell => ({ kind: 'value', value: v });
const SUPPRESSED: Cell = Object.freeze({ kind: 'suppressed' });

function protectTotal(sum: number, rules: Rules, forced: boolean): Cell {
  if (forced || (sum > 0 && sum < rules.threshold)) return SUPPRESSED;
  return value(roundTo(sum, rules.base));
}

/** Applies the rules to a table of raw counts (rows × columns of non-negative integers). */
export function protectTable(counts: readonly (readonly number[])[], rulesIn: Rules = DEFAULT_RULES): ProtectedTable {
  const rules = checkRules(rulesIn);
  const rows = counts.length;
  const cols = rows ? counts[0]!.length : 0;
  for (const row of counts) {
    if (row.length !== cols) throw new RangeError('every row needs the same number of columns');
    for (const n of row) if (!Number.isInteger(n) || n < 0) throw new RangeError('counts are non-negative whole numbers');
  }

  // Primary suppression.
  const hidden = counts.map((row) => row.map((n) => n > 0 && n < rules.threshold));
  const hiddenRowTotal = new Array<boolean>(rows).fill(false);
  const hiddenColumnTotal = new Array<boolean>(cols).fill(false);

  // Secondary suppression, to a fixed point (each pass hides at least one more cell, so it ends).
  const smallestVisible = (cells: { n: number; r: number; c: number }[]) =>
    cells.filter((x) => !hidden[x.r]![x.c] && x.n > 0).sort((a, b) => a.n - b.n || a.r - b.r || a.c - b.c)[0];
  for (let changed = true; changed;) {
    changed = false;
    for (let r = 0; r < rows; r++) {
      if (hidden[r]!.filter(Boolean).length !== 1 || hiddenRowTotal[r]) continue;
      const pick = smallestVisible(counts[r]!.map((n, c) => ({ n, r, c })));
      if (pick) hidden[pick.r]![pick.c] = true;
      else hiddenRowTotal[r] = true;
      changed = true;
    }
    for (let c = 0; c < cols; c++) {
      if (hidden.filter((row) => row[c]).length !== 1 || hiddenColumnTotal[c]) continue;
      const pick = smallestVisible(counts.map((row, r) => ({ n: row[c]!, r, c })));
      if (pick) hidden[pick.r]![pick.c] = true;
      else hiddenColumnTotal[c] = true;
      changed = true;
    }
  }

  const cells = counts.map((row, r) => row.map((n, c) => (hidden[r]![c] ? SUPPRESSED : value(roundTo(n, rules.base)))));
  const rowSums = counts.map((row) => row.reduce((a, b) => a + b, 0));
  const columnSums = Array.from({ length: cols }, (_, c) => counts.reduce((a, row) => a + row[c]!, 0));
  return {
    cells,
    rowTotals: rowSums.map((s, r) => protectTotal(s, rules, hiddenRowTotal[r]!)),
    columnTotals: columnSums.map((s, c) => protectTotal(s, rules, hiddenColumnTotal[c]!)),
    grandTotal: protectTotal(
      rowSums.reduce((a, b) => a + b, 0),
      rules,
      false,
    ),
  };
}

/** An average (e.g. days to first response) only over a base of at least 25 cases; otherwise suppressed. */
export function protectedAverage(values: readonly number[]): Cell {
  return protectedMean(
    values.length,
    values.reduce((a, b) => a + b, 0),
  );
}

/** The same rule from a count and a sum (what the statistics queries return). */
export function protectedMean(count: number, sum: number): Cell {
  if (count < MIN_AVERAGE_BASE) return SUPPRESSED;
  return value(Math.round((sum / count) * 10) / 10);
}

/** The text every output uses for a cell. */
export function cellText(cell: Cell): string {
  return cell.kind === 'suppressed' ? '[c]' : String(cell.value);
}
