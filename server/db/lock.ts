import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';

/**
 * One process per embedded data directory. PGlite keeps its own copy of the
 * database in memory and writes its files without any lock of its own, so a
 * second process on the same directory (a second server, or `harbour setup`
 * beside a running server) silently loses one side's writes and can corrupt
 * the other's (seen: acknowledged reports gone after a restart).
 *
 * The lock is proper-lockfile's (an atomic mkdir, refreshed every few
 * seconds, taken over only once stale), with a note of who holds it so the
 * refusal can say so. A process killed outright leaves a lock that goes stale
 * after STALE_MS; a new start whose holder is no longer running waits for it.
 */
const STALE_MS = 10_000;

export type LockOwner = { pid: number; role: string; since: string };

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner | null,
  ) {
    super(`${dataDir} is in use by another Harbour process${owner ? ` (${owner.role}, pid ${owner.pid}, since ${owner.since})` : ''}`);
    this.name = 'DataDirLockedError';
  }
}

const ownerFile = (dataDir: string) => path.join(dataDir, 'harbour.lock.json');

function readOwner(dataDir: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(ownerFile(dataDir), 'utf8')) as LockOwner;
  } catch {
    return null;
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the data directory's lock or throws DataDirLockedError at once when a
 * live process holds it. `onLost` runs if the lock is ever taken from us (the
 * process then must stop writing: the caller exits).
 */
export async function lockDataDir(dataDir: string, role: string, onLost: (err: Error) => void): Promise<() => Promise<void>> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const options = (retries: number) => ({
    lockfilePath: path.join(dataDir, 'harbour.lock'),
    stale: STALE_MS,
    update: STALE_MS / 4,
    realpath: false,
    onCompromised: onLost,
    retries: { retries, minTimeout: 500, maxTimeout: 1000, factor: 1 },
  });
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dataDir, options(0));
  } catch (err) {
    if ((err as { code?: string }).code !== 'ELOCKED') throw err;
    const owner = readOwner(dataDir);
    // The holder is gone (killed, or the machine restarted): its lock goes
    // stale within STALE_MS; wait for that rather than refuse.
    if (!owner || running(owner.pid)) throw new DataDirLockedError(dataDir, owner);
    release = await lockfile.lock(dataDir, options(Math.ceil((STALE_MS * 2) / 1000))).catch((e: unknown) => {
      throw (e as { code?: string }).code === 'ELOCKED' ? new DataDirLockedError(dataDir, readOwner(dataDir)) : e;
    });
  }
  writeFileSync(ownerFile(dataDir), JSON.stringify({ pid: process.pid, role, since: new Date().toISOString() } satisfies LockOwner), { mode: 0o600 });
  return async () => {
    rmSync(ownerFile(dataDir), { force: true });
    await release();
  };
}
