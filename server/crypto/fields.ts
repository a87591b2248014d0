import { randomBytes } from './keys.js';
import { DecryptionError, sodium } from './sodium.js';

/**
 * Field encryption: XChaCha20-Poly1305 with the row's table, id and field
 * name as associated data (P8). A ciphertext copied to another row or field
 * fails to authenticate instead of showing a caseworker the wrong text.
 * Layout: version byte 1 | 24-byte nonce | ciphertext+tag.
 */
const VERSION = 1;

export type FieldContext = { table: string; id: string; field: string };

function associatedData(ctx: FieldContext): Uint8Array {
  // JSON keeps the three parts unambiguous whatever characters they contain.
  return sodium().from_string(JSON.stringify(['harbour', VERSION, ctx.table, ctx.id, ctx.field]));
}

export function encryptField(key: Uint8Array, plaintext: Uint8Array | string, ctx: FieldContext): Uint8Array {
  const s = sodium();
  const nonce = randomBytes(s.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  const message = typeof plaintext === 'string' ? s.from_string(plaintext) : plaintext;
  const ct = s.crypto_aead_xchacha20poly1305_ietf_encrypt(message, associatedData(ctx), null, nonce, key);
  const out = new Uint8Array(1 + nonce.length + ct.length);
  out[0] = VERSION;
  out.set(nonce, 1);
  out.set(ct, 1 + nonce.length);
  return out;
}

export function decryptField(key: Uint8Array, box: Uint8Array, ctx: FieldContext): Uint8Array {
  const s = sodium();
  const n = s.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  if (box.length < 1 + n + s.crypto_aead_xchacha20poly1305_ietf_ABYTES || box[0] !== VERSION) {
    throw new DecryptionError(`${ctx.table}.${ctx.field}`);
  }
  try {
    return s.crypto_aead_xchacha20poly1305_ietf_decrypt(null, box.subarray(1 + n), associatedData(ctx), box.subarray(1, 1 + n), key);
  } catch {
    throw new DecryptionError(`${ctx.table}.${ctx.field}`);
  }
}

export function encryptJson(key: Uint8Array, value: unknown, ctx: FieldContext): Uint8Array {
  return encryptField(key, JSON.stringify(value), ctx);
}

export function decryptJson<T>(key: Uint8Array, box: Uint8Array, ctx: FieldContext): T {
  return JSON.parse(sodium().to_string(decryptField(key, box, ctx))) as T;
}

export function decryptText(key: Uint8Array, box: Uint8Array, ctx: FieldContext): string {
  return sodium().to_string(decryptField(key, box, ctx));
}
