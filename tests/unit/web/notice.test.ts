import { describe, expect, it } from 'vitest';
import { noticeFrom } from '../../../server/web/notice.js';

const CODES = ['saved', 'deleted'] as const;
const text = (code: (typeof CODES)[number]) => `text of ${code}`;

describe('noticeFrom', () => {
  it('gives the text of a listed code', () => {
    expect(noticeFrom({ notice: 'saved' }, CODES, text)).toBe('text of saved');
    expect(noticeFrom({ notice: 'deleted', other: 'x' }, CODES, text)).toBe('text of deleted');
  });

  it('shows nothing for a missing, unknown, repeated or inherited code', () => {
    for (const notice of [undefined, '', 'Saved', 'unknown', ['saved'], ['saved', 'saved'], { saved: '1' }, '__proto__', 'constructor', 'toString']) {
      expect(noticeFrom({ notice }, CODES, text), JSON.stringify(notice)).toBeNull();
    }
    expect(noticeFrom({}, CODES, text)).toBeNull();
  });

  it('asks for the text of the chosen code only', () => {
    const asked: string[] = [];
    noticeFrom({ notice: 'deleted' }, CODES, (code) => (asked.push(code), code));
    expect(asked).toEqual(['deleted']);
  });
});
