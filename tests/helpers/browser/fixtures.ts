import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

// What the browser tests type and upload: a report, a wrong receipt, an image with EXIF.

/** A temporary directory holding a small JPEG whose EXIF carries a canary text (the server must strip it). */
export const EXIF_CANARY = 'e2e canary';

export async function canaryJpeg(): Promise<{ file: string; bytes: Buffer; cleanup(): void }> {
  const bytes = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } })
    .jpeg()
    .withExif({ IFD0: { ImageDescription: EXIF_CANARY } })
    .toBuffer();
  if (!bytes.includes(EXIF_CANARY)) throw new Error('sharp did not write the EXIF canary');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'harbour-e2e-'));
  const file = path.join(dir, 'harbour-photo.jpg');
  writeFileSync(file, bytes);
  return { file, bytes, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
export type CanaryJpeg = Awaited<ReturnType<typeof canaryJpeg>>;

export type ReportInput = {
  categories: string[];
  narrative: string;
  region: string;
  targeted: string;
  community: string;
  consent: string;
  followUp: string;
  files?: string[];
};

export const E2E_REPORT: ReportInput = {
  categories: ['threats', 'family'],
  narrative: 'Two men from the "service station" waited outside my flat in Croydon and asked about my sister.',
  region: 'london',
  targeted: 'me',
  community: 'uyghur',
  consent: 'talk_first',
  followUp: 'portal',
};

/** A receipt that is well formed but (with overwhelming likelihood) opens nothing. */
export const WRONG_RECEIPT = '1111 2222 3333 4444 5555';
