import { DecryptionError, sodium } from './sodium.js';

/**
 * Evidence files are encrypted in fixed-size chunks with
 * crypto_secretstream_xchacha20poly1305: memory stays flat whatever the file
 * size, chunks cannot be reordered, dropped or truncated (the last carries
 * TAG_FINAL), and every chunk carries the evidence id as associated data so
 * a chunk moved to another file fails.
 */
export const CHUNK_BYTES = 64 * 1024;

export class StreamEncryptor {
  readonly header: Uint8Array;
  private readonly state: unknown;
  private readonly ad: Uint8Array;

  constructor(key: Uint8Array, associatedData: string) {
    const s = sodium();
    const init = s.crypto_secretstream_xchacha20poly1305_init_push(key);
    this.header = init.header;
    this.state = init.state;
    this.ad = s.from_string(associatedData);
  }

  encrypt(plain: Uint8Array, last: boolean): Uint8Array {
    const s = sodium();
    const tag = last ? s.crypto_secretstream_xchacha20poly1305_TAG_FINAL : s.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    return s.crypto_secretstream_xchacha20poly1305_push(this.state as never, plain, this.ad, tag);
  }
}

export class StreamDecryptor {
  private readonly state: unknown;
  private readonly ad: Uint8Array;
  private finished = false;

  constructor(key: Uint8Array, header: Uint8Array, associatedData: string) {
    const s = sodium();
    try {
      this.state = s.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
    } catch {
      throw new DecryptionError('evidence stream header');
    }
    this.ad = s.from_string(associatedData);
  }

  decrypt(cipher: Uint8Array): Uint8Array {
    const s = sodium();
    if (this.finished) throw new DecryptionError('evidence chunk after the final one');
    let result: { message: Uint8Array; tag: number } | false;
    try {
      result = s.crypto_secretstream_xchacha20poly1305_pull(this.state as never, cipher, this.ad);
    } catch {
      result = false;
    }
    if (!result) throw new DecryptionError('evidence chunk');
    if (result.tag === s.crypto_secretstream_xchacha20poly1305_TAG_FINAL) this.finished = true;
    return result.message;
  }

  /** Call at the end: a stream without its final chunk was truncated. */
  assertFinished(): void {
    if (!this.finished) throw new DecryptionError('truncated evidence stream');
  }
}

/**
 * Re-chunks a byte stream into blocks of exactly `size` bytes (the last may
 * be shorter, or empty for an empty input) and marks the last one, which the
 * encryptor needs to set TAG_FINAL. Two buffers alternate (one waiting to be
 * yielded, one filling), so a block is valid only until the consumer asks
 * for the next one: the encryptor copies it at once. This keeps an upload
 * from allocating a fresh buffer per chunk.
 */
export async function* blocks(source: AsyncIterable<Uint8Array>, size = CHUNK_BYTES): AsyncGenerator<{ data: Uint8Array; last: boolean }> {
  const buffers = [new Uint8Array(size), new Uint8Array(size)];
  let current = 0;
  let buf = buffers[current]!;
  let filled = 0;
  let pending: Uint8Array | null = null;
  for await (const piece of source) {
    let offset = 0;
    while (offset < piece.length) {
      const n = Math.min(size - filled, piece.length - offset);
      buf.set(piece.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === size) {
        if (pending) yield { data: pending, last: false };
        pending = buf;
        current ^= 1;
        buf = buffers[current]!;
        filled = 0;
      }
    }
  }
  if (filled > 0) {
    if (pending) yield { data: pending, last: false };
    yield { data: buf.subarray(0, filled), last: true };
  } else {
    yield { data: pending ?? new Uint8Array(0), last: true };
  }
}
