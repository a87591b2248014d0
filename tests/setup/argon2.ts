import { useTestArgon2Costs } from '../../server/crypto/argon.js';
import { PASSWORD_ARGON2, RECEIPT_ARGON2 } from '../../server/crypto/index.js';

/**
 * Every test file in this process (vitest `setupFiles`) derives staff
 * passwords and receipts with Argon2id at 64 KiB and one pass instead of
 * 64 MiB / 32 MiB and three passes: the same algorithm, salts, subkey
 * contexts and code path, at about a thousandth of the cost. The production
 * constants keep their own known-answer tests (tests/unit/crypto/argon2.test.ts),
 * and processes started from dist/ (tests/helpers/process.ts) never run this
 * file, so they derive with the real parameters.
 */
export const TEST_ARGON2 = Object.freeze({
  password: Object.freeze({ ...PASSWORD_ARGON2, memoryCost: 64, timeCost: 1 }),
  receipt: Object.freeze({ ...RECEIPT_ARGON2, memoryCost: 64, timeCost: 1 }),
});

useTestArgon2Costs(TEST_ARGON2);
