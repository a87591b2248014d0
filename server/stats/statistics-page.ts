import type { Request, RequestHandler, Response } from 'express';
import { audit } from '../audit/log.js';
import { HttpError } from '../errors.js';
import { listItem, listLabel, loadLists, type ListName, type Lists } from '../settings/lists.js';
import { staffOf } from '../staff/context.js';
import type { AppContext } from '../web/context.js';
import { contentDisposition } from '../web/download.js';
import { staffTranslator, translator } from '../i18n/index.js';
import { DEFAULT_RULES, MIN_AVERAGE_BASE, cellText, type Cell } from './disclosure.js';
import { PeriodError, buildStatistics, periodOf, quarterLabel, type Statistics, type StatsTable } from './tables.js';

/** The open states the outcome table has rows for, besides one row per closing outcome ('closed:…'). */
export const OUTCOME_ROWS = ['new', 'triaged', 'in_progress', 'referred', 'referred_to_police'] as const;

function outcomeRowLabel(code: string): string {
  const st = staffTranslator();
  if ((OUTCOME_ROWS as readonly string[]).includes(code)) return st(`statistics.outcomes.${code}`);
  return code.startsWith('closed:') ? st('statistics.outcomes.closed', { outcome: code.slice(7).replace(/_/g, ' ') }) : code;
}

function labeller(lists: Lists) {
  const t = translator('en');
  return (kind: string, code: string): string => {
    if (kind === 'category') return t(`categories.${code}.label`, { defaultValue: code });
    if (kind === 'outcome') return outcomeRowLabel(code);
    return listLabel(t, 'en', kind as ListName, listItem(lists, kind as ListName, code));
  };
}

/**
 * The fixed tables, by id, whose title and row heading the staff pages and
 * exports take from the staff locale file (statistics.tables.*).
 */
export const TABLE_IDS = ['category-quarter', 'category-community', 'region-quarter', 'state-category', 'outcome-quarter'] as const;

/** A table with its title and row heading in the staff interface's words (an unknown table keeps its own). */
function titled(tb: StatsTable): StatsTable {
  if (!(TABLE_IDS as readonly string[]).includes(tb.id)) return tb;
  const st = staffTranslator();
  const key = tb.id.replace(/-/g, '_');
  return { ...tb, title: st(`statistics.tables.${key}.title`), rowTitle: st(`statistics.tables.${key}.row_title`) };
}

/** The last eight whole quarters, ending with the current one. */
function defaultQuarters(now = new Date()): { from: string; to: string } {
  const y = now.getUTCFullYear();
  const qn = Math.floor(now.getUTCMonth() / 3) + 1;
  const back = y * 4 + (qn - 1) - 7;
  return { from: `${Math.floor(back / 4)}-Q${(back % 4) + 1}`, to: `${y}-Q${qn}` };
}

async function statisticsFor(ctx: AppContext, req: Request): Promise<Statistics> {
  const d = defaultQuarters();
  const from = typeof req.query['from'] === 'string' && req.query['from'] ? req.query['from'] : d.from;
  const to = typeof req.query['to'] === 'string' && req.query['to'] ? req.query['to'] : d.to;
  try {
    const { statsThreshold } = await ctx.settings();
    const stats = await buildStatistics(
      ctx.db,
      periodOf(from, to),
      { ...DEFAULT_RULES, threshold: statsThreshold },
      labeller(await loadLists(ctx.db)),
    );
    return { ...stats, tables: stats.tables.map(titled) };
  } catch (err) {
    if (err instanceof PeriodError) throw new HttpError(400, 'bad_period');
    throw err;
  }
}

const rulesText = (s: Statistics) =>
  staffTranslator()('statistics.rules', {
    threshold: s.rules.threshold,
    base: s.rules.base,
    minBase: MIN_AVERAGE_BASE,
    from: quarterLabel(s.period.from),
    to: quarterLabel(s.period.to),
  });

/** Horizontal bars of a table's row totals, drawn on the server (no script); the table is the text alternative. */
function barChart(id: string, title: string, bars: { label: string; cell: Cell }[]): string {
  const max = Math.max(1, ...bars.map((b) => (b.cell.kind === 'value' ? b.cell.value : 0)));
  const rowH = 22;
  const height = bars.length * rowH + 10;
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const rows = bars
    .map((b, i) => {
      const y = i * rowH + 5;
      const w = b.cell.kind === 'value' ? Math.round((b.cell.value / max) * 300) : 0;
      return (
        `<text x="0" y="${y + 15}" font-size="12">${esc(b.label.slice(0, 38))}</text>` +
        `<rect x="250" y="${y + 3}" width="${w}" height="14" fill="#0b4f8a"></rect>` +
        `<text x="${256 + w}" y="${y + 15}" font-size="12">${esc(cellText(b.cell))}</text>`
      );
    })
    .join('');
  const chartTitle = staffTranslator()('statistics.chart_title', { title });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 ${height}" role="img" aria-labelledby="${id}-chart-title" class="chart"><title id="${id}-chart-title">${esc(chartTitle)}</title>${rows}</svg>`;
}

export function statisticsPage(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { user } = staffOf(res);
    const st = staffTranslator();
    let stats: Statistics;
    try {
      stats = await statisticsFor(ctx, req);
    } catch (err) {
      if (err instanceof HttpError && err.code === 'bad_period') {
        return res.status(400).render('admin/statistics', {
          title: st('statistics.title'),
          stats: null,
          error: st('statistics.errors.period'),
          query: req.query,
          charts: [],
          rules: '',
          cellText,
        });
      }
      throw err;
    }
    await audit(ctx.db, { action: 'stats.viewed', actorId: user.id, details: { from: stats.period.from, to: stats.period.to } });
    const charts = stats.tables.map((tb) =>
      barChart(
        tb.id,
        tb.title,
        tb.rows.map((r, i) => ({ label: r.label, cell: tb.data.rowTotals[i]! })),
      ),
    );
    res.render('admin/statistics', {
      title: st('statistics.title'),
      stats,
      error: null,
      query: req.query,
      charts,
      rules: rulesText(stats),
      cellText,
    });
  };
}

/**
 * One CSV cell. A cell that begins with =, +, -, @, a tab or a carriage
 * return is a formula to a spreadsheet (OWASP, CSV injection): a list label
 * an administrator typed as "=HYPERLINK(…)" would run when the export is
 * opened. Such a cell is prefixed with ' so it reads as text. Then the
 * usual quoting: a cell with a quote, comma or line break is quoted.
 */
export function csvField(v: string): string {
  const text = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const csvLine = (cells: string[]) => cells.map(csvField).join(',');

export function statisticsExport(ctx: AppContext, format: 'csv' | 'json'): RequestHandler {
  return async (req, res: Response) => {
    const { user } = staffOf(res);
    const st = staffTranslator();
    const total = st('statistics.total');
    const stats = await statisticsFor(ctx, req);
    await audit(ctx.db, { action: 'stats.exported', actorId: user.id, details: { format, from: stats.period.from, to: stats.period.to } });
    const name = `harbour-statistics-${stats.period.from.slice(0, 7)}-to-${stats.period.to.slice(0, 7)}`;
    if (format === 'json') {
      res.setHeader('Content-Disposition', contentDisposition('attachment', `${name}.json`));
      return res.json({
        rules: { threshold: stats.rules.threshold, roundingBase: stats.rules.base, averagesMinimumBase: 25, description: rulesText(stats) },
        period: { from: quarterLabel(stats.period.from), to: quarterLabel(stats.period.to) },
        tables: stats.tables.map((tb) => ({
          id: tb.id,
          title: tb.title,
          columns: [...tb.columns.map((c) => c.label), total],
          rows: tb.rows.map((r, i) => ({ label: r.label, cells: [...tb.data.cells[i]!.map(cellText), cellText(tb.data.rowTotals[i]!)] })),
          totals: [...tb.data.columnTotals.map(cellText), cellText(tb.data.grandTotal)],
        })),
        firstResponse: stats.firstResponse.map((f) => ({
          quarter: f.label,
          answered: cellText(f.answered),
          unanswered: cellText(f.unanswered),
          meanDays: cellText(f.meanDays),
        })),
      });
    }
    // Every line, the "# title" lines too, goes through csvField: a title with a comma would otherwise start a new cell.
    const lines = [csvLine([`# ${st('statistics.csv_title')}`]), csvLine([`# ${rulesText(stats)}`]), ''];
    for (const tb of stats.tables) {
      lines.push(csvLine([`# ${tb.title}`]));
      lines.push(csvLine([tb.rowTitle, ...tb.columns.map((c) => c.label), total]));
      tb.rows.forEach((r, i) => lines.push(csvLine([r.label, ...tb.data.cells[i]!.map(cellText), cellText(tb.data.rowTotals[i]!)])));
      lines.push(csvLine([total, ...tb.data.columnTotals.map(cellText), cellText(tb.data.grandTotal)]));
      lines.push('');
    }
    lines.push(csvLine([`# ${st('statistics.response.csv_title')}`]));
    lines.push(
      csvLine([
        st('statistics.response.quarter'),
        st('statistics.response.answered'),
        st('statistics.response.unanswered'),
        st('statistics.response.mean_days'),
      ]),
    );
    for (const f of stats.firstResponse) lines.push(csvLine([f.label, cellText(f.answered), cellText(f.unanswered), cellText(f.meanDays)]));
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', contentDisposition('attachment', `${name}.csv`));
    res.send('\uFEFF' + lines.join('\r\n') + '\r\n');
  };
}
