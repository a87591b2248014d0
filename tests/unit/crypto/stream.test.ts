import { beforeAll, describe, expect, it } from 'vitest';
import {
  CHUNK_BYTES,
  DecryptionError,
  StreamDecryptor,
  StreamEncryptor,
  blocks,
  newDataKey,
  randomBytes,
  readySodium,
} from '../../../server/crypto/index.js';

type Block = { data: Uint8Array; last: boolean };

async function* from(pieces: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of pieces) yield p;
}

async function collect(source: AsyncIterable<Uint8Array>, size?: number): Promise<Block[]> {
  const out: Block[] = [];
  // Copy each block: the caller may keep them while the generator runs on.
  for await (const b of blocks(source, size)) out.push({ data: new Uint8Array(b.data), last: b.last });
  return out;
}

function bytes(n: number, start = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (start + i) % 251);
}

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Splits `data` into pieces of the given sizes (cycled). */
function split(data: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let offset = 0;
  let i = 0;
  while (offset < data.length) {
    const n = sizes[i++ % sizes.length]!;
    out.push(data.slice(offset, offset + n));
    offset += n;
  }
  return out;
}

function encryptAll(key: Uint8Array, ad: string, chunks: Uint8Array[]): { header: Uint8Array; ciphers: Uint8Array[] } {
  const enc = new StreamEncryptor(key, ad);
  const ciphers = chunks.map((c, i) => enc.encrypt(c, i === chunks.length - 1));
  return { header: enc.header, ciphers };
}

describe('blocks()', () => {
  it('defaults to 64 KiB blocks', async () => {
    const data = bytes(CHUNK_BYTES + 10);
    const out = await collect(from([data]));
    expect(out.map((b) => [b.data.length, b.last])).toEqual([
      [CHUNK_BYTES, false],
      [10, true],
    ]);
  });

  it('cuts an exact multiple into full blocks, the last one marked', async () => {
    const data = bytes(12);
    const out = await collect(from([data]), 4);
    expect(out.map((b) => [b.data.length, b.last])).toEqual([
      [4, false],
      [4, false],
      [4, true],
    ]);
    expect(concat(out.map((b) => b.data))).toEqual(data);
  });

  it('gives a short last block', async () => {
    const data = bytes(10);
    const out = await collect(from([data]), 4);
    expect(out.map((b) => [b.data.length, b.last])).toEqual([
      [4, false],
      [4, false],
      [2, true],
    ]);
    expect(concat(out.map((b) => b.data))).toEqual(data);
  });

  it('gives one full last block when the input is exactly one block', async () => {
    const out = await collect(from([bytes(4)]), 4);
    expect(out.map((b) => [b.data.length, b.last])).toEqual([[4, true]]);
  });

  it('gives one short last block for a small input', async () => {
    const out = await collect(from([bytes(3)]), 4);
    expect(out.map((b) => [b.data.length, b.last])).toEqual([[3, true]]);
  });

  it('yields one empty last block for an empty input', async () => {
    expect(await collect(from([]), 4)).toEqual([{ data: new Uint8Array(0), last: true }]);
    expect(await collect(from([new Uint8Array(0), new Uint8Array(0)]), 4)).toEqual([{ data: new Uint8Array(0), last: true }]);
  });

  it.each([[[1]], [[3]], [[5]], [[7, 1, 0, 2]], [[13, 0]], [[1, 2, 3, 4, 5, 6, 7, 8, 9]], [[64]]])(
    're-chunks input arriving in pieces of sizes %j',
    async (sizes) => {
      const size = 8;
      for (const total of [0, 1, 7, 8, 9, 16, 17, 63, 64, 65, 100]) {
        const data = bytes(total, total);
        const pieces = split(data, sizes.some((s) => s > 0) ? sizes : [1]);
        // Empty pieces in the middle of the stream must be harmless too.
        if (pieces.length > 1) pieces.splice(1, 0, new Uint8Array(0));
        const out = await collect(from(pieces), size);
        expect(concat(out.map((b) => b.data)), `total ${total}`).toEqual(data);
        expect(out.filter((b) => b.last).length).toBe(1);
        expect(out.at(-1)!.last).toBe(true);
        for (const b of out.slice(0, -1)) expect(b.data.length).toBe(size);
        const lastLength = out.at(-1)!.data.length;
        expect(lastLength).toBe(total === 0 ? 0 : total % size || size);
        expect(out.length).toBe(Math.max(1, Math.ceil(total / size)));
      }
    },
  );

  it('copies its input, so a source reusing its buffer does not corrupt earlier blocks', async () => {
    const shared = new Uint8Array(3);
    async function* reusing(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 4; i++) {
        shared.fill(i + 1);
        yield shared;
      }
    }
    const out: Block[] = [];
    // Each block is read before the next is requested (as the encryptor does).
    for await (const b of blocks(reusing(), 4)) out.push({ data: new Uint8Array(b.data), last: b.last });
    expect(concat(out.map((b) => b.data))).toEqual(new Uint8Array([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]));
  });
});

describe('StreamEncryptor / StreamDecryptor', () => {
  let key: Uint8Array;
  const ad = 'evidence:0b3b1e4e-2f1a-4c55-8a4e-6f2b8b0f5d11';

  beforeAll(async () => {
    await readySodium();
    key = newDataKey();
  });

  it('round-trips several chunks', () => {
    const chunks = [randomBytes(1000), randomBytes(4096), new Uint8Array(0), randomBytes(17)];
    const { header, ciphers } = encryptAll(key, ad, chunks);
    const dec = new StreamDecryptor(key, header, ad);
    const plain = ciphers.map((c) => dec.decrypt(c));
    dec.assertFinished();
    expect(plain.map((p) => Array.from(p))).toEqual(chunks.map((c) => Array.from(c)));
  });

  it('round-trips a file through blocks()', async () => {
    const data = randomBytes(3 * 1024 + 5);
    const enc = new StreamEncryptor(key, ad);
    const ciphers: Uint8Array[] = [];
    for await (const b of blocks(from(split(data, [100, 333])), 1024)) ciphers.push(enc.encrypt(b.data, b.last));
    expect(ciphers.length).toBe(4);
    const dec = new StreamDecryptor(key, enc.header, ad);
    const out = concat(ciphers.map((c) => dec.decrypt(c)));
    dec.assertFinished();
    expect(out).toEqual(data);
  });

  it('round-trips an empty file (one empty final chunk)', async () => {
    const enc = new StreamEncryptor(key, ad);
    const ciphers: Uint8Array[] = [];
    for await (const b of blocks(from([]))) ciphers.push(enc.encrypt(b.data, b.last));
    expect(ciphers.length).toBe(1);
    const dec = new StreamDecryptor(key, enc.header, ad);
    expect(dec.decrypt(ciphers[0]!).length).toBe(0);
    dec.assertFinished();
  });

  it('gives a fresh header per stream, so equal files encrypt differently', () => {
    const chunk = new Uint8Array(64).fill(7);
    const a = encryptAll(key, ad, [chunk]);
    const b = encryptAll(key, ad, [chunk]);
    expect(Buffer.from(a.header).equals(Buffer.from(b.header))).toBe(false);
    expect(Buffer.from(a.ciphers[0]!).equals(Buffer.from(b.ciphers[0]!))).toBe(false);
  });

  it('refuses reordered chunks', () => {
    const { header, ciphers } = encryptAll(key, ad, [randomBytes(10), randomBytes(10), randomBytes(10)]);
    const dec = new StreamDecryptor(key, header, ad);
    expect(() => dec.decrypt(ciphers[1]!)).toThrow(DecryptionError);
  });

  it('refuses a dropped middle chunk', () => {
    const { header, ciphers } = encryptAll(key, ad, [randomBytes(10), randomBytes(10), randomBytes(10)]);
    const dec = new StreamDecryptor(key, header, ad);
    dec.decrypt(ciphers[0]!);
    expect(() => dec.decrypt(ciphers[2]!)).toThrow(DecryptionError);
  });

  it('notices a stream cut before its final chunk', () => {
    const { header, ciphers } = encryptAll(key, ad, [randomBytes(10), randomBytes(10), randomBytes(10)]);
    const dec = new StreamDecryptor(key, header, ad);
    dec.decrypt(ciphers[0]!);
    dec.decrypt(ciphers[1]!);
    expect(() => dec.assertFinished()).toThrow(DecryptionError);
  });

  it('notices a stream with no chunks at all', () => {
    const { header } = encryptAll(key, ad, [randomBytes(10)]);
    const dec = new StreamDecryptor(key, header, ad);
    expect(() => dec.assertFinished()).toThrow(DecryptionError);
  });

  it('refuses a chunk encrypted for another file (different associated data)', () => {
    const { header, ciphers } = encryptAll(key, ad, [randomBytes(10), randomBytes(10)]);
    const dec = new StreamDecryptor(key, header, 'evidence:00000000-0000-0000-0000-000000000000');
    expect(() => dec.decrypt(ciphers[0]!)).toThrow(DecryptionError);
  });

  it("refuses another stream's chunk, same key and associated data", () => {
    const a = encryptAll(key, ad, [randomBytes(10), randomBytes(10)]);
    const b = encryptAll(key, ad, [randomBytes(10), randomBytes(10)]);
    const dec = new StreamDecryptor(key, a.header, ad);
    expect(() => dec.decrypt(b.ciphers[0]!)).toThrow(DecryptionError);

    const dec2 = new StreamDecryptor(key, a.header, ad);
    dec2.decrypt(a.ciphers[0]!);
    expect(() => dec2.decrypt(b.ciphers[1]!)).toThrow(DecryptionError);
  });

  it('refuses another key', () => {
    const { header, ciphers } = encryptAll(key, ad, [randomBytes(10)]);
    const dec = new StreamDecryptor(newDataKey(), header, ad);
    expect(() => dec.decrypt(ciphers[0]!)).toThrow(DecryptionError);
  });

  it('refuses a tampered chunk', () => {
    const { header, ciphers } = encryptAll(key, ad, [randomBytes(32)]);
    const c = new Uint8Array(ciphers[0]!);
    c[c.length - 1] = c[c.length - 1]! ^ 0x80;
    const dec = new StreamDecryptor(key, header, ad);
    expect(() => dec.decrypt(c)).toThrow(DecryptionError);
  });

  it('refuses a truncated or empty chunk', () => {
    const { header, ciphers } = encryptAll(key, ad, [randomBytes(32)]);
    expect(() => new StreamDecryptor(key, header, ad).decrypt(ciphers[0]!.subarray(0, 10))).toThrow(DecryptionError);
    expect(() => new StreamDecryptor(key, header, ad).decrypt(new Uint8Array(0))).toThrow(DecryptionError);
  });

  it('refuses a malformed header', () => {
    const { header } = encryptAll(key, ad, [randomBytes(10)]);
    expect(() => new StreamDecryptor(key, header.subarray(0, 10), ad)).toThrow(DecryptionError);
  });

  it('refuses data after the final chunk', () => {
    const enc = new StreamEncryptor(key, ad);
    const first = enc.encrypt(randomBytes(10), true);
    const extra = enc.encrypt(randomBytes(10), false); // an attacker's appended chunk
    const dec = new StreamDecryptor(key, enc.header, ad);
    dec.decrypt(first);
    dec.assertFinished();
    expect(() => dec.decrypt(extra)).toThrow(DecryptionError);
  });

  it('refuses a replayed final chunk', () => {
    const { header, ciphers } = encryptAll(key, ad, [randomBytes(10), randomBytes(10)]);
    const dec = new StreamDecryptor(key, header, ad);
    dec.decrypt(ciphers[0]!);
    dec.decrypt(ciphers[1]!);
    expect(() => dec.decrypt(ciphers[1]!)).toThrow(DecryptionError);
  });
});
