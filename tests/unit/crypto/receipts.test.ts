import { beforeAll, describe, expect, it } from 'vitest';
import {
  RECEIPT_ARGON2,
  RECEIPT_DIGITS,
  deriveReceiptKeys,
  formatReceipt,
  generateReceipt,
  normalizeReceipt,
  readySodium,
} from '../../../server/crypto/index.js';

const RECEIPT = '01234567890123456789';

/** Writes an ASCII digit string in another script's digits. */
function inScript(ascii: string, zero: number): string {
  return ascii.replace(/\d/g, (d) => String.fromCharCode(zero + Number(d)));
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

describe('receipts', () => {
  beforeAll(async () => {
    await readySodium();
  });

  describe('generateReceipt', () => {
    it('gives 20 ASCII digits', () => {
      expect(RECEIPT_DIGITS).toBe(20);
      for (let i = 0; i < 50; i++) expect(generateReceipt()).toMatch(/^[0-9]{20}$/);
    });

    it('gives distinct receipts with every digit position varying', () => {
      const receipts = Array.from({ length: 200 }, generateReceipt);
      expect(new Set(receipts).size).toBe(200);
      for (let pos = 0; pos < 20; pos++) {
        const seen = new Set(receipts.map((r) => r[pos]));
        // 200 uniform draws over 10 digits: fewer than 6 values has probability < 1e-60.
        expect(seen.size, `position ${pos}`).toBeGreaterThanOrEqual(6);
      }
    });

    it('uses the leading digit fully (no bias towards small numbers)', () => {
      const receipts = Array.from({ length: 400 }, generateReceipt);
      const leadingHigh = receipts.filter((r) => r[0]! >= '5').length;
      // Binomial(400, 0.5): outside 120..280 has probability far below 1e-15.
      expect(leadingHigh).toBeGreaterThan(120);
      expect(leadingHigh).toBeLessThan(280);
    });
  });

  describe('formatReceipt', () => {
    it('groups the digits in fours', () => {
      expect(formatReceipt(RECEIPT)).toBe('0123 4567 8901 2345 6789');
    });

    it('round-trips through normalizeReceipt', () => {
      for (let i = 0; i < 20; i++) {
        const r = generateReceipt();
        expect(normalizeReceipt(formatReceipt(r))).toBe(r);
      }
    });
  });

  describe('normalizeReceipt', () => {
    it.each([
      ['plain', RECEIPT],
      ['grouped with spaces', '0123 4567 8901 2345 6789'],
      ['grouped with dashes', '0123-4567-8901-2345-6789'],
      ['grouped with dots', '0123.4567.8901.2345.6789'],
      ['surrounded by whitespace and newlines', '  0123 4567\t8901\n2345 6789 \r\n'],
      ['with no-break spaces', '0123\u00a04567\u00a08901\u00a02345\u00a06789'],
      ['with ideographic spaces', '0123\u30004567\u30008901\u30002345\u30006789'],
      ['with bidi marks (pasted from RTL text)', '\u200f0123 4567\u200e 8901 2345 6789\u200f'],
      ['in full-width digits', inScript('0123 4567 8901 2345 6789', 0xff10)],
      ['in full-width digits with a full-width dash', inScript('0123\uff0d4567 8901 2345 6789', 0xff10)],
      ['in Arabic-Indic digits', inScript(RECEIPT, 0x0660)],
      ['in Extended Arabic-Indic digits', inScript('0123 4567 8901 2345 6789', 0x06f0)],
      ['in mixed scripts', inScript('0123', 0xff10) + inScript('4567', 0x0660) + inScript('8901', 0x06f0) + '23456789'],
    ])('accepts a receipt %s', (_how, input) => {
      expect(normalizeReceipt(input)).toBe(RECEIPT);
    });

    it('maps every full-width, Arabic-Indic and Extended Arabic-Indic digit to its value', () => {
      const all = '01234567890123456789';
      expect(normalizeReceipt('０１２３４５６７８９０１２３４５６７８９')).toBe(all);
      expect(normalizeReceipt('٠١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩')).toBe(all);
      expect(normalizeReceipt('۰۱۲۳۴۵۶۷۸۹۰۱۲۳۴۵۶۷۸۹')).toBe(all);
    });

    it.each([
      ['19 digits', '0123456789012345678'],
      ['21 digits', '012345678901234567890'],
      ['a letter in place of a digit', '0123456789O123456789'],
      ['a letter added', '01234567890123456789a'],
      ['an empty string', ''],
      ['only separators', ' - . - '],
      ['other punctuation', '0123/4567/8901/2345/6789'],
      ['a plus sign', '+01234567890123456789'],
      ['19 Arabic-Indic digits', inScript('0123456789012345678', 0x0660)],
      ['21 full-width digits', inScript('012345678901234567890', 0xff10)],
    ])('rejects %s', (_what, input) => {
      expect(normalizeReceipt(input)).toBeNull();
    });
  });

  describe('deriveReceiptKeys', () => {
    const salt = new Uint8Array(16).fill(7);
    const otherSalt = new Uint8Array(16).fill(8);

    it('uses Argon2id parameters at or above the OWASP floor', () => {
      expect(RECEIPT_ARGON2.memoryCost).toBeGreaterThanOrEqual(19 * 1024);
      expect(RECEIPT_ARGON2.timeCost).toBeGreaterThanOrEqual(2);
      expect(RECEIPT_ARGON2.hashLength).toBeGreaterThanOrEqual(32);
      expect(Object.isFrozen(RECEIPT_ARGON2)).toBe(true);
    });

    it('is deterministic, separates lookup from wrapKey, and depends on receipt and salt', async () => {
      const [a, again, saltB, receiptB] = await Promise.all([
        deriveReceiptKeys(RECEIPT, salt),
        deriveReceiptKeys(RECEIPT, salt),
        deriveReceiptKeys(RECEIPT, otherSalt),
        deriveReceiptKeys('01234567890123456788', salt),
      ]);

      expect(a.lookup.length).toBe(32);
      expect(a.wrapKey.length).toBe(32);

      expect(hex(again.lookup)).toBe(hex(a.lookup));
      expect(hex(again.wrapKey)).toBe(hex(a.wrapKey));

      expect(hex(a.lookup)).not.toBe(hex(a.wrapKey));

      expect(hex(saltB.lookup)).not.toBe(hex(a.lookup));
      expect(hex(saltB.wrapKey)).not.toBe(hex(a.wrapKey));

      expect(hex(receiptB.lookup)).not.toBe(hex(a.lookup));
      expect(hex(receiptB.wrapKey)).not.toBe(hex(a.wrapKey));

      // Neither subkey is all zeros (the master secret is wiped after use, not the subkeys).
      expect(a.lookup.some((b) => b !== 0)).toBe(true);
      expect(a.wrapKey.some((b) => b !== 0)).toBe(true);
    });
  });
});
