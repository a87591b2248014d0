import { describe, expect, it } from 'vitest';
import { cellText, protectTable, protectedAverage, roundTo, type Cell, type ProtectedTable } from '../../../server/stats/disclosure.js';

const text = (cells: Cell[]) => cells.map(cellText);
const grid = (t: ProtectedTable) => t.cells.map(text);

/** Every value a hidden cell could take, given the shown (rounded) cells and totals of its row. */
function candidates(t: ProtectedTable, r: number, base: number): Set<number> {
  // An attacker knows: each shown cell is within ±base/2 of its true value, the shown total likewise.
  const shown = t.cells[r]!.map((c, i) => ({ c, i })).filter((x) => x.c.kind === 'value');
  const total = t.rowTotals[r]!;
  const out = new Set<number>();
  if (total.kind !== 'value') return new Set(Array.from({ length: 100 }, (_, i) => i));
  const half = base / 2;
  const minOthers = shown.reduce((a, x) => a + Math.max(0, (x.c as { value: number }).value - half), 0);
  const maxOthers = shown.reduce((a, x) => a + ((x.c as { value: number }).value + half), 0);
  const hiddenCount = t.cells[r]!.filter((c) => c.kind === 'suppressed').length;
  for (let v = 0; v < 100; v++) {
    // v is possible for one hidden cell if the rest (others + other hidden cells ≥ 0) can fill the total.
    const low = total.value - half - maxOthers - v;
    const high = total.value + half - minOthers - v;
    if (high >= 0 && (hiddenCount > 1 || low <= 0)) out.add(v);
  }
  return out;
}

describe('disclosure control', () => {
  it('rounds to base 5, halves up; true zero stays 0', () => {
    expect([0, 1, 2, 3, 12, 13, 15, 17, 18, 22, 23, 102].map((n) => roundTo(n, 5))).toEqual([0, 0, 0, 5, 10, 15, 15, 15, 20, 20, 25, 100]);
    expect(roundTo(12.5, 5)).toBe(15);
    const t = protectTable([[0, 12, 13, 40]]);
    expect(grid(t)).toEqual([['0', '10', '15', '40']]);
  });

  it('a cell of 9 is [c], and a second cell in its row and column is hidden so it cannot be recovered', () => {
    const t = protectTable([
      [9, 30, 41],
      [25, 60, 33],
      [18, 44, 52],
    ]);
    expect(cellText(t.cells[0]![0]!)).toBe('[c]');
    // Its row and its column each hold a second suppressed cell.
    expect(t.cells[0]!.filter((c) => c.kind === 'suppressed').length).toBeGreaterThanOrEqual(2);
    expect(t.cells.map((row) => row[0]!).filter((c) => c.kind === 'suppressed').length).toBeGreaterThanOrEqual(2);
    // From the row total and the shown cells, 9 is one of many possible values.
    const possible = candidates(t, 0, 5);
    expect(possible.size).toBeGreaterThan(10);
    // No row or column has a lone suppressed cell.
    for (const row of t.cells) expect(row.filter((c) => c.kind === 'suppressed').length).not.toBe(1);
    for (let c = 0; c < 3; c++) expect(t.cells.map((row) => row[c]!).filter((x) => x.kind === 'suppressed').length).not.toBe(1);
  });

  it('a lone suppressed cell in a row causes a second suppression of the smallest remaining cell', () => {
    const t = protectTable([[4, 50, 20, 90]]);
    expect(grid(t)).toEqual([['[c]', '50', '[c]', '90']]);
  });

  it('when a row has nothing else to hide, its total is hidden instead', () => {
    const t = protectTable([
      [7, 0, 0],
      [30, 40, 50],
    ]);
    expect(cellText(t.rowTotals[0]!)).toBe('[c]');
  });

  it('totals come from unrounded data, then are rounded (and suppressed below the threshold)', () => {
    // 12 + 12 + 12 = 36 → 35, while the rounded cells would sum to 30.
    const t = protectTable([[12, 12, 12]]);
    expect(grid(t)).toEqual([['10', '10', '10']]);
    expect(cellText(t.rowTotals[0]!)).toBe('35');
    expect(cellText(t.grandTotal)).toBe('35');
    const small = protectTable([
      [0, 0],
      [0, 0],
    ]);
    expect(cellText(small.grandTotal)).toBe('0');
    const tiny = protectTable([[3, 0]]);
    expect(cellText(tiny.rowTotals[0]!)).toBe('[c]');
  });

  it('the threshold is a setting but never below 5', () => {
    expect(grid(protectTable([[6, 30]], { threshold: 5, base: 5 }))).toEqual([['5', '30']]);
    expect(() => protectTable([[6, 30]], { threshold: 4, base: 5 })).toThrow(/at least 5/);
    expect(() => protectTable([[1.5]])).toThrow(RangeError);
    expect(() => protectTable([[1, 2], [3]])).toThrow(RangeError);
  });

  it('averages only on a base of at least 25', () => {
    expect(protectedAverage(Array.from({ length: 24 }, () => 3))).toEqual({ kind: 'suppressed' });
    expect(protectedAverage(Array.from({ length: 25 }, (_, i) => i))).toEqual({ kind: 'value', value: 12 });
  });
});
