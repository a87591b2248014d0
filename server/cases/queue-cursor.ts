import { isUuid } from '../ids.js';

/**
 * The queue's sort orders and its page cursor: the sort key of the last row
 * shown, opaque to the browser and checked on the way back. No SQL here
 * (queue-queries.ts uses it).
 */

export const SORTS = ['newest', 'oldest', 'urgent'] as const;
export type QueueSort = (typeof SORTS)[number];

/** Where the next page starts: the sort key of the last row shown. */
export type QueueCursor = {
  sort: QueueSort;
  /** created_at to the microsecond, UTC, 'YYYY-MM-DDTHH:MM:SS.ffffffZ'. */
  createdAt: string;
  id: string;
  /** Only meaningful for the urgent-first sort. */
  urgent: boolean;
};

const MICRO_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * A real instant PostgreSQL accepts: JavaScript rolls 30 February over to
 * March where PostgreSQL refuses it (an error page), so the text must
 * survive a round trip; years outside 1900–9999 are no case's.
 */
function validTimestamp(text: string): boolean {
  if (!MICRO_TS.test(text)) return false;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return false;
  const year = Number(text.slice(0, 4));
  return year >= 1900 && new Date(ms).toISOString().slice(0, 23) === text.slice(0, 23);
}

/** Opaque to the browser: base64url of the sort key as JSON. Not secret; every value is checked on the way back. */
export function encodeCursor(c: QueueCursor): string {
  const key = c.sort === 'urgent' ? { s: c.sort, u: c.urgent, t: c.createdAt, i: c.id } : { s: c.sort, t: c.createdAt, i: c.id };
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** The cursor, or null for anything malformed (the caller then shows the first page). */
export function decodeCursor(raw: string): QueueCursor | null {
  if (!raw || raw.length > 300 || !/^[A-Za-z0-9_-]+$/.test(raw)) return null;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const sort = o['s'];
  const createdAt = o['t'];
  const id = o['i'];
  if (typeof sort !== 'string' || !(SORTS as readonly string[]).includes(sort)) return null;
  if (typeof createdAt !== 'string' || !validTimestamp(createdAt)) return null;
  if (!isUuid(id) || id !== id.toLowerCase()) return null; // lower case, as encodeCursor writes it
  let urgent = false;
  if (sort === 'urgent') {
    if (typeof o['u'] !== 'boolean') return null;
    urgent = o['u'];
  }
  return { sort: sort as QueueSort, createdAt, id, urgent };
}
