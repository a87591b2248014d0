import { describe, expect, it } from 'vitest';
import { evidenceFileName, extensionFor, nameMismatch } from '../../../server/reporting/evidence-names.js';

describe('evidence names', () => {
  it('names a file from its place and its detected type, never from what the reporter called it', () => {
    expect(evidenceFileName(3, { type: 'text/plain' })).toBe('evidence-3.txt');
    expect(evidenceFileName(1, { type: 'image/jpeg' })).toBe('evidence-1.jpg');
    expect(evidenceFileName(2, { type: 'audio/ogg; codecs=opus' })).toBe('evidence-2.opus');
    expect(evidenceFileName(4, { type: 'application/x-msdownload' })).toBe('evidence-4.bin');
    expect(extensionFor('__proto__')).toBe('bin');
    expect(extensionFor('constructor')).toBe('bin');
  });

  it('warns when the reporter’s extension does not fit the type', () => {
    const text = (name: string) => nameMismatch({ name, type: 'text/plain' });
    for (const name of ['statement.bat', 'invoice.hta', 'readme.js', 'photo.svg', 'notes.txt.exe', 'evil.bat.', 'evil.cmd . ', '.hta', 'page.HTML']) {
      expect(text(name), name).toBe(true);
    }
    for (const name of ['notes.txt', 'NOTES.TXT', 'call log é.txt', 'server.log', 'no extension', 'notes.txt ']) expect(text(name), name).toBe(false);
    expect(nameMismatch({ name: 'photo.JPEG', type: 'image/jpeg' })).toBe(false);
    expect(nameMismatch({ name: 'scan.tiff', type: 'image/png' })).toBe(false); // a TIFF is stored as PNG
    expect(nameMismatch({ name: 'photo.png', type: 'image/jpeg' })).toBe(true);
    expect(nameMismatch({ name: 'file.txt', type: 'application/x-unknown' })).toBe(true);
  });
});
