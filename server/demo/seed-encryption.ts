import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { encryptField, encryptJson, newDataKey, readySodium, sealTo, wipe } from '../crypto/index.js';
import type { ReportDetails } from '../reporting/service.js';
import type { ReportInput } from '../reporting/validation.js';
import type { ReferralDetails } from '../cases/referral.js';

/**
 * The encryption side of seeding (seed.ts, seed-demo.ts), in a module of its
 * own because worker threads load it: it imports nothing but the crypto
 * module and types. Sealing a data key costs ~0.4 ms in libsodium's
 * WebAssembly, 40 s for 100,000 rows on one thread; the compiled build
 * spreads it over worker threads while earlier batches are inserted.
 */

type Contact = NonNullable<ReportInput['contact']>;
/** What a demo case has besides its report (seed-demo.ts): encrypted under the same data key. */
export type PlainExtras = {
  messages: { id: string; body: string }[];
  notes: { id: string; body: string }[];
  referrals: { id: string; details: ReferralDetails }[];
};
export type PlainFields = { id: string; narrative: string; details: ReportDetails; contact: Contact | null; extras?: PlainExtras };
export type SealedFields = {
  dataKeySealed: Uint8Array;
  narrative: Uint8Array;
  details: Uint8Array;
  contact: Uint8Array | null;
  extras: { messages: Uint8Array[]; notes: Uint8Array[]; referrals: Uint8Array[] } | null;
};

/**
 * Exactly what createPendingReport does to a report's secret fields, and for
 * a demo case what sendMessage, addNote and recordReferral do to theirs: one
 * data key, each ciphertext bound to its own (table, id, field) (P8).
 */
export function encryptSeedFields(publicKey: Uint8Array, p: PlainFields): SealedFields {
  const dataKey = newDataKey();
  const field = (name: string) => ({ table: 'reports', id: p.id, field: name });
  const x = p.extras;
  const out = {
    dataKeySealed: sealTo(dataKey, publicKey),
    narrative: encryptField(dataKey, p.narrative, field('narrative')),
    details: encryptJson(dataKey, p.details, field('details')),
    contact: p.contact ? encryptJson(dataKey, p.contact, field('contact')) : null,
    extras: x
      ? {
          messages: x.messages.map((m) => encryptField(dataKey, m.body, { table: 'messages', id: m.id, field: 'body' })),
          notes: x.notes.map((n) => encryptField(dataKey, n.body, { table: 'case_notes', id: n.id, field: 'body' })),
          referrals: x.referrals.map((f) => encryptJson(dataKey, f.details, { table: 'referrals', id: f.id, field: 'details' })),
        }
      : null,
  };
  wipe(dataKey);
  return out;
}

const WORKER_FLAG = 'harbourSeedEncryptor';

type Job = { n: number; publicKey: Uint8Array; rows: PlainFields[] };
type Done = { n: number; out?: SealedFields[]; error?: string };

/** Worker threads that encrypt batches; only usable from the compiled .js build. */
class EncryptorPool {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve(v: SealedFields[]): void; reject(e: Error): void }>();
  private next = 0;

  constructor(size: number) {
    this.workers = Array.from({ length: size }, () => {
      const w = new Worker(new URL(import.meta.url), { workerData: { [WORKER_FLAG]: true } });
      w.on('message', (m: Done) => {
        const p = this.waiting.get(m.n);
        this.waiting.delete(m.n);
        if (m.out) p?.resolve(m.out);
        else p?.reject(new Error(m.error ?? 'seed encryptor failed'));
      });
      const failAll = (err: Error) => {
        for (const p of this.waiting.values()) p.reject(err);
        this.waiting.clear();
      };
      w.on('error', failAll);
      w.on('exit', (code) => failAll(new Error(`seed encryptor exited (code ${code})`)));
      return w;
    });
  }

  encrypt(publicKey: Uint8Array, rows: PlainFields[]): Promise<SealedFields[]> {
    const n = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(n, { resolve, reject });
      this.workers[n % this.workers.length]!.postMessage({ n, publicKey, rows } satisfies Job);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

// The worker side: this same module, started by EncryptorPool with the flag.
// Guarded so that importing the module anywhere else does nothing.
if (!isMainThread && parentPort && (workerData as Record<string, unknown> | null)?.[WORKER_FLAG] === true) {
  const port = parentPort;
  void readySodium().then(() => {
    port.on('message', (job: Job) => {
      try {
        port.postMessage({ n: job.n, out: job.rows.map((row) => encryptSeedFields(job.publicKey, row)) } satisfies Done);
      } catch (err) {
        port.postMessage({ n: job.n, error: err instanceof Error ? err.message : String(err) } satisfies Done);
      }
    });
  });
}

// ---------------------------------------------------------------- the pipeline

/** One batch of rows: the plaintext to encrypt, and whatever the insert needs beside it. */
export type SeedBatch<T> = { plains: PlainFields[]; rest: T };

/** Encryption threads for `count` rows: only from the compiled build (a .ts file cannot start one under the test runner). */
export function encryptionThreads(count: number, workers?: number): number {
  return import.meta.url.endsWith('.js') && count >= 5000 ? (workers ?? Math.min(4, availableParallelism())) : 0;
}

/**
 * Encrypts each batch (on `workerCount` threads, or this one) and hands its
 * ciphertexts to `insert`. Inserts run one at a time, in batch order, while
 * later batches are encrypted; batches are drawn from the iterable only as
 * fast as inserts keep up, so memory stays flat.
 */
export async function encryptAndInsert<T>(
  batches: Iterable<SeedBatch<T>>,
  publicKey: Uint8Array,
  workerCount: number,
  insert: (batch: SeedBatch<T>, sealed: SealedFields[]) => Promise<void>,
): Promise<void> {
  const pool = workerCount > 0 ? new EncryptorPool(workerCount) : null;
  const inFlight: Promise<void>[] = [];
  let previousInsert: Promise<void> = Promise.resolve();
  try {
    for (const batch of batches) {
      const sealed = pool ? pool.encrypt(publicKey, batch.plains) : Promise.resolve(batch.plains.map((p) => encryptSeedFields(publicKey, p)));
      const run = Promise.all([sealed, previousInsert]).then(([enc]) => insert(batch, enc));
      previousInsert = run;
      inFlight.push(run);
      if (inFlight.length > Math.max(2, workerCount * 2)) await inFlight.shift();
    }
    await Promise.all(inFlight);
  } finally {
    await Promise.allSettled(inFlight);
    await pool?.close();
  }
}
