import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createMigrator, migrateToLatest } from '../../server/db/index.js';
import { migrations } from '../../migrations/index.js';
import { createTestDb } from '../helpers/db.js';

/** Migrations go up, down to nothing, and up again on the real database (PostgreSQL in CI, PGlite otherwise). */
describe('migrations', () => {
  it('up → down → up', async () => {
    const t = await createTestDb({ migrate: false });
    try {
      const tables = async () =>
        (
          await sql<{ table_name: string }>`select table_name from information_schema.tables
            where table_schema = current_schema() and table_name not like 'kysely_%' order by table_name`.execute(t.db)
        ).rows.map((r) => r.table_name);

      expect(await tables()).toEqual([]);
      const applied = await migrateToLatest(t.db, t.schema ?? undefined);
      expect(applied).toEqual(Object.keys(migrations));
      const up = await tables();
      expect(up).toEqual(expect.arrayContaining(['reports', 'evidence', 'evidence_chunks', 'messages', 'sessions', 'installation']));
      // reports is vacuumed after 1% changes, so statistics stay index-only scans.
      const options = await sql<{ reloptions: string[] | null }>`select reloptions from pg_class
        where oid = to_regclass(${`${t.schema ?? 'public'}.reports`})`.execute(t.db);
      expect(options.rows[0]?.reloptions).toEqual(
        expect.arrayContaining(['autovacuum_vacuum_scale_factor=0.01', 'autovacuum_vacuum_insert_scale_factor=0.01']),
      );

      const migrator = createMigrator(t.db, t.schema ?? undefined);
      for (let i = 0; i < Object.keys(migrations).length; i++) {
        const { error } = await migrator.migrateDown();
        expect(error).toBeUndefined();
      }
      expect(await tables()).toEqual([]);

      await migrateToLatest(t.db, t.schema ?? undefined);
      expect(await tables()).toEqual(up);
      expect(await migrateToLatest(t.db, t.schema ?? undefined)).toEqual([]); // idempotent
    } finally {
      await t.close();
    }
  });
});
