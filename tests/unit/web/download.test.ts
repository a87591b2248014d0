import type { Response } from 'express';
import { describe, expect, it } from 'vitest';
import { contentDisposition, fileHeaders } from '../../../server/web/download.js';

function headersOf(send: (res: Response) => void): Record<string, string> {
  const headers: Record<string, string> = {};
  send({ setHeader: (k: string, v: string) => void (headers[k] = v) } as unknown as Response);
  return headers;
}

describe('download headers', () => {
  it('send a file as an attachment under our name, sandboxed', () => {
    expect(headersOf((res) => fileHeaders(res, { name: 'evidence-2.txt', size: 12 }))).toEqual({
      'Content-Type': 'application/octet-stream',
      'Content-Length': '12',
      'Content-Disposition': 'attachment; filename="evidence-2.txt"',
      'Content-Security-Policy': "default-src 'none'; sandbox",
    });
  });

  it('show an image inline only with the type it was checked to have', () => {
    const h = headersOf((res) => fileHeaders(res, { name: 'evidence-1.png', size: 3, inlineType: 'image/png' }));
    expect(h['Content-Type']).toBe('image/png');
    expect(h['Content-Disposition']).toBe('inline; filename="evidence-1.png"');
  });

  it('refuse any name this server does not make', () => {
    for (const name of ['a"b.txt', 'x\r\nSet-Cookie: y', '../evidence.txt', 'photo.jpg\u202Eexe', '.hidden', 'é.txt', '']) {
      expect(() => contentDisposition('attachment', name), JSON.stringify(name)).toThrow();
    }
    expect(contentDisposition('attachment', 'referral-1a2b3c4d-2024-05-01.zip')).toBe('attachment; filename="referral-1a2b3c4d-2024-05-01.zip"');
  });
});
