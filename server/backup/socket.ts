import { chmodSync, existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Db } from '../db/index.js';
import { writeAtomically, writeBackupTo, type BackupSummary } from './backup.js';
import { BackupError } from './format.js';

/**
 * A backup of the embedded database while the server runs. The data
 * directory is the server's alone (db/lock.ts), so `harbour backup` cannot
 * open it; instead the server listens on a Unix socket inside it (the
 * directory is 0700 and the socket 0600: only the server's own user, or
 * root, can connect — no network, no password). The command sends
 * "backup\n"; the server answers with the same encrypted bytes
 * writeBackup writes, in chunks of [4-byte length][bytes], then a 0 length
 * and a JSON status. It reveals nothing a copy of the data directory would
 * not, and less: the bytes are sealed to the recovery key. While it runs,
 * the server's other requests wait for the embedded database (one session).
 */
export const socketPath = (dataDir: string) => path.join(dataDir, 'harbour-backup.sock');

/** How long a backup client may be silent (not asking, not reading) before the server lets it go. */
const IDLE_MS = 60_000;

type Status = { ok: true; migration: string; rows: Record<string, number> } | { ok: false; message: string };

export async function listenForBackups(
  db: Db,
  dataDir: string,
  log: (msg: string, err?: unknown) => void = () => {},
  idleMs = IDLE_MS,
): Promise<() => Promise<void>> {
  const file = socketPath(dataDir);
  rmSync(file, { force: true }); // left by a server that was killed; we hold the directory's lock
  let busy = false;
  const server = net.createServer((conn) => {
    let asked = '';
    conn.on('error', () => {});
    // A client that stops sending its request, or stops reading the answer, is let go after a minute
    // of silence: the backup holds the embedded database's one session, which reporters need.
    conn.setTimeout(idleMs, () => conn.destroy());
    conn.on('data', (d) => {
      asked += d.toString('latin1');
      if (!asked.includes('\n')) {
        if (asked.length > 64) conn.destroy();
        return;
      }
      conn.removeAllListeners('data');
      if (asked.split('\n')[0] !== 'backup') return void conn.destroy();
      void answer(conn);
    });
  });
  const send = (conn: net.Socket, b: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      if (conn.destroyed) return reject(new Error('the backup client went away'));
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      conn.write(len);
      if (conn.write(b)) return resolve();
      const drained = () => {
        conn.off('close', gone);
        resolve();
      };
      const gone = () => {
        conn.off('drain', drained);
        reject(new Error('the backup client went away'));
      };
      conn.once('drain', drained);
      conn.once('close', gone);
    });
  const answer = async (conn: net.Socket) => {
    let status: Status;
    if (busy) status = { ok: false, message: 'Another backup is running on this server; try again when it has finished.' };
    else {
      busy = true;
      try {
        status = { ok: true, ...(await writeBackupTo(db, (b) => send(conn, b))) };
      } catch (err) {
        log('a backup through the socket failed', err);
        status = { ok: false, message: err instanceof BackupError ? err.message : 'The server could not make the backup (see its log).' };
      } finally {
        busy = false;
      }
    }
    if (conn.destroyed) return;
    conn.end(Buffer.concat([Buffer.alloc(4), Buffer.from(JSON.stringify(status))]));
  };
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', (err) => {
      // For example a data directory path too long for a socket: the server runs on; backups need it stopped.
      log('cannot listen for backups; `harbour backup` will need the server stopped', err);
      resolve(false);
    });
    server.listen(file, () => resolve(true));
  });
  if (!listening) return async () => {};
  chmodSync(file, 0o600);
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      rmSync(file, { force: true });
    });
}

/** `harbour backup` beside a running server on the embedded database; false when no server listens. */
export function serverListens(dataDir: string): boolean {
  return existsSync(socketPath(dataDir));
}

export async function backupThroughServer(dataDir: string, file: string): Promise<BackupSummary> {
  return writeAtomically(file, async (write) => {
    const conn = net.connect(socketPath(dataDir));
    await new Promise<void>((resolve, reject) => {
      conn.once('connect', resolve);
      conn.once('error', (err: NodeJS.ErrnoException) =>
        reject(new BackupError(`The running server does not answer on ${socketPath(dataDir)} (${err.code ?? err.message}).`)),
      );
    });
    conn.write('backup\n');
    let pending: Buffer = Buffer.alloc(0);
    let status: Status | null = null;
    for await (const piece of conn as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, piece]) : piece;
      while (!status && pending.length >= 4) {
        const n = pending.readUInt32BE(0);
        if (n === 0) {
          // The status follows to the end of the stream.
          break;
        }
        if (pending.length < 4 + n) break;
        await write(pending.subarray(4, 4 + n));
        pending = pending.subarray(4 + n);
      }
    }
    if (pending.length >= 4 && pending.readUInt32BE(0) === 0) status = JSON.parse(pending.subarray(4).toString('utf8')) as Status;
    if (!status) throw new BackupError('The server ended the backup before it was complete: no file written.');
    if (!status.ok) throw new BackupError(status.message);
    return { migration: status.migration, rows: status.rows };
  });
}
