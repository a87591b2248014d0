import { decryptText, encryptField, newSessionToken, parseSessionToken, toHex, type SessionToken } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import { HttpError, shuttingDown } from '../errors.js';
import * as q from './queries.js';

/**
 * One report per form (a double click, a retry after a slow answer, Back and
 * send again). The form carries a random key (`form_key`, made with the page);
 * the first request to reach the database with it claims it, and the others
 * wait for its outcome: when it filed the report they get the same receipt
 * (from a copy encrypted under a key derived from the form's key, which only
 * that page holds), and when it failed they may file it themselves.
 *
 * The key is a session-style token (crypto/tokens.ts): the row is found by
 * one derived hash and the receipt copy is encrypted under another, so the
 * table opens nothing without the page (P1).
 */
export type FormKey = SessionToken;

export const newFormKey = (): string => newSessionToken().cookieValue;
export const parseFormKey = (raw: string | undefined): FormKey | null => (raw ? parseSessionToken(raw) : null);

const receiptContext = (key: FormKey) => ({ table: 'form_submissions', id: toHex(key.idHash), field: 'receipt' });

export const sealReceiptForForm = (key: FormKey, receipt: string): Uint8Array => encryptField(key.key, receipt, receiptContext(key));

export type Claim =
  | { kind: 'mine' }
  /** Already filed by an earlier request; the receipt is null once it was typed back. */
  | { kind: 'sent'; reportId: string; receipt: string | null };

/**
 * Claims the form, or waits (polling every `pollMs`) while another request
 * is filing it. Waiting ends with that request's outcome, when this request
 * is gone, or when the process stops.
 */
export async function claimForm(
  db: Db,
  key: FormKey,
  opts: { pollMs?: number; maxWaitMs: number; gone: () => boolean; stopping: AbortSignal },
): Promise<Claim> {
  const started = Date.now();
  for (;;) {
    if (await q.insertFormClaim(db, key.idHash, opts.maxWaitMs + 60_000)) return { kind: 'mine' };
    const row = await q.findFormClaim(db, key.idHash);
    if (row?.state === 'sent' && row.report_id) {
      let receipt: string | null;
      try {
        receipt = row.receipt_sealed ? decryptText(key.key, row.receipt_sealed, receiptContext(key)) : null;
      } catch {
        receipt = null; // not this form's copy: treat it as already confirmed
      }
      return { kind: 'sent', reportId: row.report_id, receipt };
    }
    if (!row) continue; // the other request failed and gave the form back: claim it now
    if (opts.stopping.aborted) throw shuttingDown();
    if (opts.gone()) throw new HttpError(400, 'aborted');
    if (Date.now() - started > opts.maxWaitMs) throw new HttpError(409, 'already_sending');
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 250));
  }
}
