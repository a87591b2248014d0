import { randomBytes } from 'node:crypto';
import type { Db } from '../../server/db/index.js';

/**
 * The shapes a secret could take if some code path wrote it down, so a P1,
 * P7 or P9 search looks for all of them, not only the one the secret was
 * handed over in. A form is the exact bytes that would be stored, plus, for
 * a form that is text, the string itself (a dump row is a JS string, a data
 * file is bytes read as latin1).
 */
export type Form = { label: string; bytes: Buffer; text: string | null };

const latin1 = (b: Buffer) => b.toString('latin1');

/**
 * Base64 (standard and URL-safe) of the value, at each of the three byte
 * offsets it could sit at inside a larger base64 blob (a JSON payload
 * encoded whole, say): only the characters that depend on the value alone
 * are kept, so the form is found wherever the value starts.
 */
function base64Windows(value: Buffer, label: string): Form[] {
  const out: Form[] = [];
  for (const encoding of ['base64', 'base64url'] as const) {
    for (let k = 0; k < 3; k++) {
      const s = Buffer.concat([Buffer.alloc(k), value]).toString(encoding);
      const text = s.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + value.length)) / 6));
      out.push({ label: `${label} ${encoding} +${k}`, bytes: Buffer.from(text, 'ascii'), text });
    }
  }
  return out;
}

const ascii = (label: string, text: string): Form => ({ label, bytes: Buffer.from(text, 'utf8'), text });

/** A key or other binary secret: raw, hex (both cases), base64 at every alignment. */
export function formsOfBytes(value: Uint8Array, label = 'bytes'): Form[] {
  const b = Buffer.from(value);
  const hex = b.toString('hex');
  return [
    { label: `${label} raw`, bytes: b, text: null },
    ascii(`${label} hex`, hex),
    ascii(`${label} HEX`, hex.toUpperCase()),
    ...base64Windows(b, label),
  ];
}

/** Text someone typed (or a code shown to them): UTF-8, UTF-16LE, and the hex and base64 of its UTF-8. */
export function formsOfText(value: string, label = 'text'): Form[] {
  const utf8 = Buffer.from(value, 'utf8');
  return [
    { label: `${label} utf8`, bytes: utf8, text: value },
    { label: `${label} utf16le`, bytes: Buffer.from(value, 'utf16le'), text: null },
    ascii(`${label} utf8 hex`, utf8.toString('hex')),
    ...base64Windows(utf8, `${label} utf8`),
  ];
}

/** RFC 4648 base32, as otplib writes TOTP secrets. */
export function decodeBase32(s: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let acc = 0;
  const out: number[] = [];
  for (const c of s.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error('not base32');
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/**
 * A TOTP secret: the base32 text (as issued, lower case, in the groups of
 * four the enrolment page shows), its text forms, and the 20 key bytes it
 * stands for in every binary form.
 */
export function formsOfTotpSecret(base32: string): Form[] {
  return [
    ...formsOfText(base32, 'totp base32'),
    ascii('totp base32 lower', base32.toLowerCase()),
    ascii('totp base32 grouped', base32.match(/.{1,4}/g)!.join(' ')),
    ...formsOfBytes(decodeBase32(base32), 'totp key'),
  ];
}

/**
 * The offline recovery key: as `harbour setup` prints it, with the dashes
 * dropped or turned to spaces, in lower case, and the private key it
 * encodes in every binary form.
 */
export function formsOfRecoveryKey(printed: string, privateKey: Uint8Array): Form[] {
  const bare = printed.replace(/-/g, '');
  return [
    ...formsOfText(printed, 'recovery printed'),
    ascii('recovery printed lower', printed.toLowerCase()),
    ascii('recovery spaced', printed.replace(/-/g, ' ')),
    ascii('recovery bare', bare),
    ascii('recovery bare lower', bare.toLowerCase()),
    ...formsOfBytes(privateKey, 'recovery key'),
  ];
}

/** The labels of the forms present in a haystack (a table dump or a data directory read as latin1). */
export function formsFound(haystack: string, forms: Form[]): string[] {
  return forms.filter((f) => haystack.includes(latin1(f.bytes)) || (f.text !== null && haystack.includes(f.text))).map((f) => f.label);
}

/** The labels of the forms present in a buffer (one row's bytes). */
export function formsInBytes(blob: Buffer, forms: Form[]): string[] {
  return forms.filter((f) => blob.includes(f.bytes)).map((f) => f.label);
}

/**
 * For the positive controls: writes each form of a control value into the
 * database the way a leak would, with random bytes on either side.
 * `where: 'bytea'` puts every form in a bytea column (a form_submissions
 * row's receipt_sealed); `where: 'text'` puts every form that is text in a
 * text column (a rate_limits key). Returns the forms written.
 */
export async function plantForms(db: Db, forms: Form[], where: 'bytea' | 'text'): Promise<Form[]> {
  const planted: Form[] = [];
  for (const f of forms) {
    if (where === 'bytea') {
      await db
        .insertInto('form_submissions')
        .values({
          key_hash: randomBytes(32),
          state: 'sending',
          report_id: null,
          receipt_sealed: Buffer.concat([randomBytes(7), f.bytes, randomBytes(5)]),
        })
        .execute();
      planted.push(f);
    } else if (f.text !== null) {
      await db
        .insertInto('rate_limits')
        .values({ key: `control:${randomBytes(3).toString('hex')}:${f.text}:end`, points: 0, expire: null })
        .execute();
      planted.push(f);
    }
  }
  return planted;
}
