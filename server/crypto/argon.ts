import { availableParallelism } from 'node:os';

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
    if (next) next(); // hand the slot straight to the next caller
    else running--;
  }
}
