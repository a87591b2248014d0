import { beforeAll, describe, expect, it } from 'vitest';
import { ipHashDayKey, ipHashRoot, keyedHash, processIpHashSecret, readySodium, utcDay } from '../../../server/crypto/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const SECRET = 'correct horse battery staple, thirty-two+';

describe('keys for client-address hashes (P10)', () => {
  beforeAll(async () => {
    await readySodium();
  });

  it('derive the same day key from the same secret and day (every instance agrees)', () => {
    const day = utcDay(Date.UTC(2026, 11, 1, 13));
    expect(hex(ipHashDayKey(ipHashRoot(SECRET), day))).toBe(hex(ipHashDayKey(ipHashRoot(SECRET), day)));
    expect(ipHashDayKey(ipHashRoot(SECRET), day)).toHaveLength(32);
  });

  it('change with the day, at midnight UTC', () => {
    const root = ipHashRoot(SECRET);
    const before = utcDay(Date.UTC(2026, 11, 1, 23, 59, 59, 999));
    const after = utcDay(Date.UTC(2026, 11, 2, 0, 0, 0, 0));
    expect(after).toBe(before + 1);
    expect(utcDay(Date.UTC(2026, 11, 1, 0, 0))).toBe(before);
    expect(hex(ipHashDayKey(root, before))).not.toBe(hex(ipHashDayKey(root, after)));
  });

  it('change with the secret', () => {
    const day = utcDay();
    expect(hex(ipHashDayKey(ipHashRoot(SECRET), day))).not.toBe(hex(ipHashDayKey(ipHashRoot(SECRET + '!'), day)));
  });

  it('are neither the secret nor the root', () => {
    const root = ipHashRoot(SECRET);
    const key = ipHashDayKey(root, utcDay());
    expect(hex(root)).not.toBe(Buffer.from(SECRET).toString('hex').slice(0, 64));
    expect(hex(key)).not.toBe(hex(root));
    expect(keyedHash(key, 'ip:203.0.113.7')).not.toBe(keyedHash(root, 'ip:203.0.113.7'));
  });

  it('refuse a day that is not a whole number of days since 1970', () => {
    const root = ipHashRoot(SECRET);
    expect(() => ipHashDayKey(root, -1)).toThrow(RangeError);
    expect(() => ipHashDayKey(root, 1.5)).toThrow(RangeError);
  });

  it('without a configured secret: one random secret for the whole process', () => {
    const a = processIpHashSecret();
    expect(a).toHaveLength(32);
    expect(hex(processIpHashSecret())).toBe(hex(a));
    expect(hex(a)).not.toBe('00'.repeat(32));
  });
});
