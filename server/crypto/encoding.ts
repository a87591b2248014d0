/**
 * Keys and other bytes as text, for the places that keep them in JSON (a
 * session's payload): standard base64, as every payload written so far has it.
 */
export const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
export const fromBase64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));
