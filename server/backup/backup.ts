import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { migrations } from '../../migrations/index.js';
import { BackupEncryptor } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import { BackupError, FORMAT_VERSION, KIND, frame, message, preamble, type BackupHeader } from './format.js';
import * as q from './queries.js';
import { BACKED_UP_TABLES, NOT_BACKED_UP } from './tables.js';

export type BackupSummary = { file: string; bytes: number; migration: string; rows: Record<string, number> };

/** Rows per fetch: evidence chunks are 64 KiB each (twice that as hex), everything else is small. */
// Users in one batch: invited_by points within the table, and a foreign key is checked at the end of each insert.
const BATCH_ROWS: Partial<Record<string, number>> = { evidence_chunks: 8, users: 100_000 };
const DEFAULT_BATCH_ROWS = 500;

/**
 * Writes an encrypted backup of every table (tables.ts) to `file`, read in
 * one REPEATABLE READ, read-only transaction: one snapshot, consistent
 * across tables, while the server goes on writing (on PostgreSQL; the
 * embedded database, the server runs this itself when asked through its
 * socket, socket.ts, or the command does with the server stopped).
 * Rows stream through a cursor and out to disk a batch at a time. The file
 * appears under its name only once complete (written beside it, then
 * renamed), mode 0600.
 */
export async function writeBackup(db: Db, file: string, opts: { afterSnapshot?: () => Promise<void> } = {}): Promise<BackupSummary> {
  return writeAtomically(file, (write) => writeBackupTo(db, write, opts));
}

/** Writes `file` beside itself (mode 0600) and renames it into place only once complete. */
export async function writeAtomically(
  file: string,
  produce: (write: (b: Uint8Array) => Promise<void>) => Promise<{ migration: string; rows: Record<string, number> }>,
): Promise<BackupSummary> {
  const target = path.resolve(file);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.partial`);
  const fh = await open(tmp, 'wx', 0o600);
  let bytes = 0;
  try {
    const result = await produce(async (b) => {
      await fh.write(b);
      bytes += b.length;
    });
    await fh.sync();
    await fh.close();
    await rename(tmp, target);
    return { file: target, bytes, ...result };
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
}

/** The backup's bytes, in order, to `write` (which may wait: it is awaited). */
export async function writeBackupTo(
  db: Db,
  write: (b: Uint8Array) => Promise<void>,
  opts: { afterSnapshot?: () => Promise<void> } = {},
): Promise<{ migration: string; rows: Record<string, number> }> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      await q.readOnly(trx);
      const migration = await q.lastMigration(trx);
      // The snapshot is taken at the first query: what commits from now on is not in this backup (the test writes here).
      await opts.afterSnapshot?.();
      if (!migration) throw new BackupError('This database has never been migrated: there is nothing to back up.');
      const latest = Object.keys(migrations).at(-1);
      if (migration !== latest)
        throw new BackupError(
          `The database is at migration ${migration}, not ${latest}, this version's: run \`harbour migrate\` (or start the server) first.`,
        );
      const unlisted = (await q.baseTables(trx)).filter((t) => !(BACKED_UP_TABLES as readonly string[]).includes(t) && !(t in NOT_BACKED_UP));
      if (unlisted.length)
        throw new BackupError(`Table(s) ${unlisted.join(', ')} are not in server/backup/tables.ts: refusing an incomplete backup.`);
      const publicKey = await q.recoveryPublicKey(trx);
      if (!publicKey) throw new BackupError('Harbour is not set up here (run `harbour setup`): there is nothing to back up.');

      const tables = [];
      for (const name of BACKED_UP_TABLES) tables.push({ name, columns: await q.tableColumns(trx, name) });
      const header: BackupHeader = { harbourBackup: FORMAT_VERSION, migration, createdAt: new Date().toISOString(), tables };

      const enc = new BackupEncryptor(publicKey);
      const pre = preamble(enc.sealedKey);
      await write(pre);
      await write(enc.start(pre));
      const send = (kind: number, body: string, last = false) => write(frame(enc.encrypt(message(kind, body), last)));

      await send(KIND.header, JSON.stringify(header));
      const rows: Record<string, number> = {};
      for (const { name } of tables) {
        await send(KIND.tableStart, JSON.stringify({ name }));
        let count = 0;
        for await (const batch of q.tableRows(trx, name, BATCH_ROWS[name] ?? DEFAULT_BATCH_ROWS)) {
          await send(KIND.rows, `[${batch.join(',')}]`);
          count += batch.length;
        }
        await send(KIND.tableEnd, JSON.stringify({ name, rows: count }));
        rows[name] = count;
      }
      await send(KIND.footer, JSON.stringify({ rows }), true);
      return { migration, rows };
    });
}
