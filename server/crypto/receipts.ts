import argon2 from 'argon2';
import { deriveTwoSubkeys, testArgon2Costs } from './argon.js';
import { randomBytes } from './keys.js';

/**
 * Receipts: 20 decimal digits (log2(10^20) ≈ 66.4 bits), shown in groups of
 * four. The server never stores or looks up the receipt itself: Argon2id
 * over the receipt with the installation salt gives one secret, and two
 * subkeys are derived from it with distinct crypto_kdf contexts — a lookup
 * hash (stored, indexed) and the key that wraps the report's data key for
 * the reporter (never stored).
 *
 * Argon2id parameters: 32 MiB, 3 passes, 1 lane. Above the OWASP floor
 * (19 MiB, 2 passes). Measured on the 2-core CI machine at about 100 ms per
 * derivation (see README, `npm run bench`). With ~66 bits of receipt, an
 * attacker holding the database needs ~10^20 derivations for one receipt.
 * The libuv thread pool runs argon2, so the event loop stays free.
 */
export const RECEIPT_ARGON2 = Object.freeze({
  type: argon2.argon2id,
  memoryCost: 32 * 1024, // KiB
  timeCost: 3,
  parallelism: 1,
  hashLength: 32,
});

export const RECEIPT_DIGITS = 20;
const GROUP = 4;

/** Uniform 20-digit receipt by rejection sampling over 72 random bits. */
export function generateReceipt(): string {
  const space = 10n ** BigInt(RECEIPT_DIGITS);
  const max72 = 1n << 72n;
  const limit = max72 - (max72 % space);
  for (;;) {
    const bytes = randomBytes(9);
    let n = 0n;
    for (const b of bytes) n = (n << 8n) | BigInt(b);
    if (n < limit) return (n % space).toString().padStart(RECEIPT_DIGITS, '0');
  }
}

export function formatReceipt(receipt: string): string {
  return receipt.match(new RegExp(`.{1,${GROUP}}`, 'g'))!.join(' ');
}

/**
 * Accepts what people actually type: spaces, dashes and dots between groups,
 * full-width digits (Chinese input methods) and Arabic-Indic digits (Uyghur
 * keyboards). Returns the 20 ASCII digits, or null.
 */
export function normalizeReceipt(input: string): string | null {
  const ascii = input
    .normalize('NFKC') // full-width ０-９ → 0-9
    .replace(/[\u0660-\u0669]/g, (d) => String(d.charCodeAt(0) - 0x0660))
    .replace(/[\u06f0-\u06f9]/g, (d) => String(d.charCodeAt(0) - 0x06f0))
    .replace(/[\s\-.\u00a0\u200e\u200f]/g, '');
  return new RegExp(`^\\d{${RECEIPT_DIGITS}}$`).test(ascii) ? ascii : null;
}

export type ReceiptKeys = { lookup: Uint8Array; wrapKey: Uint8Array };

export async function deriveReceiptKeys(receipt: string, salt: Uint8Array): Promise<ReceiptKeys> {
  const [lookup, wrapKey] = await deriveTwoSubkeys(receipt, salt, testArgon2Costs()?.receipt ?? RECEIPT_ARGON2, ['rcptlook', 'rcptwrap']);
  return { lookup, wrapKey };
}
