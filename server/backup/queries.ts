import { sql } from 'kysely';
import { assertTransaction, type Db } from '../db/index.js';

/**
 * The backup's SQL: a generic reader and writer over the explicit table
 * list (tables.ts). Rows travel as PostgreSQL's own JSON form of the row
 * (row_to_json: bytea as "\x…" hex, arrays as JSON arrays, timestamps with
 * their offset) and are written back with json_populate_recordset, which
 * parses each value with the column's own input function: the same on
 * PostgreSQL and PGlite, so a backup restores from one to the other.
 */

/** Every base table of the current schema. */
export async function baseTables(db: Db): Promise<string[]> {
  const r = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
     where table_schema = current_schema() and table_type = 'BASE TABLE'
     order by table_name`.execute(db);
  return r.rows.map((x) => x.table_name);
}

/** A table's columns, in their order. */
export async function tableColumns(db: Db, table: string): Promise<string[]> {
  const r = await sql<{ column_name: string }>`
    select column_name from information_schema.columns
     where table_schema = current_schema() and table_name = ${table}
     order by ordinal_position`.execute(db);
  return r.rows.map((x) => x.column_name);
}

/** Columns filled from a sequence (serial / bigserial): the restore moves each sequence past the highest value. */
export async function serialColumns(db: Db): Promise<{ table: string; column: string }[]> {
  const r = await sql<{ table_name: string; column_name: string }>`
    select table_name, column_name from information_schema.columns
     where table_schema = current_schema() and column_default like 'nextval(%'
     order by table_name, column_name`.execute(db);
  return r.rows.map((x) => ({ table: x.table_name, column: x.column_name }));
}

/** The newest migration applied, or null on a database never migrated. */
export async function lastMigration(db: Db): Promise<string | null> {
  const exists = await sql<{ n: number }>`
    select count(*)::int as n from information_schema.tables
     where table_schema = current_schema() and table_name = 'kysely_migration'`.execute(db);
  if (!exists.rows[0]?.n) return null;
  const r = await sql<{ name: string }>`select name from kysely_migration order by name desc limit 1`.execute(db);
  return r.rows[0]?.name ?? null;
}

/** Makes the caller's transaction read-only (its first statement). */
export async function readOnly(trx: Db): Promise<void> {
  assertTransaction(trx);
  await sql`set transaction read only`.execute(trx);
}

export async function recoveryPublicKey(trx: Db): Promise<Uint8Array | null> {
  const r = await sql<{ k: Uint8Array }>`select recovery_public_key as k from installation limit 1`.execute(trx);
  return r.rows[0]?.k ?? null;
}

/**
 * Reads a table through a cursor, `batch` rows at a time, each row as its
 * JSON text: memory holds one batch, whatever the table's size.
 */
export async function* tableRows(trx: Db, table: string, batch: number): AsyncGenerator<string[]> {
  assertTransaction(trx);
  await sql`declare harbour_backup no scroll cursor for select row_to_json(t)::text as j from ${sql.table(table)} t`.execute(trx);
  try {
    for (;;) {
      const r = await sql<{ j: string }>`fetch forward ${sql.raw(String(Math.trunc(batch)))} from harbour_backup`.execute(trx);
      if (r.rows.length === 0) return;
      yield r.rows.map((x) => x.j);
    }
  } finally {
    await sql`close harbour_backup`.execute(trx);
  }
}

export async function rowCount(db: Db, table: string): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(db);
  return r.rows[0]?.n ?? 0;
}

export async function deleteAllRows(trx: Db, table: string): Promise<void> {
  assertTransaction(trx);
  await sql`delete from ${sql.table(table)}`.execute(trx);
}

/** Inserts rows given as a JSON array of row objects (as tableRows read them). */
export async function insertRows(trx: Db, table: string, columns: readonly string[], rowsJson: string): Promise<number> {
  assertTransaction(trx);
  const cols = sql.join(columns.map((c) => sql.ref(c)));
  const r = await sql`insert into ${sql.table(table)} (${cols})
    select ${cols} from json_populate_recordset(null::${sql.table(table)}, ${rowsJson}::json)`.execute(trx);
  return Number(r.numAffectedRows ?? 0);
}

/** Moves a serial column's sequence past the highest value restored. */
export async function advanceSequence(trx: Db, table: string, column: string): Promise<void> {
  assertTransaction(trx);
  await sql`select setval(pg_get_serial_sequence(${table}, ${column}),
    coalesce((select max(${sql.ref(column)}) from ${sql.table(table)}), 0) + 1, false)`.execute(trx);
}
