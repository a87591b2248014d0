import { open } from 'node:fs/promises';
import { migrations } from '../../migrations/index.js';
import { BackupDecryptor, DecryptionError, decodeRecoveryKey } from '../crypto/index.js';
import { createMigrator, migrateToLatest, type Db } from '../db/index.js';
import {
  BackupError,
  FORMAT_VERSION,
  KIND,
  MAGIC,
  PREAMBLE_BYTES,
  START_BYTES,
  damaged,
  frames,
  incomplete,
  readAt,
  type BackupHeader,
} from './format.js';
import * as q from './queries.js';
import { BACKED_UP_TABLES, SEEDED_TABLES } from './tables.js';

export type RestoreSummary = { migration: string; createdAt: string; rows: Record<string, number>; migratedAfter: string[] };

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Restores a backup (backup.ts) into an empty installation, PostgreSQL or
 * embedded, whichever the backup came from. In order: the recovery key
 * opens the file key and the header is authenticated (a wrong key, a file
 * that is not a backup or one from a newer Harbour is refused before
 * anything is written); the target is checked empty and migrated to the
 * backup's level; then every row goes in inside ONE transaction, which
 * commits only after the final, authenticated message and every table's
 * count matched: a truncated or changed file rolls it all back. Sequences
 * continue after the highest restored value. Last, migrations newer than
 * the backup run on the restored data.
 */
export async function restoreBackup(db: Db, file: string, recoveryKeyText: string, opts: { schema?: string } = {}): Promise<RestoreSummary> {
  const privateKey = decodeRecoveryKey(recoveryKeyText);
  if (!privateKey)
    throw new BackupError('That is not a valid recovery key (check for typing mistakes: 68 hex digits in groups, as `harbour setup` printed it).');
  const fh = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new BackupError(`Cannot read ${file}: ${err.code ?? err.message}.`);
  });
  try {
    const start = await readAt(fh, 0, START_BYTES);
    if (start.length < MAGIC.length + 1 || !start.subarray(0, MAGIC.length).equals(MAGIC)) throw new BackupError(`${file} is not a Harbour backup.`);
    const version = start[MAGIC.length]!;
    if (version !== FORMAT_VERSION)
      throw new BackupError(
        `${file} is a backup in format ${version}; this version of Harbour reads format ${FORMAT_VERSION}. Use the Harbour version that made it.`,
      );
    if (start.length < START_BYTES) throw incomplete();
    const pre = start.subarray(0, PREAMBLE_BYTES);
    let dec: BackupDecryptor;
    try {
      dec = new BackupDecryptor(privateKey, pre.subarray(MAGIC.length + 1), start.subarray(PREAMBLE_BYTES), pre);
    } catch (err) {
      if (!(err instanceof DecryptionError)) throw err;
      throw new BackupError("This recovery key does not open this backup (another installation's key, or a damaged file): nothing was restored.");
    }
    const it = frames(fh);
    const read = async (): Promise<{ kind: number; body: string; last: boolean } | null> => {
      const next = await it.next();
      if (next.done) return null;
      let m: { message: Uint8Array; last: boolean };
      try {
        m = dec.decrypt(next.value);
      } catch (err) {
        if (err instanceof DecryptionError) throw damaged();
        throw err;
      }
      if (m.message.length < 1) throw damaged();
      return { kind: m.message[0]!, body: decoder.decode(m.message.subarray(1)), last: m.last };
    };
    const expect = async (kind: number) => {
      const m = await read();
      if (!m) throw incomplete();
      if (m.kind !== kind) throw damaged();
      return m;
    };

    const first = await expect(KIND.header);
    const header = checkedHeader(first.body);
    const known = Object.keys(migrations);
    if (!known.includes(header.migration))
      throw new BackupError(
        `This backup was made at migration ${header.migration}, newer than this version of Harbour knows: upgrade Harbour first, then restore.`,
      );
    const names = header.tables.map((t) => t.name);

    // The target: empty, then at the backup's level.
    const present = new Set(await q.baseTables(db));
    const filled: string[] = [];
    for (const t of BACKED_UP_TABLES) {
      if (present.has(t) && !SEEDED_TABLES.includes(t) && (await q.rowCount(db, t)) > 0) filled.push(t);
    }
    if (filled.length)
      throw new BackupError(
        `The target installation is not empty (${filled.join(', ')} hold rows): restore only into a fresh database or data directory. Nothing was restored.`,
      );
    const { error } = await createMigrator(db, opts.schema).migrateTo(header.migration);
    if (error) throw error instanceof Error ? error : new Error(String(error));
    for (const t of header.tables) {
      const cols = await q.tableColumns(db, t.name);
      if (cols.join(',') !== t.columns.join(','))
        throw new BackupError(`The table ${t.name} differs from the backup's at migration ${header.migration}: cannot restore.`);
    }

    const rows = await db.transaction().execute(async (trx) => {
      for (const t of SEEDED_TABLES) await q.deleteAllRows(trx, t);
      const counts: Record<string, number> = {};
      for (const t of header.tables) {
        const s = await expect(KIND.tableStart);
        if ((JSON.parse(s.body) as { name: string }).name !== t.name) throw damaged();
        let count = 0;
        for (;;) {
          const m = await read();
          if (!m) throw incomplete();
          if (m.kind === KIND.rows) {
            const batch = m.body;
            if (!batch.startsWith('[')) throw damaged();
            count += await q.insertRows(trx, t.name, t.columns, batch);
            continue;
          }
          if (m.kind !== KIND.tableEnd) throw damaged();
          const end = JSON.parse(m.body) as { name: string; rows: number };
          if (end.name !== t.name || end.rows !== count) throw damaged();
          break;
        }
        counts[t.name] = count;
      }
      const footer = await expect(KIND.footer);
      if (!footer.last) throw damaged();
      const totals = (JSON.parse(footer.body) as { rows: Record<string, number> }).rows;
      if (JSON.stringify(totals) !== JSON.stringify(counts)) throw damaged();
      if ((await it.next()).done !== true) throw damaged(); // nothing may follow the final message
      for (const { table, column } of await q.serialColumns(trx)) {
        if (names.includes(table)) await q.advanceSequence(trx, table, column);
      }
      return counts;
    });
    const migratedAfter = await migrateToLatest(db, opts.schema);
    return { migration: header.migration, createdAt: header.createdAt, rows, migratedAfter };
  } finally {
    await fh.close();
  }
}

/**
 * The backup's own description of itself, checked before anything reads it:
 * an object naming a migration and tables that are all in BACKED_UP_TABLES,
 * in that order, once each (an older backup may lack newer tables). A file
 * that passes the cryptography was made with the recovery public key, which
 * the database holds: anyone who could read it could make one, so nothing
 * in the header is trusted beyond what this allows (no sessions table, no
 * migrations table, no unknown names).
 */
function checkedHeader(body: string): BackupHeader {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw damaged();
  }
  const h = parsed as Partial<BackupHeader> | null;
  const tables = Array.isArray(h?.tables) ? h.tables : null;
  if (!h || typeof h.migration !== 'string' || !tables) throw damaged();
  let at = -1;
  for (const t of tables as unknown[]) {
    const table = t as { name?: unknown; columns?: unknown } | null;
    if (!table || typeof table.name !== 'string' || !Array.isArray(table.columns) || !table.columns.every((c) => typeof c === 'string'))
      throw damaged();
    const position = (BACKED_UP_TABLES as readonly string[]).indexOf(table.name);
    if (position <= at) throw damaged(); // unknown, repeated or out of order
    at = position;
  }
  return h as BackupHeader;
}
