import { randomBytes } from './keys.js';
import { sodium } from './sodium.js';

/**
 * Keys for hashing client addresses in the rate-limit table (P10).
 *
 * The day's key is derived from a secret that is never written to the
 * database and the UTC date, so a copy of the database alone cannot test
 * candidate addresses against the stored hashes (all of IPv4 is a few hours
 * on one core when the key sits next to the hashes). Every instance given
 * the same secret derives the same key, so per-client limits stay shared
 * across instances behind one PostgreSQL.
 */

const ROOT_CONTEXT = 'harbour ip-hash root v1\n';
const DAY_CONTEXT = 'iphashdy'; // crypto_kdf contexts are 8 characters

/** The 32-byte root from the operator's secret (any length; the config asks for at least 32 characters). */
export function ipHashRoot(secret: string | Uint8Array): Uint8Array {
  const s = sodium();
  const bytes = typeof secret === 'string' ? s.from_string(secret) : secret;
  const input = new Uint8Array(ROOT_CONTEXT.length + bytes.length);
  input.set(s.from_string(ROOT_CONTEXT));
  input.set(bytes, ROOT_CONTEXT.length);
  return s.crypto_generichash(32, input, null);
}

/** The day's key: the day (days since 1970-01-01, UTC) is the KDF's subkey id. */
export function ipHashDayKey(root: Uint8Array, day: number): Uint8Array {
  if (!Number.isSafeInteger(day) || day < 0) throw new RangeError('day must be a whole number of days since 1970');
  return sodium().crypto_kdf_derive_from_key(32, day, DAY_CONTEXT, root);
}

/** Today's number for ipHashDayKey, in UTC. */
export function utcDay(now = Date.now()): number {
  return Math.floor(now / 86_400_000);
}

let processSecret: Uint8Array | null = null;

/**
 * Without a configured secret: one random secret per process, made on first
 * use and held only in memory. Every app built in this process shares it; a
 * second process (another instance) has its own, so its per-client counts
 * are its own (.env.example says so).
 */
export function processIpHashSecret(): Uint8Array {
  return (processSecret ??= randomBytes(32));
}
