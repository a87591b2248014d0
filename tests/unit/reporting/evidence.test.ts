import { describe, expect, it } from 'vitest';
import { cleanFileName } from '../../../server/reporting/evidence.js';

describe('cleanFileName', () => {
  it('keeps an ordinary name', () => {
    expect(cleanFileName('photo.jpg')).toBe('photo.jpg');
    expect(cleanFileName('my letter (final).pdf')).toBe('my letter (final).pdf');
  });

  it('keeps names in every script', () => {
    for (const name of ['照片.jpg', 'رەسىم.png', 'པར་རིས།.jpg', 'Фото 1.jpeg']) expect(cleanFileName(name)).toBe(name);
  });

  it.each([
    ['a Unix path', '/home/reporter/Pictures/photo.jpg', 'photo.jpg'],
    ['a Windows path', 'C:\\Users\\reporter\\Desktop\\photo.jpg', 'photo.jpg'],
    ['a relative path climbing up', '../../etc/passwd', 'passwd'],
    ['mixed separators', 'a/b\\c/d.txt', 'd.txt'],
    ['a UNC path', '\\\\server\\share\\scan.pdf', 'scan.pdf'],
  ])('strips %s', (_what, input, expected) => {
    expect(cleanFileName(input)).toBe(expected);
  });

  it('strips control characters', () => {
    expect(cleanFileName('pho\u0000to\u0007.jpg')).toBe('photo.jpg');
    expect(cleanFileName('line\r\nbreak.txt')).toBe('linebreak.txt');
    expect(cleanFileName('tab\there.txt')).toBe('tabhere.txt');
    expect(cleanFileName('esc\u001b[31mred.txt')).toBe('esc[31mred.txt');
    expect(cleanFileName('del\u007f.txt')).toBe('del.txt');
  });

  it('strips control characters hidden in a path', () => {
    expect(cleanFileName('dir\u0000/\u0001evil.txt')).toBe('evil.txt');
  });

  it('trims surrounding whitespace', () => {
    expect(cleanFileName('   spaced.pdf  ')).toBe('spaced.pdf');
  });

  it('caps the length at 200 characters', () => {
    const long = 'a'.repeat(500) + '.jpg';
    const cleaned = cleanFileName(long);
    expect(cleaned.length).toBe(200);
    expect(cleaned).toBe('a'.repeat(200));
    expect(cleanFileName('b'.repeat(200))).toBe('b'.repeat(200));
  });

  it('caps the length after removing the path', () => {
    expect(cleanFileName('d/'.repeat(300) + 'photo.jpg')).toBe('photo.jpg');
  });

  it.each([
    ['empty', ''],
    ['only whitespace', '   '],
    ['only control characters', '\u0000\u0001\u001f'],
    ['a trailing slash', 'folder/'],
    ['a trailing backslash', 'folder\\'],
  ])('falls back to "file" for a name that is %s', (_what, input) => {
    expect(cleanFileName(input)).toBe('file');
  });
});
