import { DecryptionError, type FieldContext, type KeyPair } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import { HttpError, notFound } from '../errors.js';
import { openDataKey } from '../staff/keys.js';
import * as q from './queries.js';
import { isUuid } from '../ids.js';

/**
 * The one door to a case (P11) and the names of its encrypted fields. What
 * is decrypted through it lives in the request's memory only; nothing is
 * logged.
 */

export const reportField = (id: string, field: string): FieldContext => ({ table: 'reports', id, field });
export const noteBody = (id: string): FieldContext => ({ table: 'case_notes', id, field: 'body' });
export const messageBody = (id: string): FieldContext => ({ table: 'messages', id, field: 'body' });

export type CaseRow = NonNullable<Awaited<ReturnType<typeof q.getCase>>>;
export type OpenCase = { id: string; row: CaseRow; dataKey: Uint8Array };

/**
 * A caseworker who holds no team key at all has not been approved yet (or
 * lost access with a deactivation): the queue and every case page say that
 * their access is waiting for a colleague's approval (403), the same for
 * every case id, so it tells nothing about which cases exist.
 */
export const accessPending = () => new HttpError(403, 'access_pending');

export function requireCaseAccess(teamKeys: ReadonlyMap<number, KeyPair>): void {
  if (teamKeys.size === 0) throw accessPending();
}

/**
 * The one door to a case (P11): a well-formed id of a submitted case whose
 * data key this caseworker's team keys open. A caseworker without any team
 * key is told their access is pending (requireCaseAccess). Everything else —
 * a malformed or unknown id, a pending report, a key the user does not hold
 * (a restricted case), a sealed key that fails to open — is the same 404.
 */
export async function openCase(db: Db, teamKeys: Map<number, KeyPair>, rawId: string): Promise<OpenCase> {
  requireCaseAccess(teamKeys);
  if (!isUuid(rawId)) throw notFound('case_not_found');
  const row = await q.getCase(db, rawId.toLowerCase());
  if (!row) throw notFound('case_not_found');
  let dataKey: Uint8Array | null;
  try {
    dataKey = openDataKey(teamKeys, row);
  } catch (err) {
    if (err instanceof DecryptionError) throw notFound('case_not_found');
    throw err;
  }
  if (!dataKey) throw notFound('case_not_found');
  return { id: row.id, row, dataKey };
}

/** A ciphertext that fails to authenticate (P8) shows as unreadable rather than failing the whole page. */
export function readable<T>(decrypt: () => T): T | null {
  try {
    return decrypt();
  } catch (err) {
    if (err instanceof DecryptionError || err instanceof SyntaxError) return null;
    throw err;
  }
}
