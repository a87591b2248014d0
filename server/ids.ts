/**
 * Row ids are UUIDs. A value from a URL or a form is checked with isUuid
 * before it reaches a uuid column, so a malformed id is a 404 or a refused
 * input, never a database error. Either case is accepted; PostgreSQL stores
 * and returns lower case.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/**
 * The short case id the pages show: the first 8 hex digits of the id. As
 * typed (spaces around it and upper case forgiven), lower-cased; null if the
 * text is not one.
 */
export function shortIdOf(typed: string): string | null {
  const value = typed.trim().toLowerCase();
  return /^[0-9a-f]{8}$/.test(value) ? value : null;
}

/**
 * The ids that start with a short id, as a range of uuids (785b6810-0000-…
 * to 785b6810-ffff-…): a range on the primary key, which its index finds
 * whatever the number of cases. Used by the queue's search and by linking.
 */
export function shortIdRange(shortId: string): { from: string; to: string } {
  return { from: `${shortId}-0000-0000-0000-000000000000`, to: `${shortId}-ffff-ffff-ffff-ffffffffffff` };
}
