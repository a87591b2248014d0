import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../../server/crypto/encoding.js';

describe('base64 for keys in JSON payloads', () => {
  it('round-trips bytes, in the standard alphabet sessions were written with', () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 251, 252, 253, 254, 255]);
    expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    expect(toBase64(bytes)).toBe('AAEC+vv8/f7/');
    expect(fromBase64('AAEC+vv8/f7/')).toEqual(bytes);
    expect(fromBase64(toBase64(new Uint8Array(32).fill(7)))).toEqual(new Uint8Array(32).fill(7));
  });
});
