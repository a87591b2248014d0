import { describe, expect, it } from 'vitest';
import { csvField } from '../../../server/stats/statistics-page.js';

describe('csvField', () => {
  it('prefixes a cell a spreadsheet reads as a formula, then quotes as CSV needs', () => {
    expect(csvField('=1+2')).toBe("'=1+2");
    expect(csvField('+44 20')).toBe("'+44 20");
    expect(csvField('-5')).toBe("'-5");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('\tx')).toBe("'\tx");
    expect(csvField('\rx')).toBe('"\'\rx"');
    expect(csvField('=HYPERLINK("a","b")')).toBe('"\'=HYPERLINK(""a"",""b"")"');
    expect(csvField('=a,b')).toBe('"\'=a,b"');
  });

  it('leaves ordinary cells as they are', () => {
    for (const v of ['London', '12', '[c]', '0', '', 'Total', 'a=b', 'x-y', '2026 Q1']) expect(csvField(v)).toBe(v);
    expect(csvField('Yorkshire, Humber')).toBe('"Yorkshire, Humber"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
  });
});
