import { audit } from '../audit/log.js';
import { readAlertKey, type AlertKeyProblem } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import type { AlertOthers, AlertUrgent } from '../db/schema.js';
import { staffTranslator } from '../i18n/index.js';
import type { AllowedAlertKind } from '../settings/settings.js';
import * as q from './alert-queries.js';

/**
 * Each staff member's e-mail alert choices (issue 11), from /staff/account:
 * when urgent reports and everything else are mailed, and an optional
 * OpenPGP key the alerts are encrypted to. The alerts themselves are sent by
 * server/alerts/; this file only checks and stores what a person chose, and
 * audits it (the choices, or a fingerprint: never key material).
 */

export const URGENT_CHOICES = ['now', 'with_others'] as const satisfies readonly AlertUrgent[];
export const OTHERS_CHOICES = ['now', 'batched', 'digest'] as const satisfies readonly AlertOthers[];
/** The batching interval's bounds, in minutes (the column's CHECK says the same). */
export const BATCH_MINUTES = { min: 5, max: 1440 } as const;
/**
 * The longest key accepted. With its urlencoding, a key this long still fits
 * the staff form's 64 kB body; a longer one is nearly always full of other
 * people's signatures, which an export with export-minimal leaves out.
 */
export const MAX_KEY_CHARS = 40_000;

export type AlertTiming = { alert_urgent: AlertUrgent; alert_others: AlertOthers; alert_batch_minutes: number };
export type TimingField = keyof AlertTiming;
export type TimingErrors = Partial<Record<TimingField, string>>;

/** A field as the form sent it: one string, or nothing usable (absent, or repeated into a list). */
function one(body: Record<string, unknown>, name: string): string | null {
  const v = Object.hasOwn(body, name) ? body[name] : undefined;
  return typeof v === 'string' ? v : null;
}

/** A choice from a fixed list, compared with the list (never used as a key), so `__proto__` is just an unknown value. */
function choice<C extends string>(value: string | null, choices: readonly C[]): C | null {
  return value !== null && (choices as readonly string[]).includes(value) ? (value as C) : null;
}

/**
 * The timing choices from the form. The interval is checked whenever it is
 * filled in, and needed only with "batched"; left empty otherwise, the
 * stored one is kept.
 */
export function parseTiming(body: Record<string, unknown>, current: AlertTiming): { value: AlertTiming } | { errors: TimingErrors } {
  const st = staffTranslator();
  const errors: TimingErrors = {};
  const urgent = choice(one(body, 'alert_urgent'), URGENT_CHOICES);
  if (!urgent) errors.alert_urgent = st('account.alerts.errors.urgent');
  const others = choice(one(body, 'alert_others'), OTHERS_CHOICES);
  if (!others) errors.alert_others = st('account.alerts.errors.others');
  const raw = one(body, 'alert_batch_minutes');
  const typed = raw?.trim() ?? '';
  let minutes = current.alert_batch_minutes;
  if (raw === null && Object.hasOwn(body, 'alert_batch_minutes')) errors.alert_batch_minutes = st('account.alerts.errors.minutes_whole');
  else if (typed !== '' || others === 'batched') {
    const n = /^\d{1,6}$/.test(typed) ? Number(typed) : NaN;
    if (!Number.isInteger(n)) errors.alert_batch_minutes = st('account.alerts.errors.minutes_whole');
    else if (n < BATCH_MINUTES.min) errors.alert_batch_minutes = st('account.alerts.errors.minutes_min', { min: BATCH_MINUTES.min });
    else if (n > BATCH_MINUTES.max) errors.alert_batch_minutes = st('account.alerts.errors.minutes_max', { max: BATCH_MINUTES.max });
    else minutes = n;
  }
  if (Object.keys(errors).length > 0 || !urgent || !others) return { errors };
  return { value: { alert_urgent: urgent, alert_others: others, alert_batch_minutes: minutes } };
}

/** Stores the timing choices and audits what they became; false when nothing changed (no entry then). */
export async function saveTiming(db: Db, userId: string, next: AlertTiming): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const current = await q.lockAlertChoices(trx, userId);
    const same =
      current.alert_urgent === next.alert_urgent &&
      current.alert_others === next.alert_others &&
      current.alert_batch_minutes === next.alert_batch_minutes;
    if (same) return false;
    await q.updateAlertTiming(trx, userId, next);
    await audit(trx, {
      action: 'staff.alert_preferences_changed',
      actorId: userId,
      subjectUserId: userId,
      details: { urgent: next.alert_urgent, others: next.alert_others, batch_minutes: next.alert_batch_minutes },
    });
    return true;
  });
}

const KEY_PROBLEMS: Record<AlertKeyProblem, () => string> = {
  unreadable: () => staffTranslator()('account.alerts.key_errors.unreadable'),
  private: () => staffTranslator()('account.alerts.key_errors.private'),
  expired: () => staffTranslator()('account.alerts.key_errors.expired'),
  revoked: () => staffTranslator()('account.alerts.key_errors.revoked'),
  cannot_encrypt: () => staffTranslator()('account.alerts.key_errors.cannot_encrypt'),
};

export type KeyRefusal = { error: string; /** false for a private key: it is not shown back on the page. */ keepPaste: boolean };

/** A pasted public key, checked (crypto/openpgp.ts): the key to store, or why not. */
export async function checkPastedKey(body: Record<string, unknown>): Promise<{ key: { armored: string; fingerprint: string } } | KeyRefusal> {
  const st = staffTranslator();
  const pasted = one(body, 'alert_pgp_key');
  if (pasted === null && Object.hasOwn(body, 'alert_pgp_key')) return { error: st('account.alerts.key_errors.one'), keepPaste: false };
  if (!pasted?.trim()) return { error: st('account.alerts.key_errors.empty'), keepPaste: false };
  if (pasted.length > MAX_KEY_CHARS) {
    return { error: st('account.alerts.key_errors.too_long', { max: MAX_KEY_CHARS.toLocaleString('en-GB') }), keepPaste: false };
  }
  const read = await readAlertKey(pasted);
  // A private key is never sent back, even one too damaged to read as a key: judged by its text, not by the parser.
  const looksPrivate = /PRIVATE KEY/i.test(pasted);
  if ('problem' in read) return { error: KEY_PROBLEMS[read.problem](), keepPaste: read.problem !== 'private' && !looksPrivate };
  return { key: read };
}

/** Stores a checked key (replacing any other) and audits its fingerprint and the one it replaced. */
export async function saveKey(db: Db, userId: string, key: { armored: string; fingerprint: string }): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const current = await q.lockAlertChoices(trx, userId);
    await q.updateAlertKey(trx, userId, key);
    await audit(trx, {
      action: 'staff.alert_key_set',
      actorId: userId,
      subjectUserId: userId,
      details: { fingerprint: key.fingerprint, replaced: current.alert_pgp_fingerprint },
    });
  });
}

/** Removes the key (alerts are then sent unencrypted); false when there was none. */
export async function removeKey(db: Db, userId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const current = await q.lockAlertChoices(trx, userId);
    if (current.alert_pgp_fingerprint === null) return false;
    await q.updateAlertKey(trx, userId, null);
    await audit(trx, {
      action: 'staff.alert_key_removed',
      actorId: userId,
      subjectUserId: userId,
      details: { fingerprint: current.alert_pgp_fingerprint },
    });
    return true;
  });
}

/** A fingerprint as people compare it, read aloud or against gpg's output: groups of four. */
export function groupFingerprint(fingerprint: string): string {
  return (fingerprint.toUpperCase().match(/.{1,4}/g) ?? []).join(' ');
}

/** What each kind an administrator may allow is called on the staff pages. */
export const ALERT_KIND_LABELS: Record<AllowedAlertKind, () => string> = {
  new_report: () => staffTranslator()('account.alerts.kinds.new_report'),
  urgent_report: () => staffTranslator()('account.alerts.kinds.urgent_report'),
  case_activity: () => staffTranslator()('account.alerts.kinds.case_activity'),
  case_overdue: () => staffTranslator()('account.alerts.kinds.case_overdue'),
  digest: () => staffTranslator()('account.alerts.kinds.digest'),
};
