import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createMigrator, migrateToLatest } from '../../server/db/index.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const ADMIN = '00000000-0000-4000-8000-00000000000a';
const WAITING = '00000000-0000-4000-8000-00000000000b'; // "approved" by the admin, never sealed
const HOLDER = '00000000-0000-4000-8000-00000000000c'; // sealed grant
const FROM_CLI = '00000000-0000-4000-8000-00000000000d';
const INVITED = '00000000-0000-4000-8000-00000000000e';

/**
 * The staff migrations of 2026-12-01 on data the earlier schema could hold:
 * accounts' origins read back from the audit log and the invitations,
 * duplicate open invitations reduced to the newest, and an unsealed grant
 * turned into a request (and no longer a grant).
 */
async function oldDatabase(): Promise<TestDb> {
  const t = await createTestDb({ migrate: false });
  const { error } = await createMigrator(t.db, t.schema ?? undefined).migrateTo('2026_11_25_100000_reports_referred');
  expect(error).toBeUndefined();
  await sql`insert into team_keys (public_key, secret_sealed_to_recovery) values ('\\x01', '\\x01')`.execute(t.db);
  for (const [id, email, roles] of [
    [ADMIN, 'admin@example.org', '{admin}'],
    [WAITING, 'waiting@example.org', '{caseworker}'],
    [HOLDER, 'holder@example.org', '{caseworker}'],
    [FROM_CLI, 'cli@example.org', '{caseworker}'],
    [INVITED, 'invited@example.org', '{caseworker}'],
  ] as const) {
    await sql`insert into users (id, email, display_name, roles, status, password_salt, password_verifier, public_key, private_key_wrapped, created_at)
              values (${id}::uuid, ${email}, ${email}, ${roles}::text[], 'active', '\\x00', '\\x00', '\\x00', '\\x00', now() - interval '1 day')`.execute(
      t.db,
    );
  }
  await sql`insert into key_grants (user_id, team_key_id, sealed_secret, approved_by, approved_at, sealed_at)
            select ${WAITING}::uuid, id, null, ${ADMIN}::uuid, now() - interval '2 hours', null from team_keys`.execute(t.db);
  await sql`insert into key_grants (user_id, team_key_id, sealed_secret, approved_by, sealed_at)
            select ${HOLDER}::uuid, id, '\\x02', null, now() from team_keys`.execute(t.db);
  // The audit log as the old code wrote it (the hashes do not matter to the migrations).
  let seq = 0;
  for (const [action, subject, details] of [
    ['staff.created', FROM_CLI, '{"via":"cli","roles":"caseworker"}'],
    ['staff.invitation_accepted', INVITED, '{"roles":"caseworker"}'],
  ] as const) {
    seq++;
    await sql`insert into audit_log (seq, at, action, subject_user_id, details, prev_hash, hash)
              values (${seq}, now(), ${action}, ${subject}::uuid, ${details}::jsonb, '\\x00', '\\x00')`.execute(t.db);
  }
  // The invitation INVITED used (sent by ADMIN), and two open ones to another address.
  await sql`insert into invitations (id, token_hash, email, roles, invited_by, created_at, expires_at, used_at) values
    (gen_random_uuid(), '\\x11', 'invited@example.org', '{caseworker}', ${ADMIN}::uuid, now() - interval '3 days', now() + interval '4 days', now() - interval '1 day 1 minute'),
    (gen_random_uuid(), '\\x12', 'dup@example.org', '{caseworker}', ${ADMIN}::uuid, now() - interval '2 days', now() + interval '5 days', null),
    (gen_random_uuid(), '\\x13', 'dup@example.org', '{caseworker}', ${ADMIN}::uuid, now() - interval '1 day', now() + interval '6 days', null)`.execute(
    t.db,
  );
  return t;
}

describe('staff migrations of 2026-12-01', () => {
  it('2026_12_01_100000: backfills where accounts came from and keeps one open invitation per address', async () => {
    const t = await oldDatabase();
    try {
      const { error } = await createMigrator(t.db, t.schema ?? undefined).migrateTo('2026_12_01_100000_staff_origin_invitations');
      expect(error).toBeUndefined();
      const users = await t.db.selectFrom('users').select(['id', 'created_via', 'invited_by']).orderBy('id').execute();
      expect(users).toEqual([
        { id: ADMIN, created_via: 'unknown', invited_by: null },
        { id: WAITING, created_via: 'unknown', invited_by: null },
        { id: HOLDER, created_via: 'unknown', invited_by: null },
        { id: FROM_CLI, created_via: 'cli', invited_by: null },
        { id: INVITED, created_via: 'invitation', invited_by: ADMIN },
      ]);
      const open = await t.db
        .selectFrom('invitations')
        .select('token_hash')
        .where('email', '=', 'dup@example.org')
        .where('revoked_at', 'is', null)
        .execute();
      expect(open.map((i) => Buffer.from(i.token_hash).toString('hex'))).toEqual(['13']); // the newest
      await expect(
        sql`insert into invitations (id, token_hash, email, roles, expires_at) values (gen_random_uuid(), '\\x14', 'dup@example.org', '{caseworker}', now() + interval '1 day')`.execute(
          t.db,
        ),
      ).rejects.toThrow();
    } finally {
      await t.close();
    }
  });

  it('2026_12_01_100100: an approval nobody sealed becomes a request, and no grant can wait unsealed any more', async () => {
    const t = await oldDatabase();
    try {
      await migrateToLatest(t.db, t.schema ?? undefined);
      const users = await t.db.selectFrom('users').select(['id', 'access_requested_by']).where('access_requested_at', 'is not', null).execute();
      expect(users).toEqual([{ id: WAITING, access_requested_by: ADMIN }]);
      const grants = await t.db.selectFrom('key_grants').select(['user_id', 'sealed_at']).execute();
      expect(grants.map((g) => g.user_id)).toEqual([HOLDER]);
      await expect(
        sql`insert into key_grants (user_id, team_key_id, sealed_secret) select ${WAITING}::uuid, id, null from team_keys`.execute(t.db),
      ).rejects.toThrow();
    } finally {
      await t.close();
    }
  });
});
