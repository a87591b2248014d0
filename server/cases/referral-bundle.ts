import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Archiver, ZipOptions } from 'archiver';
import type { Response } from 'express';
import type { Db } from '../db/index.js';
import { decryptEvidence } from '../reporting/evidence.js';
import { staffTranslator } from '../i18n/index.js';
import type { OpenCase } from './access.js';
import { evidenceList, type EvidenceItem, type NoteItem, type ReportView } from './reading.js';
import type { ReferralItem } from './referral.js';

/**
 * A referral's zip bundle, streamed: report.txt and referral.txt as text,
 * then each evidence file decrypted as the archive takes it. The rules of
 * a referral (who may refer, what is stored) are in referral.ts.
 */

// archiver 7 is CommonJS with a factory as its export; the installed @types/archiver (8) describes
// archiver 8's class API instead, so the factory is typed here by hand.
// Loaded on the first bundle only: it is large and every other request can do without it.
let archiverFactory: ((format: 'zip', options?: ZipOptions) => Archiver) | null = null;
const archiver = (format: 'zip', options?: ZipOptions): Archiver =>
  (archiverFactory ??= createRequire(import.meta.url)('archiver') as (format: 'zip', options?: ZipOptions) => Archiver)(format, options);

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
  return item.nameMismatch
    ? st('referral.bundle.file_mismatch', { file: entry, name, type })
    : st('referral.bundle.file_named', { file: entry, name });
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
