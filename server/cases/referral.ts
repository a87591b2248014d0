import { randomUUID } from 'node:crypto';
import { audit } from '../audit/log.js';
import { decryptJson, encryptJson, type FieldContext } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import { notFound } from '../errors.js';
import { ukToday } from '../i18n/dates.js';
import { staffTranslator } from '../i18n/index.js';
import { readable, type OpenCase } from './access.js';
import { CaseInputError, textInput } from './input.js';
import * as q from './queries.js';
import { notesOf, type NoteItem } from './reading.js';
import { LIMITS } from './vocabulary.js';
import { isUuid } from '../ids.js';

/**
 * Referral to police (docs/product.md): only with the reporter's consent, or with
 * an override reason a caseworker records (threat to life). The crime
 * reference, the reason and the chosen notes are encrypted with the report's
 * data key; destination, date and whether consent was overridden stay
 * plaintext for the audit log and statistics.
 */

export const DESTINATIONS = ['counter_terrorism_policing', 'local_police', 'action_fraud', 'other'] as const;

/** Where a case was referred, as the staff pages name it; an unknown code is shown as it is. */
export function destinationLabel(code: string): string {
  return (DESTINATIONS as readonly string[]).includes(code) ? staffTranslator()(`referral.destinations.${code}`) : code;
}
export const CRIME_REFERENCE_MAX = 100;

export type ReferralDetails = { crimeReference: string | null; overrideReason: string | null; noteIds: string[] };
const detailsField = (id: string): FieldContext => ({ table: 'referrals', id, field: 'details' });

export type ReferralItem = {
  id: string;
  destination: string;
  destinationLabel: string;
  referredOn: string;
  consentOverride: boolean;
  /** Null when the encrypted details fail to open (P8). */
  details: ReferralDetails | null;
  createdBy: string;
  createdAt: Date;
};

function isCalendarDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const [y, m, d] = s.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

export type ReferralForm = { destination: string; referredOn: string; crimeReference: string; noteIds: string[]; overrideReason: string };

export function referralForm(body: Record<string, unknown>): ReferralForm {
  const str = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
  return {
    destination: str('destination'),
    referredOn: str('referred_on').trim(),
    crimeReference: str('crime_reference'),
    noteIds: [body['notes'] ?? []]
      .flat()
      .filter((v): v is string => typeof v === 'string')
      .slice(0, 1000),
    overrideReason: str('override_reason'),
  };
}

/**
 * Records a referral and marks the case referred (triaged too, if it never
 * was). Refused with a CaseInputError, nothing stored, when the form is
 * incomplete, the case is closed, or consent is not 'yes' and no override
 * reason is given.
 */
export async function recordReferral(
  db: Db,
  actorId: string,
  c: OpenCase,
  consent: string | null,
  form: ReferralForm,
  now = new Date(),
): Promise<string> {
  const st = staffTranslator();
  if (!(DESTINATIONS as readonly string[]).includes(form.destination)) throw new CaseInputError('destination', st('referral.errors.destination'));
  if (!isCalendarDate(form.referredOn)) throw new CaseInputError('referred_on', st('referral.errors.date_format'));
  if (form.referredOn > ukToday(now)) throw new CaseInputError('referred_on', st('referral.errors.date_future'));
  if (form.referredOn < '2000-01-01') throw new CaseInputError('referred_on', st('referral.errors.date_too_early'));
  const crimeReference = textInput(form.crimeReference, 'crime_reference', CRIME_REFERENCE_MAX, false) || null;
  const noteIds = [...new Set(form.noteIds.map((n) => n.toLowerCase()))];
  if (noteIds.length) {
    const known = new Set((await q.listNotes(db, c.id)).map((n) => n.id));
    if (noteIds.some((n) => !isUuid(n) || !known.has(n))) throw new CaseInputError('notes', st('referral.errors.notes'));
  }
  const consentOverride = consent !== 'yes';
  const overrideReason = consentOverride ? textInput(form.overrideReason, 'override_reason', LIMITS.reason) : null;

  const current = await q.lockWorkflow(db, c.id);
  if (!current) throw notFound('case_not_found');
  if (current.status === 'closed') throw new CaseInputError('destination', st('referral.errors.closed'));

  const id = randomUUID();
  const details: ReferralDetails = { crimeReference, overrideReason, noteIds };
  await q.insertReferral(db, {
    id,
    report_id: c.id,
    destination: form.destination,
    referred_on: form.referredOn,
    consent_override: consentOverride,
    details: encryptJson(c.dataKey, details, detailsField(id)),
    created_by: actorId,
  });
  await q.updateWorkflow(db, c.id, { status: 'referred', triaged: 'set_if_null' });
  await audit(db, { action: 'case.referred', actorId, caseId: c.id, details: { referralId: id, destination: form.destination, consentOverride } });
  if (current.status !== 'referred') {
    await audit(db, { action: 'case.status_changed', actorId, caseId: c.id, details: { from: current.status, to: 'referred', outcome: null } });
  }
  return id;
}

function toItem(c: OpenCase, r: NonNullable<Awaited<ReturnType<typeof q.getReferral>>>): ReferralItem {
  return {
    id: r.id,
    destination: r.destination,
    destinationLabel: destinationLabel(r.destination),
    referredOn: r.referred_on,
    consentOverride: r.consent_override,
    details: readable(() => decryptJson<ReferralDetails>(c.dataKey, r.details, detailsField(r.id))),
    createdBy: r.created_by_name ?? staffTranslator()('common.former_staff'),
    createdAt: r.created_at,
  };
}

export async function referralsOf(db: Db, c: OpenCase): Promise<ReferralItem[]> {
  return (await q.listReferrals(db, c.id)).map((r) => toItem(c, r));
}

/** One referral of this case (never another case's: the query names both ids, P11); 404 otherwise. */
export async function openReferral(db: Db, c: OpenCase, rawId: string): Promise<ReferralItem> {
  if (!isUuid(rawId)) throw notFound();
  const row = await q.getReferral(db, c.id, rawId.toLowerCase());
  if (!row) throw notFound();
  return toItem(c, row);
}

/** The notes a referral chose, in the order they were written. */
export async function chosenNotes(db: Db, c: OpenCase, referral: ReferralItem): Promise<NoteItem[]> {
  const ids = new Set(referral.details?.noteIds ?? []);
  return (await notesOf(db, c)).filter((n) => ids.has(n.id));
}
