import { isUuid } from '../ids.js';

/**
 * The queue's sort orders and its page cursor: the sort key of the last row
 * shown, opaque to the browser and checked on the way back. No SQL here
 * (queue-queries.ts uses it).
 */

/** 'triage' is the default: urgent and overdue first, then the longest waiting (queue-queries.ts). */
export const SORTS = ['triage', 'newest', 'oldest', 'urgent'] as const;
export type QueueSort = (typeof SORTS)[number];

/** Where the next page starts in the newest, oldest and urgent-first orders: the sort key of the last row shown. */
export type PlainCursor = {
  sort: Exclude<QueueSort, 'triage'>;
  /** created_at to the microsecond, UTC, 'YYYY-MM-DDTHH:MM:SS.ffffffZ'. */
  createdAt: string;
  id: string;
  /** Only meaningful for the urgent-first sort. */
  urgent: boolean;
};

/**
 * Where the next page starts in the triage order. Which cases are overdue
 * depends on the clock, so the cursor carries the instant the first page was
 * for (`at`): every later page is ordered, and flagged, as of that instant,
 * and a case that falls overdue meanwhile is neither skipped nor shown twice.
 */
export type TriageCursor = {
  sort: 'triage';
  /** The first page's instant, to the millisecond: 'YYYY-MM-DDTHH:MM:SS.fffZ'. */
  at: string;
  /** 0 urgent, 1 overdue, 2 the other open cases, 3 closed. */
  tier: TriageTier;
  /** Open tiers: staff wrote last (the reporter is not waiting). Always false for closed. */
  idle: boolean;
  /** Open tiers: since when the reporter has been waiting; closed: created_at. Microseconds, UTC. */
  key: string;
  id: string;
};

export type QueueCursor = PlainCursor | TriageCursor;
export const TRIAGE_TIERS = [0, 1, 2, 3] as const;
export type TriageTier = (typeof TRIAGE_TIERS)[number];
/** The closed cases' tier, ordered newest first. */
export const CLOSED_TIER = 3;

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

const MILLI_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** An instant as Date.toISOString writes it, and that survives the round trip. */
function validInstant(text: string): boolean {
  if (!MILLI_TS.test(text)) return false;
  const ms = Date.parse(text);
  return !Number.isNaN(ms) && Number(text.slice(0, 4)) >= 1900 && new Date(ms).toISOString() === text;
}

/** Opaque to the browser: base64url of the sort key as JSON. Not secret; every value is checked on the way back. */
export function encodeCursor(c: QueueCursor): string {
  const key =
    c.sort === 'triage'
      ? { s: c.sort, a: c.at, r: c.tier, w: c.idle, t: c.key, i: c.id }
      : c.sort === 'urgent'
        ? { s: c.sort, u: c.urgent, t: c.createdAt, i: c.id }
        : { s: c.sort, t: c.createdAt, i: c.id };
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
  if (sort === 'triage') {
    const at = o['a'];
    const tier = o['r'];
    const idle = o['w'];
    if (typeof at !== 'string' || !validInstant(at)) return null;
    if (!(TRIAGE_TIERS as readonly unknown[]).includes(tier)) return null;
    if (typeof idle !== 'boolean' || (tier === CLOSED_TIER && idle)) return null;
    return { sort, at, tier: tier as TriageTier, idle, key: createdAt, id };
  }
  let urgent = false;
  if (sort === 'urgent') {
    if (typeof o['u'] !== 'boolean') return null;
    urgent = o['u'];
  }
  return { sort: sort as PlainCursor['sort'], createdAt, id, urgent };
}
