/**
 * The database is away (restarting, unreachable, out of disk, too slow):
 * not a bug, and not the visitor's fault. Routes let it reach the error
 * handler, which answers 503 with a "try again" page at once instead of a
 * 500, a hang or a crash.
 */
export class DatabaseUnavailableError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'DatabaseUnavailableError';
  }
}

// PostgreSQL error classes that mean "the server cannot do this now":
// 08 connection exception, 53 insufficient resources (disk full, out of
// memory, too many connections), 57P01–57P05 shut down / cannot connect now /
// idle session timeout, 57014 canceled (our statement_timeout), 55P03 lock
// not available (our lock_timeout), 58 system error (I/O).
const UNAVAILABLE_SQLSTATE = /^(08|53|58)|^57P0[1-5]$|^57014$|^55P03$/;
// Node socket errors and node-postgres's own messages for a lost or slow server.
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
const UNAVAILABLE_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Query read timeout',
  'is not queryable',
  'Client was closed',
  'Cannot use a pool after calling end',
];

export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_NODE_CODES.has(code))) return true;
  return UNAVAILABLE_MESSAGES.some((m) => err.message.includes(m));
}
