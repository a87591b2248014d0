import type { Response } from 'express';

/** Only names we made (evidence-3.txt, referral-….zip): plain ASCII, so no encoded variant is needed. */
export function contentDisposition(kind: 'attachment' | 'inline', name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error('not a name this server makes');
  return `${kind}; filename="${name}"`;
}

/**
 * The headers of a stored file sent back: under our name for it, never the
 * one it was uploaded with; as application/octet-stream unless the caller
 * shows it inline (then its checked type); and, even opened on its own, it
 * can run nothing and load nothing. nosniff is on every answer (security.ts).
 */
export function fileHeaders(res: Response, file: { name: string; size: number; inlineType?: string | null }): void {
  res.setHeader('Content-Type', file.inlineType ?? 'application/octet-stream');
  res.setHeader('Content-Length', String(file.size));
  res.setHeader('Content-Disposition', contentDisposition(file.inlineType ? 'inline' : 'attachment', file.name));
  res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
}
