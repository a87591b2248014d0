import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type sharp from 'sharp';
import { StreamDecryptor, StreamEncryptor, blocks, decryptJson, encryptJson } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import { HttpError } from '../errors.js';
import * as q from './queries.js';

/** What the evidence pipeline refuses, with the status and the message code shown to the reporter. */
export class EvidenceError extends HttpError {}

export type EvidenceMeta = {
  name: string;
  type: string;
  size: number;
  originalSize: number;
  /** True when the file was re-encoded and its metadata (EXIF, GPS) removed. */
  cleaned: boolean;
};

type Kind = { mime: string; ext: string; image?: keyof sharp.FormatEnum };

// Images are re-encoded (which drops EXIF, GPS, XMP, ICC comments); other
// kinds are kept as they are and the form warns that they keep their metadata.
const IMAGE_OUT: Record<string, keyof sharp.FormatEnum> = {
  jpg: 'jpeg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
  avif: 'avif',
  tif: 'png',
};
const PASSTHROUGH = new Set(['pdf', 'mp3', 'm4a', 'ogg', 'oga', 'opus', 'wav', 'amr', 'aac', 'flac', 'mp4', 'mov', 'webm', '3gp', 'm4v']);
const OUT_MIME: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
};
/** Decompression-bomb guard: refuse images above 40 megapixels before decoding them. */
export const MAX_IMAGE_PIXELS = 40_000_000;
const HEAD_BYTES = 4100;
const CHUNKS_PER_INSERT = 4;

export function cleanFileName(name: string): string {
  // Control and format characters go (a U+202E override can make "exe.jpg"
  // look like "gpj.exe"); the length cap counts code points, never splitting one.
  const base =
    name
      .replace(/[\p{Cc}\p{Cf}]/gu, '')
      .split(/[\\/]/)
      .pop() ?? '';
  return Array.from(base.trim()).slice(0, 200).join('').trim() || 'file';
}

async function detect(head: Uint8Array): Promise<Kind | null> {
  const { fileTypeFromBuffer } = await import('file-type'); // loaded with the first upload, not at start
  const ft = await fileTypeFromBuffer(head);
  if (ft) {
    const image = IMAGE_OUT[ft.ext];
    if (image) return { mime: OUT_MIME[image]!, ext: image === 'jpeg' ? 'jpg' : image, image };
    if (PASSTHROUGH.has(ft.ext)) return { mime: ft.mime, ext: ft.ext };
    return null;
  }
  // Plain text has no magic number: accept it only if it decodes as UTF-8 with no NUL.
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    if (head.length > 0 && !text.includes('\u0000')) return { mime: 'text/plain', ext: 'txt' };
  } catch {
    /* not text */
  }
  return null;
}

/** Counts bytes as they arrive and stops the upload as soon as a limit is passed. */
async function* limited(source: AsyncIterable<Uint8Array>, max: number, code: string, counter: { bytes: number }) {
  for await (const chunk of source) {
    counter.bytes += chunk.length;
    if (counter.bytes > max) throw new EvidenceError(413, code);
    yield chunk;
  }
}

async function readHead(iter: AsyncIterator<Uint8Array>): Promise<{ head: Uint8Array; done: boolean }> {
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size < HEAD_BYTES) {
    const next = await iter.next();
    if (next.done) return { head: Buffer.concat(parts), done: true };
    parts.push(next.value);
    size += next.value.length;
  }
  return { head: Buffer.concat(parts), done: false };
}

/**
 * The upload from its first bytes on. Stopped early by its consumer (a
 * refused reservation, a failed insert), it closes the upload's iterator
 * too: an iterator left open keeps its listener on the request's file
 * stream, which then cannot be drained, and the request never ends.
 */
async function* rest(head: Uint8Array, iter: AsyncIterator<Uint8Array>, done: boolean) {
  let finished = done;
  try {
    yield head;
    while (!finished) {
      const next = await iter.next();
      finished = Boolean(next.done);
      if (!next.done) yield next.value;
    }
  } finally {
    if (!finished) await iter.return?.(undefined);
  }
}

// sharp (libvips) is loaded on the first image only: it adds ~10 MB to every process.
let sharpModule: Promise<typeof sharp> | null = null;
const loadSharp = () => (sharpModule ??= import('sharp').then((m) => m.default));

async function reencode(input: AsyncIterable<Uint8Array>, format: keyof sharp.FormatEnum): Promise<AsyncIterable<Uint8Array>> {
  const sharpFn = await loadSharp();
  const pipeline = sharpFn({ limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'error', animated: format === 'gif' })
    .rotate() // apply the EXIF orientation before the EXIF is dropped
    .toFormat(format);
  const src = Readable.from(input);
  src.on('error', (err) => pipeline.destroy(err));
  // Stop pulling input once sharp has refused it, or its reader has stopped reading (which closes the upload, see rest).
  pipeline.on('error', () => src.destroy());
  pipeline.on('close', () => src.destroy());
  src.pipe(pipeline);
  return pipeline;
}

function imageError(err: unknown): unknown {
  if (err instanceof HttpError) return err;
  const message = err instanceof Error ? err.message : '';
  if (/pixel limit/i.test(message)) return new EvidenceError(413, 'evidence_image_too_big');
  return new EvidenceError(422, 'evidence_image_unreadable');
}

export type StoreEvidenceOptions = {
  reportId: string;
  dataKey: Uint8Array;
  addedBy: 'reporter' | 'staff';
  filename: string;
  source: AsyncIterable<Uint8Array>;
  /** Bytes this file may have: the smaller of the per-file and the remaining per-report allowance (an early stop only). */
  maxBytes: number;
  limitCode: 'evidence_file_too_large' | 'evidence_report_too_large';
  /** The per-report limit, enforced by reserving each batch's bytes on the report before storing it. */
  reportLimit: number;
};

/**
 * Stores one batch of chunks after reserving its bytes on the report, both
 * in one short transaction (the embedded database has one connection, so
 * none is held while the upload waits for the network). A refused
 * reservation stores nothing and is the per-report limit's 413.
 */
async function storeBatch(db: Db, o: StoreEvidenceOptions, evidenceId: string, firstSeq: number, batch: Uint8Array[]): Promise<void> {
  const bytes = batch.reduce((n, c) => n + c.length, 0);
  await db.transaction().execute(async (trx) => {
    if (!(await q.reserveEvidenceBytes(trx, o.reportId, bytes, o.reportLimit))) throw new EvidenceError(413, 'evidence_report_too_large');
    await q.insertEvidenceChunks(trx, evidenceId, firstSeq, batch);
  });
}

/**
 * Streams one file into the database: type detected from its first bytes,
 * images re-encoded without metadata, everything encrypted chunk by chunk
 * (nothing in plaintext on disk, memory flat). Every batch's bytes are
 * reserved on the report before they are stored. On any failure the partial
 * evidence row and its chunks are deleted and their bytes given back.
 */
export async function storeEvidence(db: Db, o: StoreEvidenceOptions): Promise<{ id: string; meta: EvidenceMeta }> {
  const counter = { bytes: 0 };
  const iter = limited(o.source, o.maxBytes, o.limitCode, counter)[Symbol.asyncIterator]();
  const { head, done } = await readHead(iter);
  const kind = head.length === 0 ? null : await detect(head);
  if (!kind) {
    // Refused on its first bytes: close the upload's iterator, or the rest of a large file could never be drained.
    await iter.return?.(undefined);
    throw head.length === 0 ? new EvidenceError(422, 'evidence_empty') : new EvidenceError(415, 'evidence_type');
  }

  const id = randomUUID();
  const encryptor = new StreamEncryptor(o.dataKey, `evidence:${id}`);
  await q.insertEvidence(db, { id, report_id: o.reportId, added_by: o.addedBy, stream_header: encryptor.header });
  try {
    let seq = 0;
    let size = 0;
    try {
      const plain = kind.image ? await reencode(rest(head, iter, done), kind.image) : rest(head, iter, done);
      // A few chunks per INSERT: fewer round trips, still bounded memory.
      let batch: Uint8Array[] = [];
      for await (const block of blocks(plain)) {
        size += block.data.length;
        batch.push(encryptor.encrypt(block.data, block.last));
        if (batch.length === CHUNKS_PER_INSERT || block.last) {
          await storeBatch(db, o, id, seq, batch);
          seq += batch.length;
          batch = [];
        }
      }
    } catch (err) {
      throw kind.image ? imageError(err) : err;
    }
    const meta: EvidenceMeta = {
      name: cleanFileName(o.filename),
      type: kind.mime,
      size,
      originalSize: counter.bytes,
      cleaned: Boolean(kind.image),
    };
    await q.completeEvidence(db, id, encryptJson(o.dataKey, meta, { table: 'evidence', id, field: 'meta' }), seq);
    return { id, meta };
  } catch (err) {
    await db.transaction().execute((trx) => q.deleteEvidence(trx, o.reportId, id));
    throw err;
  }
}

export type EvidenceLimits = { fileBytes: number; reportBytes: number };

/**
 * One file a reporter sends, with the report form or later from the status
 * page: at most the per-file limit and what is left of the report's
 * allowance (`remaining`), refused with the message for whichever is the
 * smaller; the per-report limit itself is kept by the reservations.
 */
export function storeReporterEvidence(
  db: Db,
  limits: EvidenceLimits,
  report: { reportId: string; dataKey: Uint8Array },
  remaining: number,
  file: { filename: string; source: AsyncIterable<Uint8Array> },
): Promise<{ id: string; meta: EvidenceMeta }> {
  return storeEvidence(db, {
    reportId: report.reportId,
    dataKey: report.dataKey,
    addedBy: 'reporter',
    filename: file.filename,
    source: file.source,
    maxBytes: Math.min(limits.fileBytes, remaining),
    limitCode: limits.fileBytes <= remaining ? 'evidence_file_too_large' : 'evidence_report_too_large',
    reportLimit: limits.reportBytes,
  });
}

export function readEvidenceMeta(dataKey: Uint8Array, id: string, meta: Uint8Array): EvidenceMeta {
  return decryptJson<EvidenceMeta>(dataKey, meta, { table: 'evidence', id, field: 'meta' });
}

/** Decrypts a stored file chunk by chunk; throws if any chunk fails or the stream was cut short. */
export async function* decryptEvidence(
  db: Db,
  dataKey: Uint8Array,
  row: { id: string; stream_header: Uint8Array; chunk_count: number },
): AsyncGenerator<Uint8Array> {
  const decryptor = new StreamDecryptor(dataKey, row.stream_header, `evidence:${row.id}`);
  for await (const chunk of q.readEvidenceChunks(db, row.id, row.chunk_count)) {
    yield decryptor.decrypt(chunk.data);
  }
  decryptor.assertFinished();
}
