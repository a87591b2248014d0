import { createHash } from 'node:crypto';
import type { Insertable } from 'kysely';
import { assertTransaction, type Db } from '../db/index.js';
import type { AuditLogTable } from '../db/schema.js';
import { insertEntries, lastEntry, lockChain } from './queries.js';
import { isUuid } from '../ids.js';

/**
 * The audit log: append-only, each entry hashed together with the previous
 * entry's hash (a chain), so `harbour audit verify` detects an edited,
 * inserted or deleted entry. Entries never hold content: ids, action names
 * and small plaintext facts (a status code, a destination), nothing a
 * reporter wrote.
 */

/** Every action the log records, in the order the audit page's filter offers them. */
export const AUDIT_ACTIONS = [
  'staff.sign_in',
  'staff.sign_in_failed',
  'staff.sign_out',
  'staff.sign_out_everywhere',
  'staff.totp_enrolled',
  'staff.password_changed',
  // A staff member's e-mail alert choices and OpenPGP key (issue 11): the choices or a fingerprint, never key material.
  'staff.alert_preferences_changed',
  'staff.alert_key_set',
  'staff.alert_key_removed',
  'staff.invited',
  'staff.invitation_revoked',
  'staff.invitation_accepted',
  'staff.created',
  'staff.deactivated',
  'staff.reactivated',
  'staff.totp_reset',
  'staff.access_requested',
  'staff.access_approved',
  'staff.access_refused',
  // Written by earlier versions, when a page view sealed waiting approvals; kept so old entries can be filtered.
  'staff.access_sealed',
  'keys.rotation_started',
  'keys.rotation_finished',
  'keys.recovered',
  'case.viewed',
  'case.evidence_downloaded',
  'case.status_changed',
  'case.reopened',
  'case.urgency_changed',
  'case.assigned',
  'case.labels_changed',
  'case.linked',
  'case.unlinked',
  'case.note_added',
  'case.message_sent',
  'case.referred',
  'case.referral_pack_viewed',
  'case.referral_bundle_downloaded',
  'case.retention_extended',
  'case.deleted_as_spam',
  'stats.viewed',
  'stats.exported',
  'settings.changed',
  'retention.purged',
  // E-mail alerts (issue 11): the kind and the recipient only.
  'alert.sent',
  'alert.failed',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export type AuditEntry = {
  action: AuditAction;
  actorId?: string | null;
  caseId?: string | null;
  subjectUserId?: string | null;
  details?: Record<string, string | number | boolean | null>;
};

export const GENESIS_HASH = new Uint8Array(32);

/** The exact bytes hashed for an entry: a fixed-order JSON array (no ambiguity, no key-order drift). */
export function entryHash(
  prevHash: Uint8Array,
  e: {
    seq: number;
    at: string;
    actorId: string | null;
    action: string;
    caseId: string | null;
    subjectUserId: string | null;
    details: Record<string, unknown>;
  },
): Uint8Array {
  const details = Object.fromEntries(Object.entries(e.details).sort(([a], [b]) => (a < b ? -1 : 1)));
  const canonical = JSON.stringify([e.seq, e.at, e.actorId, e.action, e.caseId, e.subjectUserId, details]);
  return new Uint8Array(createHash('sha256').update(prevHash).update(canonical).digest());
}

/** Ids are hashed in the form PostgreSQL stores them (lower case), or a genuine entry would fail verification. */
function storedId(id: string | null | undefined): string | null {
  if (id === null || id === undefined) return null;
  if (!isUuid(id)) throw new Error('audit ids must be UUIDs');
  return id.toLowerCase();
}

/**
 * Appends one entry. Appends from every instance are serialised by a
 * transaction-scoped advisory lock, so the chain never forks. Pass the
 * caller's transaction to make the entry part of the change it records.
 * (Callers passing a transaction: use the default READ COMMITTED isolation.
 * Under REPEATABLE READ the read of the last entry could miss a concurrent
 * commit; the insert would then fail on the primary key rather than fork the
 * chain, but the change it records would fail with it.)
 */
export async function audit(db: Db, entry: AuditEntry): Promise<void> {
  await append(db, [{ ...entry, at: null }]);
}

/** An entry with the moment it happened, for a history written after the fact. */
export type PastAuditEntry = AuditEntry & { at: Date };

/**
 * Appends entries that happened earlier, in the order given, exactly as
 * audit() would have appended them one by one (same lock, same chain, same
 * hash), each with its own time. Only `harbour seed --demo` uses it, to give
 * fictional cases a history; everything the app records happens now and goes
 * through audit().
 */
export async function auditPast(db: Db, entries: readonly PastAuditEntry[]): Promise<void> {
  for (const e of entries) if (!Number.isFinite(e.at.getTime())) throw new Error('auditPast: every entry needs a valid time');
  if (entries.length) await append(db, entries);
}

/** Rows per INSERT: 9 parameters a row, well under PostgreSQL's 65,535. */
const APPEND_BATCH = 1000;

type Appended = AuditEntry & { at: Date | null };

/**
 * The chain's lock is transaction-scoped, so appending always runs in a
 * transaction. Given the caller's, the entry is written with the change it
 * records, or not at all. Given a plain connection, the entry records no
 * write of its own (a read, a refused sign-in) and gets a transaction of its
 * own, only as long as the append.
 */
async function append(db: Db, entries: readonly Appended[]): Promise<void> {
  if (db.isTransaction) await appendInTransaction(db, entries);
  else await db.transaction().execute((trx) => appendInTransaction(trx, entries));
}

async function appendInTransaction(trx: Db, entries: readonly Appended[]): Promise<void> {
  assertTransaction(trx);
  await lockChain(trx, AUDIT_LOCK);
  const last = await lastEntry(trx);
  let seq = last ? Number(last.seq) : 0;
  let prevHash = last?.hash ?? GENESIS_HASH;
  let rows: Insertable<AuditLogTable>[] = [];
  for (const entry of entries) {
    seq += 1;
    // Read under the lock, so entries written now are in time order as well as seq order.
    // Microsecond precision survives the round trip through timestamptz unchanged.
    const at = (entry.at ?? new Date()).toISOString();
    const row = {
      seq,
      at,
      actorId: storedId(entry.actorId),
      action: entry.action,
      caseId: storedId(entry.caseId),
      subjectUserId: storedId(entry.subjectUserId),
      details: entry.details ?? {},
    };
    const hash = entryHash(prevHash, row);
    rows.push({
      seq,
      at,
      actor_id: row.actorId,
      action: row.action,
      case_id: row.caseId,
      subject_user_id: row.subjectUserId,
      details: JSON.stringify(row.details),
      prev_hash: prevHash,
      hash,
    });
    prevHash = hash;
    if (rows.length === APPEND_BATCH) {
      await insertEntries(trx, rows);
      rows = [];
    }
  }
  if (rows.length) await insertEntries(trx, rows);
}

/** Arbitrary constant identifying the audit chain's advisory lock. */
const AUDIT_LOCK = 7_406_921_113;
