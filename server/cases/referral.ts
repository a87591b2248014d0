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
import { staffTranslator } from '../i18n/index.js';
import * as q from './queries.js';
import {
  CaseInputError,
  LIMITS,
  UUID,
  evidenceList,
  notesOf,
  readable,
  textInput,
  type EvidenceItem,
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

/** Where a case was referred, as the staff pages name it; an unknown code is shown as it is. */
export function destinationLabel(code: string): string {
  return (DESTINATIONS as readonly string[]).includes(code) ? staffTranslator()(`referral.destinations.${code}`) : code;
}
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
  const st = staffTranslator();
  if (!(DESTINATIONS as readonly string[]).includes(form.destination)) throw new CaseInputError('destination', st('referral.errors.destination'));
  if (!isCalendarDate(form.referredOn)) throw new CaseInputError('referred_on', st('referral.errors.date_format'));
  if (form.referredOn > today(now)) throw new CaseInputError('referred_on', st('referral.errors.date_future'));
  if (form.referredOn < '2000-01-01') throw new CaseInputError('referred_on', st('referral.errors.date_too_early'));
  const crimeReference = textInput(form.crimeReference, 'crime_reference', CRIME_REFERENCE_MAX, false) || null;
  const noteIds = [...new Set(form.noteIds.map((n) => n.toLowerCase()))];
  if (noteIds.length) {
    const known = new Set((await q.listNotes(db, c.id)).map((n) => n.id));
    if (noteIds.some((n) => !UUID.test(n) || !known.has(n))) throw new CaseInputError('notes', st('referral.errors.notes'));
  }
  const consentOverride = consent !== 'yes';
  const overrideReason = consentOverride
    ? textInput(form.overrideReason, 'override_reason', LIMITS.reason)
    : null;

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

export type PackFacts = { orgName: string; caseId: string; consentLabel: string; generatedAt: Date; fmt: (d: Date) => string };

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

export function reportText(facts: PackFacts, report: ReportView, notes: NoteItem[]): string {
  const st = staffTranslator();
  const unreadable = st('referral.bundle.unreadable');
  const lines = [st('referral.bundle.report_heading', { id: facts.caseId }), `${facts.orgName}`, ''];
  for (const f of report.fields) {
    lines.push(`${f.label}:`);
    if (f.value === null || (Array.isArray(f.value) && f.value.length === 0)) lines.push(`    ${st('common.not_given')}`);
    else if (Array.isArray(f.value)) for (const v of f.value) lines.push(`    - ${v}`);
    else lines.push(indent(f.value));
    lines.push('');
  }
  lines.push(st('referral.bundle.notes_heading'), '');
  if (!notes.length) lines.push(`    ${st('common.none')}`, '');
  for (const n of notes) lines.push(`  ${facts.fmt(n.createdAt)} — ${n.author}`, indent(n.body ?? unreadable), '');
  return lines.join('\r\n').replace(/(?<!\r)\n/g, '\r\n');
}

export function referralText(facts: PackFacts, r: ReferralItem, files: string[]): string {
  const st = staffTranslator();
  const unreadable = st('referral.bundle.unreadable');
  const d = r.details;
  const lines = [
    st('referral.bundle.heading'),
    '',
    st('referral.bundle.organisation', { value: facts.orgName }),
    st('referral.bundle.case', { value: facts.caseId }),
    st('referral.bundle.referred_to', { value: r.destinationLabel }),
    st('referral.bundle.referred_on', { value: r.referredOn }),
    st('referral.bundle.crime_reference', { value: d ? (d.crimeReference ?? st('common.not_given')) : unreadable }),
    st('referral.bundle.consent', { value: facts.consentLabel }),
    st('referral.bundle.without_consent', { value: r.consentOverride ? st('common.yes') : st('common.no') }),
    ...(r.consentOverride ? [st('referral.bundle.override_reason', { value: d ? (d.overrideReason ?? '') : unreadable })] : []),
    st('referral.bundle.recorded_by', { name: r.createdBy, date: facts.fmt(r.createdAt) }),
    st('referral.bundle.made', { date: facts.fmt(facts.generatedAt) }),
    '',
    st('referral.bundle.files'),
    ...files.map((f) => `  ${f}`),
    '',
  ];
  return lines.join('\r\n');
}

/** A file's line in referral.txt: our name, the reporter's as text, and a warning when the two disagree. */
function fileLine(item: EvidenceItem, entry: string | null): string {
  const st = staffTranslator();
  if (!item.meta || !entry) return st('referral.bundle.file_unreadable', { n: item.n });
  const { name, type } = item.meta;
  return item.nameMismatch ? st('referral.bundle.file_mismatch', { file: entry, name, type }) : st('referral.bundle.file_named', { file: entry, name });
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
  // Entries are named by us (evidence/evidence-3.txt); the reporter's names appear only as text in referral.txt.
  const names = evidence.map(({ item }) => (item.fileName ? `evidence/${item.fileName}` : null));
  const listed = ['report.txt', 'referral.txt', ...evidence.map(({ item }, i) => fileLine(item, names[i] ?? null))];

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

