import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { Db } from '../../server/db/index.js';

/**
 * Every row of every table in the current schema, as PostgreSQL's text form
 * of the row (bytea as hex) plus an escape-decoded copy, so a canary stored
 * in the clear anywhere is found whatever its column type.
 */
export async function dumpAllTables(db: Db): Promise<string> {
  const tables = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE'
    order by table_name`.execute(db);
  const parts: string[] = [];
  for (const { table_name } of tables.rows) {
    const rows = await sql<{ row: string }>`select t::text as row from ${sql.table(table_name)} t`.execute(db);
    for (const { row } of rows.rows) {
      parts.push(`${table_name}: ${row}`);
      // bytea appears as \x…hex: decode every hex run so plaintext in a bytea column is visible too.
      for (const m of row.matchAll(/\\\\x([0-9a-f]+)/g)) parts.push(Buffer.from(m[1]!, 'hex').toString('latin1'));
    }
  }
  return parts.join('\n');
}

/** Every file under a directory, concatenated as latin1 (byte-for-byte searchable). */
export function readTree(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(readFileSync(p).toString('latin1'));
    }
  };
  walk(dir);
  return out.join('\n');
}

/** Searches for a UTF-8 string inside latin1-decoded bytes (and in UTF-16LE, as some stores use it). */
export function contains(haystack: string, needle: string): boolean {
  const utf8 = Buffer.from(needle, 'utf8').toString('latin1');
  const utf16 = Buffer.from(needle, 'utf16le').toString('latin1');
  return haystack.includes(utf8) || haystack.includes(utf16);
}
