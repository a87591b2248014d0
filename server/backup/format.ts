import type { FileHandle } from 'node:fs/promises';
import { BACKUP_SEALED_KEY_BYTES, BACKUP_STREAM_HEADER_BYTES } from '../crypto/index.js';

/**
 * A Harbour backup file, version 1:
 *
 *   "HRBRBKUP"  8 bytes, magic          ┐ the preamble: the only plaintext,
 *   0x01        1 byte, format version  │ authenticated with every message
 *   sealed key  80 bytes                ┘ (crypto_box_seal to the recovery public key)
 *   stream header, 24 bytes (secretstream)
 *   frames: 4-byte big-endian length, then that many bytes of one secretstream message
 *
 * Each decrypted message begins with a kind byte: the header (JSON: format,
 * migration level, creation time, every table with its columns), then per
 * table its start (JSON), batches of rows (a JSON array of row objects) and
 * its end (JSON, with the row count), and last the footer (JSON, every
 * table's count), which alone carries the secretstream's final tag.
 */
export const MAGIC = Buffer.from('HRBRBKUP', 'latin1');
export const FORMAT_VERSION = 1;
export const PREAMBLE_BYTES = MAGIC.length + 1 + BACKUP_SEALED_KEY_BYTES;
export const START_BYTES = PREAMBLE_BYTES + BACKUP_STREAM_HEADER_BYTES;
/** No message this program writes comes near it; a longer length is a damaged file. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export const KIND = { header: 1, tableStart: 2, rows: 3, tableEnd: 4, footer: 5 } as const;

export type BackupHeader = {
  harbourBackup: number;
  migration: string;
  createdAt: string;
  tables: { name: string; columns: string[] }[];
};

/** An operator-readable refusal (the CLI prints the message as it is). */
export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

export function preamble(sealedKey: Uint8Array): Buffer {
  return Buffer.concat([MAGIC, Buffer.from([FORMAT_VERSION]), sealedKey]);
}

export function frame(cipher: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(cipher.length);
  return Buffer.concat([len, cipher]);
}

export function message(kind: number, body: string): Buffer {
  return Buffer.concat([Buffer.from([kind]), Buffer.from(body, 'utf8')]);
}

/** Reads exactly `n` bytes at `position`, or fewer at the end of the file. */
export async function readAt(fh: FileHandle, position: number, n: number): Promise<Buffer> {
  const buf = Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(buf, got, n - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === n ? buf : buf.subarray(0, got);
}

/** The frames after the start, in order; throws BackupError on a file cut off inside one. */
export async function* frames(fh: FileHandle): AsyncGenerator<Buffer> {
  let pos = START_BYTES;
  for (;;) {
    const len = await readAt(fh, pos, 4);
    if (len.length === 0) return;
    if (len.length < 4) throw incomplete();
    const n = len.readUInt32BE(0);
    if (n > MAX_FRAME_BYTES) throw damaged();
    const body = await readAt(fh, pos + 4, n);
    if (body.length < n) throw incomplete();
    pos += 4 + n;
    yield body;
  }
}

export const incomplete = () =>
  new BackupError('The backup file is incomplete or damaged (it ends before its last part): nothing was restored. Use another copy.');
export const damaged = () =>
  new BackupError('The backup file has been changed or damaged (it fails its authentication check): nothing was restored. Use another copy.');
