import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import { sodium } from './sodium.js';

/**
 * At most (cores − 1) Argon2id derivations (receipts, staff passwords) run at
 * once in this process. Each is ~100 ms of CPU and 32–64 MiB: unbounded, a
 * burst of submissions or sign-ins would take every core from the thread
 * that serves pages and multiply the memory. This is a local limit on CPU
 * work, not shared state: each instance limits its own.
 */
const MAX_CONCURRENT = Math.max(1, availableParallelism() - 1);
let running = 0;
const queue: (() => void)[] = [];

export async function withArgon2Slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => queue.push(resolve));
  else running++;
  try {
    return await fn();
  } finally {
    const next = queue.shift();
    if (next)
      next(); // hand the slot straight to the next caller
    else running--;
  }
}

export type Argon2Params = { type: 0 | 1 | 2; memoryCost: number; timeCost: number; parallelism: number; hashLength: number };

/**
 * Cheaper derivations for the test suite only. The production parameters are
 * the frozen constants PASSWORD_ARGON2 and RECEIPT_ARGON2, read by no
 * environment variable; a test run installs lighter ones here (thousands of
 * sign-ins and filings at 64 MiB × 3 passes are most of the suite's time).
 * Installing is refused under NODE_ENV=production, and createApp refuses to
 * build a production app while any are installed.
 */
export type Argon2TestCosts = Readonly<{ password: Argon2Params; receipt: Argon2Params }>;
let testCosts: Argon2TestCosts | null = null;

export function useTestArgon2Costs(costs: Argon2TestCosts | null): void {
  if (costs && process.env['NODE_ENV'] === 'production') throw new Error('test Argon2 parameters cannot be used in production');
  testCosts = costs;
}

export function testArgon2Costs(): Argon2TestCosts | null {
  return testCosts;
}

/**
 * One Argon2id derivation (in the bounded pool), then two 32-byte subkeys
 * with distinct crypto_kdf contexts (8 characters each); the master secret
 * is wiped. Receipts and staff passwords both use this shape.
 */
export async function deriveTwoSubkeys(
  secret: string,
  salt: Uint8Array,
  params: Argon2Params,
  contexts: readonly [string, string],
): Promise<[Uint8Array, Uint8Array]> {
  const master = new Uint8Array(await withArgon2Slot(() => argon2.hash(secret, { ...params, raw: true, salt: Buffer.from(salt) })));
  const s = sodium();
  const keys: [Uint8Array, Uint8Array] = [
    s.crypto_kdf_derive_from_key(32, 1, contexts[0], master),
    s.crypto_kdf_derive_from_key(32, 2, contexts[1], master),
  ];
  s.memzero(master);
  return keys;
}
