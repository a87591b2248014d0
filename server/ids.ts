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
