import type { EvidenceMeta } from './evidence.js';

/**
 * What a stored file is called when it leaves the server (a download, the
 * inline image, a zip entry): our name, from its place in the report and the
 * type its first bytes showed, never the reporter's. A text file the
 * reporter named "statement.bat", "invoice.hta" or "photo.svg" is stored as
 * text/plain; saved under that name, a double click would run it on a
 * caseworker's or a police officer's computer. The reporter's name is shown
 * as text only, with a warning when its extension does not fit the type.
 */

/** Per stored type (EvidenceMeta.type): our extension first, then the others a matching name may end in. */
const EXTENSIONS = new Map<string, readonly string[]>([
  ['text/plain', ['txt', 'text', 'log']],
  ['application/pdf', ['pdf']],
  // Images are re-encoded; a TIFF is stored as PNG.
  ['image/jpeg', ['jpg', 'jpeg', 'jpe', 'jfif']],
  ['image/png', ['png', 'tif', 'tiff']],
  ['image/webp', ['webp']],
  ['image/gif', ['gif']],
  ['image/avif', ['avif']],
  ['audio/mpeg', ['mp3', 'mpga']],
  ['audio/x-m4a', ['m4a']],
  ['audio/ogg', ['ogg', 'oga', 'opus']],
  ['audio/ogg; codecs=opus', ['opus', 'ogg', 'oga']],
  ['audio/wav', ['wav', 'wave']],
  ['audio/amr', ['amr']],
  ['audio/aac', ['aac']],
  ['audio/flac', ['flac']],
  ['video/mp4', ['mp4', 'm4v', '3gp', '3gpp']],
  ['video/quicktime', ['mov', 'qt']],
  ['video/webm', ['webm']],
  ['video/3gpp', ['3gp', '3gpp']],
  ['video/x-m4v', ['m4v', 'mp4']],
]);

/** The extension a type is saved under; 'bin' for a type the pipeline no longer produces. */
export function extensionFor(type: string): string {
  return EXTENSIONS.get(type)?.[0] ?? 'bin';
}

/** Our name for the n-th file of a report (1 for the oldest): `evidence-3.txt`. ASCII only, safe on every system. */
export function evidenceFileName(n: number, meta: Pick<EvidenceMeta, 'type'>): string {
  return `evidence-${Math.max(1, Math.trunc(n))}.${extensionFor(meta.type)}`;
}

/**
 * True when the reporter's name ends in an extension that does not fit the
 * stored type ("statement.bat" for text). Trailing dots and spaces are
 * ignored, as Windows ignores them; a name without an extension fits.
 */
export function nameMismatch(meta: Pick<EvidenceMeta, 'name' | 'type'>): boolean {
  const name = meta.name.replace(/[.\s]+$/u, '');
  const dot = name.lastIndexOf('.');
  if (dot < 0) return false;
  const ext = name.slice(dot + 1).toLowerCase();
  return !(EXTENSIONS.get(meta.type) ?? []).includes(ext);
}
