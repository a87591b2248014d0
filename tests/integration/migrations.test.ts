import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createMigrator, migrateToLatest } from '../../server/db/index.js';
import { migrations } from '../../migrations/index.js';
import { createTestDb, withMigrationLock } from '../helpers/db.js';

const REFERRED = '00000000-0000-4000-8000-000000000001';
const NOT_REFERRED = '00000000-0000-4000-8000-000000000002';

/** Migrations go up, down to nothing, and up again on the real database (PostgreSQL in CI, PGlite otherwise). */
describe('migrations', () => {
  it('up → down → up', () =>
    withMigrationLock(async () => {
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
    }));
  it('counts the evidence bytes each report already holds', () =>
    withMigrationLock(async () => {
      const t = await createTestDb({ migrate: false });
      try {
        const migrator = createMigrator(t.db, t.schema ?? undefined);
        expect((await migrator.migrateTo('2026_11_25_100000_reports_referred')).error).toBeUndefined();
        await sql`insert into team_keys (public_key, secret_sealed_to_recovery) values ('\\x00', '\\x00')`.execute(t.db);
        for (const id of [REFERRED, NOT_REFERRED]) {
          await sql`insert into reports (id, state, categories, urgent, community, region, suspected_state, team_key_id,
                    data_key_sealed, narrative, details, submitted_at)
                  select ${id}::uuid, 'submitted', '{threats}', false, 'uyghur', 'london', 'china', id, '\\x00', '\\x00', '\\x00', now()
                    from team_keys`.execute(t.db);
        }
        // Two files of the first report (one still uploading: its chunks take room until deleted); none for the second.
        for (const [file, state, sizes] of [
          ['00000000-0000-4000-8000-0000000000f1', 'complete', [100, 250]],
          ['00000000-0000-4000-8000-0000000000f2', 'uploading', [7]],
        ] as const) {
          await sql`insert into evidence (id, report_id, state, added_by, stream_header) values (${file}::uuid, ${REFERRED}::uuid, ${state}, 'reporter', '\\x00')`.execute(
            t.db,
          );
          for (const [seq, n] of sizes.entries()) {
            await sql`insert into evidence_chunks (evidence_id, seq, data) values (${file}::uuid, ${seq}, ${new Uint8Array(n)})`.execute(t.db);
          }
        }
        expect((await migrator.migrateTo('2026_12_01_110000_evidence_bytes')).error).toBeUndefined();
        const rows = await t.db.selectFrom('reports').select(['id', 'evidence_bytes']).orderBy('id').execute();
        expect(rows.map((r) => [r.id, Number(r.evidence_bytes)])).toEqual([
          [REFERRED, 357],
          [NOT_REFERRED, 0],
        ]);
      } finally {
        await t.close();
      }
    }));

  it('turns free-text case labels into items of the administrator’s label list, and back', () =>
    withMigrationLock(async () => {
      const t = await createTestDb({ migrate: false });
      try {
        const migrator = createMigrator(t.db, t.schema ?? undefined);
        expect((await migrator.migrateTo('2026_12_01_110000_evidence_bytes')).error).toBeUndefined();
        await sql`insert into team_keys (public_key, secret_sealed_to_recovery) values ('\\x00', '\\x00')`.execute(t.db);
        const labelled: [string, string[]][] = [
          ['00000000-0000-4000-8000-00000000000a', ['station', 'Mr Chen']],
          ['00000000-0000-4000-8000-00000000000b', ['Mr Chen']],
          ['00000000-0000-4000-8000-00000000000c', []],
          ['00000000-0000-4000-8000-00000000000d', ['croydon', 'station', 'Croydon']],
        ];
        for (const [id, labels] of labelled) {
          await sql`insert into reports (id, state, categories, urgent, community, region, suspected_state, team_key_id,
                    data_key_sealed, narrative, details, submitted_at, labels)
                  select ${id}::uuid, 'submitted', '{threats}', false, 'uyghur', 'london', 'china', id, '\\x00', '\\x00', '\\x00', now(), ${labels}::text[]
                    from team_keys`.execute(t.db);
        }
        expect((await migrator.migrateTo('2026_12_01_110100_label_list')).error).toBeUndefined(); // so one step down undoes just this one
        const items = await t.db
          .selectFrom('list_items')
          .select(['code', 'labels', 'position', 'retired_at'])
          .where('list', '=', 'label')
          .orderBy('position')
          .execute();
        // Each distinct text once, alphabetically, under codes that say nothing about it; none retired.
        expect(items.map((i) => [i.code, i.labels, i.position, i.retired_at])).toEqual([
          ['label_1', { en: 'Croydon' }, 0, null],
          ['label_2', { en: 'Mr Chen' }, 1, null],
          ['label_3', { en: 'croydon' }, 2, null],
          ['label_4', { en: 'station' }, 3, null],
        ]);
        const after = async () => (await t.db.selectFrom('reports').select(['id', 'labels']).orderBy('id').execute()).map((r) => r.labels);
        expect(await after()).toEqual([['label_4', 'label_2'], ['label_2'], [], ['label_3', 'label_4', 'label_1']]);

        expect((await migrator.migrateDown()).error).toBeUndefined();
        expect(await after()).toEqual(labelled.map(([, labels]) => labels));
        expect(await t.db.selectFrom('list_items').select('code').where('list', '=', 'label').execute()).toEqual([]);
      } finally {
        await t.close();
      }
    }));

  it('marks reports referred before the referred column existed', () =>
    withMigrationLock(async () => {
      const t = await createTestDb({ migrate: false });
      try {
        const migrator = createMigrator(t.db, t.schema ?? undefined);
        const { error } = await migrator.migrateTo('2026_11_25_090000_reports_autovacuum');
        expect(error).toBeUndefined();
        await sql`insert into team_keys (public_key, secret_sealed_to_recovery) values ('\\x00', '\\x00')`.execute(t.db);
        for (const id of [REFERRED, NOT_REFERRED]) {
          await sql`insert into reports (id, state, categories, urgent, community, region, suspected_state, team_key_id,
                    data_key_sealed, narrative, details, submitted_at)
                  select ${id}::uuid, 'submitted', '{threats}', false, 'uyghur', 'london', 'china', id, '\\x00', '\\x00', '\\x00', now()
                    from team_keys`.execute(t.db);
        }
        await sql`insert into referrals (id, report_id, destination, referred_on, consent_override, details)
                values (gen_random_uuid(), ${REFERRED}::uuid, 'police_met', current_date, false, '\\x00')`.execute(t.db);

        await migrateToLatest(t.db, t.schema ?? undefined);
        const rows = await t.db.selectFrom('reports').select(['id', 'referred']).orderBy('id').execute();
        expect(rows).toEqual([
          { id: REFERRED, referred: true },
          { id: NOT_REFERRED, referred: false },
        ]);
      } finally {
        await t.close();
      }
    }));
});
