import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Archiver, ZipOptions } from 'archiver';
import type { Response } from 'express';
import { audit } from '../audit/log.js';
import { decryptJson, encryptJson, type FieldContext } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import { notFound } from '../errors.js';
import { decryptEvidence } from '../reporting/evidence.js';
import * as q from './queries.js';
import {
  CaseInputError,
  LIMITS,
  UUID,
  evidenceList,
  notesOf,
  readable,
  textInput,
  type NoteItem,
  type OpenCase,
  type ReportView,
} from './service.js';

/**
 * Referral to police (product.md): only with the reporter's consent, or with
 * an override reason a caseworker records (threat to life). The crime
 * reference, the reason and the chosen notes are encrypted with the report's
 * data key; destination, date and whether consent was overridden stay
 * plaintext for the audit log and statistics.
 */

export const DESTINATIONS = ['counter_terrorism_policing', 'local_police', 'action_fraud', 'other'] as const;
export const DESTINATION_LABELS: Record<string, string> = {
  counter_terrorism_policing: 'Counter Terrorism Policing',
  local_police: 'A local police force',
  action_fraud: 'Action Fraud',
  other: 'Another organisation',
};
export const CRIME_REFERENCE_MAX = 100;

// archiver 7 is CommonJS with a factory as its export; the installed @types/archiver (8) describes
// archiver 8's class API instead, so the factory is typed here by hand.
// Loaded on the first bundle only: it is large and every other request can do without it.
let archiverFactory: ((format: 'zip', options?: ZipOptions) => Archiver) | null = null;
const archiver = (format: 'zip', options?: ZipOptions): Archiver =>
  (archiverFactory ??= createRequire(import.meta.url)('archiver') as (format: 'zip', options?: ZipOptions) => Archiver)(format, options);

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

/** Today's date where the organisation works (UK), as YYYY-MM-DD. */
export function today(now = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/London', year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

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
    noteIds: [body['notes'] ?? []].flat().filter((v): v is string => typeof v === 'string').slice(0, 1000),
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
  if (!(DESTINATIONS as readonly string[]).includes(form.destination)) throw new CaseInputError('destination', 'Choose where the case is referred to.');
  if (!isCalendarDate(form.referredOn)) throw new CaseInputError('referred_on', 'Enter the date of the referral as YYYY-MM-DD, for example 2026-11-24.');
  if (form.referredOn > today(now)) throw new CaseInputError('referred_on', 'The date of the referral cannot be in the future.');
  if (form.referredOn < '2000-01-01') throw new CaseInputError('referred_on', 'Enter a date after 1 January 2000.');
  const crimeReference = textInput(form.crimeReference, 'crime_reference', 'the crime reference number', CRIME_REFERENCE_MAX, false) || null;
  const noteIds = [...new Set(form.noteIds.map((n) => n.toLowerCase()))];
  if (noteIds.length) {
    const known = new Set((await q.listNotes(db, c.id)).map((n) => n.id));
    if (noteIds.some((n) => !UUID.test(n) || !known.has(n))) throw new CaseInputError('notes', 'Choose only notes of this case.');
  }
  const consentOverride = consent !== 'yes';
  const overrideReason = consentOverride
    ? textInput(form.overrideReason, 'override_reason', 'the reason for referring without the reporter’s consent', LIMITS.reason)
    : null;

  const current = await q.lockWorkflow(db, c.id);
  if (!current) throw notFound('case_not_found');
  if (current.status === 'closed') throw new CaseInputError('destination', 'This case is closed. Reopen it before recording a referral.');

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
    destinationLabel: DESTINATION_LABELS[r.destination] ?? r.destination,
    referredOn: r.referred_on,
    consentOverride: r.consent_override,
    details: readable(() => decryptJson<ReferralDetails>(c.dataKey, r.details, detailsField(r.id))),
    createdBy: r.created_by_name ?? 'A former staff member',
    createdAt: r.created_at,
  };
}

export async function referralsOf(db: Db, c: OpenCase): Promise<ReferralItem[]> {
  return (await q.listReferrals(db, c.id)).map((r) => toItem(c, r));
}

/** One referral of this case (never another case's: the query names both ids, P11); 404 otherwise. */
export async function openReferral(db: Db, c: OpenCase, rawId: string): Promise<ReferralItem> {
  if (!UUID.test(rawId)) throw notFound();
  const row = await q.getReferral(db, c.id, rawId.toLowerCase());
  if (!row) throw notFound();
  return toItem(c, row);
}

/** The notes a referral chose, in the order they were written. */
export async function chosenNotes(db: Db, c: OpenCase, referral: ReferralItem): Promise<NoteItem[]> {
  const ids = new Set(referral.details?.noteIds ?? []);
  return (await notesOf(db, c)).filter((n) => ids.has(n.id));
}

// ---------------------------------------------------------------- the bundle

const UNREADABLE = '[could not be decrypted: it may have been altered]';

/** A file name safe inside a zip on any system: letters, digits, dot, dash, underscore and space only. */
export function safeZipName(name: string): string {
  const cleaned = Array.from(
    name
      .normalize('NFC')
      .replace(/[^\p{L}\p{N}._ -]/gu, '_')
      .replace(/^[.\s]+/, ''),
  )
    .slice(0, 100)
    .join('')
    .trim();
  return cleaned || 'file';
}

export type PackFacts = { orgName: string; caseId: string; consentLabel: string; generatedAt: Date; fmt: (d: Date) => string };

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

export function reportText(facts: PackFacts, report: ReportView, notes: NoteItem[]): string {
  const lines = [`Report — case ${facts.caseId}`, `${facts.orgName}`, ''];
  for (const f of report.fields) {
    lines.push(`${f.label}:`);
    if (f.value === null || (Array.isArray(f.value) && f.value.length === 0)) lines.push('    Not given');
    else if (Array.isArray(f.value)) for (const v of f.value) lines.push(`    - ${v}`);
    else lines.push(indent(f.value));
    lines.push('');
  }
  lines.push('Notes chosen for this referral:', '');
  if (!notes.length) lines.push('    None', '');
  for (const n of notes) lines.push(`  ${facts.fmt(n.createdAt)} — ${n.author}`, indent(n.body ?? UNREADABLE), '');
  return lines.join('\r\n').replace(/(?<!\r)\n/g, '\r\n');
}

export function referralText(facts: PackFacts, r: ReferralItem, files: string[]): string {
  const d = r.details;
  const lines = [
    'Referral',
    '',
    `Organisation: ${facts.orgName}`,
    `Case: ${facts.caseId}`,
    `Referred to: ${r.destinationLabel}`,
    `Date of referral: ${r.referredOn}`,
    `Crime reference number: ${d ? (d.crimeReference ?? 'Not given') : UNREADABLE}`,
    `Reporter's consent to a police referral: ${facts.consentLabel}`,
    `Referred without consent: ${r.consentOverride ? 'Yes' : 'No'}`,
    ...(r.consentOverride ? [`Reason for referring without consent: ${d ? (d.overrideReason ?? '') : UNREADABLE}`] : []),
    `Recorded by: ${r.createdBy}, ${facts.fmt(r.createdAt)}`,
    `Bundle made: ${facts.fmt(facts.generatedAt)}`,
    '',
    'Files in this bundle:',
    ...files.map((f) => `  ${f}`),
    '',
  ];
  return lines.join('\r\n');
}

/** Appends one entry and waits until the archive has consumed it, so only one file is ever being decrypted. */
function appendAndWait(archive: Archiver, source: Buffer | Readable, name: string, gone: Promise<never>): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      archive.off('entry', onEntry);
      archive.off('error', onError);
      if (source instanceof Readable) source.off('error', onError);
    };
    const onEntry = () => (cleanup(), resolve());
    const onError = (err: Error) => (cleanup(), reject(err));
    archive.on('entry', onEntry);
    archive.on('error', onError);
    // archiver pipes a stream through a PassThrough, which does not forward errors: listen on the source.
    if (source instanceof Readable) source.on('error', onError);
    archive.append(source, { name });
  });
  return Promise.race([done, gone]);
}

export class ClientGone extends Error {}

/**
 * Streams the zip: report.txt, referral.txt, then each evidence file
 * decrypted chunk by chunk as the archive takes it (memory stays flat
 * whatever the file sizes). Files whose metadata cannot be opened are left
 * out and listed as unreadable.
 */
export async function writeBundle(
  db: Db,
  c: OpenCase,
  facts: PackFacts,
  report: ReportView,
  referral: ReferralItem,
  notes: NoteItem[],
  out: Response,
): Promise<void> {
  const evidence = await evidenceList(db, c);
  const names = evidence.map(({ item }) => (item.meta ? `evidence/${item.n}-${safeZipName(item.meta.name)}` : null));
  const listed = ['report.txt', 'referral.txt', ...names.map((n, i) => n ?? `(file ${i + 1} could not be decrypted and is not included)`)];

  // Stored, not deflated: evidence is mostly compressed already, and the text files are small.
  const archive = archiver('zip', { store: true });
  let current: Readable | null = null;
  const gone = new Promise<never>((_, reject) => {
    out.once('close', () => {
      if (out.writableFinished) return;
      current?.destroy();
      archive.abort();
      reject(new ClientGone('the client went away'));
    });
  });
  gone.catch(() => undefined); // handled where raced; never an unhandled rejection
  archive.pipe(out);
  try {
    await appendAndWait(archive, Buffer.from(reportText(facts, report, notes), 'utf8'), 'report.txt', gone);
    await appendAndWait(archive, Buffer.from(referralText(facts, referral, listed), 'utf8'), 'referral.txt', gone);
    for (const [i, { row }] of evidence.entries()) {
      const name = names[i];
      if (!name) continue;
      current = Readable.from(decryptEvidence(db, c.dataKey, row), { objectMode: false });
      await appendAndWait(archive, current, name, gone);
      current = null;
    }
    const finished = new Promise<void>((resolve, reject) => {
      out.once('finish', resolve);
      archive.once('error', reject);
    });
    await archive.finalize();
    await Promise.race([finished, gone]);
  } catch (err) {
    // A file that fails to decrypt (P8) or a client gone: stop decrypting; the caller cuts the connection.
    current?.destroy();
    archive.abort();
    throw err;
  }
}

