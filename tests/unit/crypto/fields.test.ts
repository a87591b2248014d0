import { beforeAll, describe, expect, it } from 'vitest';
import {
  DecryptionError,
  decryptField,
  decryptJson,
  decryptText,
  encryptField,
  encryptJson,
  newDataKey,
  readySodium,
  type FieldContext,
} from '../../../server/crypto/index.js';

const ctx: FieldContext = { table: 'reports', id: '6f1c7c0e-5a43-4a5e-9a0c-1d2e3f405162', field: 'narrative' };
const NONCE = 24;
const TAG = 16;

function flipped(box: Uint8Array, index: number): Uint8Array {
  const copy = new Uint8Array(box);
  copy[index] = copy[index]! ^ 0x01;
  return copy;
}

describe('field encryption (P8)', () => {
  let key: Uint8Array;

  beforeAll(async () => {
    await readySodium();
    key = newDataKey();
  });

  it('round-trips text and bytes', () => {
    const text = 'Он позвонил моей матери — 他打电话给我母亲 — ئۇ ئانامغا تېلېفون قىلدى';
    expect(decryptText(key, encryptField(key, text, ctx), ctx)).toBe(text);

    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
    expect(Array.from(decryptField(key, encryptField(key, bytes, ctx), ctx))).toEqual(Array.from(bytes));
  });

  it('round-trips an empty plaintext', () => {
    expect(decryptText(key, encryptField(key, '', ctx), ctx)).toBe('');
  });

  it('round-trips JSON', () => {
    const value = { name: 'photo.jpg', size: 1234, cleaned: true, list: [1, 'two'] };
    expect(decryptJson(key, encryptJson(key, value, ctx), ctx)).toEqual(value);
  });

  it('lays out version byte 1 | 24-byte nonce | ciphertext + 16-byte tag', () => {
    const box = encryptField(key, 'hello', ctx);
    expect(box[0]).toBe(1);
    expect(box.length).toBe(1 + NONCE + 5 + TAG);
  });

  it('does not leave the plaintext visible in the box', () => {
    const secret = 'my contact is +44 7700 900123';
    const box = encryptField(key, secret, ctx);
    expect(Buffer.from(box).includes(Buffer.from(secret))).toBe(false);
    expect(Buffer.from(box).includes(Buffer.from('+44 7700'))).toBe(false);
  });

  it('gives a different box each time for the same text (random nonce)', () => {
    const a = encryptField(key, 'same text', ctx);
    const b = encryptField(key, 'same text', ctx);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(a.subarray(1, 1 + NONCE)).equals(Buffer.from(b.subarray(1, 1 + NONCE)))).toBe(false);
    // Both still open.
    expect(decryptText(key, a, ctx)).toBe('same text');
    expect(decryptText(key, b, ctx)).toBe('same text');
  });

  describe('is bound to its row and field', () => {
    it.each<[string, FieldContext]>([
      ['another id', { ...ctx, id: '6f1c7c0e-5a43-4a5e-9a0c-1d2e3f405163' }],
      ['another table', { ...ctx, table: 'messages' }],
      ['another field', { ...ctx, field: 'state_reason' }],
    ])('refuses to decrypt under %s', (_what, other) => {
      const box = encryptField(key, 'bound text', ctx);
      expect(() => decryptField(key, box, other)).toThrow(DecryptionError);
    });

    it('refuses a swap between two rows even though both are valid boxes', () => {
      const ctxA = { ...ctx, id: 'a' };
      const ctxB = { ...ctx, id: 'b' };
      const boxA = encryptField(key, 'report A', ctxA);
      const boxB = encryptField(key, 'report B', ctxB);
      expect(() => decryptField(key, boxA, ctxB)).toThrow(DecryptionError);
      expect(() => decryptField(key, boxB, ctxA)).toThrow(DecryptionError);
    });
  });

  it('refuses another key', () => {
    const box = encryptField(key, 'text', ctx);
    expect(() => decryptField(newDataKey(), box, ctx)).toThrow(DecryptionError);
  });

  it('refuses a box with any single bit flipped (nonce, ciphertext or tag)', () => {
    const box = encryptField(key, 'integrity matters', ctx);
    // Every byte after the version byte: nonce, ciphertext, tag.
    for (let i = 1; i < box.length; i++) {
      expect(() => decryptField(key, flipped(box, i), ctx), `byte ${i}`).toThrow(DecryptionError);
    }
  });

  it.each([0, 2, 255])('refuses version byte %i', (version) => {
    const box = encryptField(key, 'text', ctx);
    box[0] = version;
    expect(() => decryptField(key, box, ctx)).toThrow(DecryptionError);
  });

  it('refuses a truncated box', () => {
    const box = encryptField(key, 'some text to cut', ctx);
    expect(() => decryptField(key, box.subarray(0, box.length - 1), ctx)).toThrow(DecryptionError);
    expect(() => decryptField(key, box.subarray(0, 1 + NONCE + TAG), ctx)).toThrow(DecryptionError);
    expect(() => decryptField(key, box.subarray(0, 1 + NONCE + TAG - 1), ctx)).toThrow(DecryptionError);
    expect(() => decryptField(key, box.subarray(0, 1 + NONCE), ctx)).toThrow(DecryptionError);
    expect(() => decryptField(key, box.subarray(0, 1), ctx)).toThrow(DecryptionError);
    expect(() => decryptField(key, new Uint8Array(0), ctx)).toThrow(DecryptionError);
  });

  it('refuses a box with bytes appended', () => {
    const box = encryptField(key, 'text', ctx);
    const longer = new Uint8Array(box.length + 1);
    longer.set(box);
    expect(() => decryptField(key, longer, ctx)).toThrow(DecryptionError);
  });

  it('names the table and field, never the plaintext, in the error', () => {
    const box = encryptField(key, 'secret words', ctx);
    try {
      decryptField(key, box, { ...ctx, id: 'other' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DecryptionError);
      expect((err as Error).message).toContain('reports.narrative');
      expect((err as Error).message).not.toContain('secret words');
    }
  });
});
