import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigrator, migrateToLatest } from '../../server/db/index.js';
import { ipHashDayKey, ipHashRoot, keyedHash, processIpHashSecret, utcDay } from '../../server/crypto/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createTestDb, withMigrationLock, type TestDb } from '../helpers/db.js';
import { VALID_REPORT, csrfFrom, postReport } from '../helpers/reporter.js';
import { addStaff } from '../helpers/staff.js';

/**
 * P10: a seized database does not give back client addresses. The
 * rate-limit rows hold a keyed hash of the client; the key is derived from
 * a secret that is never in the database, so nothing in a dump of every
 * table reproduces a stored hash for a known address.
 */
const CLIENT_IP = '203.0.113.77';
const SECRET = 'test-ip-hash-secret-0123456789abcdefghij';

/** Every value stored in every table, as bytes: bytea, text, and hex or base64 written into text. */
async function everyStoredValue(t: TestApp): Promise<Uint8Array[]> {
  const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(t.testDb.db);
  const values: Uint8Array[] = [];
  const add = (s: string) => {
    values.push(new Uint8Array(Buffer.from(s, 'utf8')));
    if (/^(\\x)?[0-9a-f]+$/i.test(s) && s.replace(/^\\x/, '').length % 2 === 0)
      values.push(new Uint8Array(Buffer.from(s.replace(/^\\x/, ''), 'hex')));
    if (/^[A-Za-z0-9+/_-]{22,}={0,2}$/.test(s)) values.push(new Uint8Array(Buffer.from(s, 'base64')));
  };
  for (const { table_name } of tables.rows) {
    // Each column as PostgreSQL's text form (bytea as \x…), split out of JSON so nested values count too.
    const rows = await sql<{ j: Record<string, unknown> }>`select to_jsonb(t) as j from ${sql.table(table_name)} t`.execute(t.testDb.db);
    for (const { j } of rows.rows) {
      (function walk(v: unknown) {
        if (typeof v === 'string') {
          add(v);
          for (const part of v.split(/[^A-Za-z0-9+/=_\\-]+/)) if (part.length >= 16) add(part);
        } else if (typeof v === 'number') add(String(v));
        else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
      })(j);
    }
  }
  return values;
}

/** Every key a dump could offer: each value as a key, as a day-key root, and as a secret. */
function candidateKeys(values: Uint8Array[]): Uint8Array[] {
  const today = utcDay();
  const keys: Uint8Array[] = [];
  for (const v of values) {
    if (v.length >= 16 && v.length <= 64) keys.push(v); // BLAKE2b takes keys of 16 to 64 bytes
    if (v.length === 32) keys.push(ipHashDayKey(v, today), ipHashDayKey(v, today - 1));
    keys.push(ipHashDayKey(ipHashRoot(v), today));
  }
  return keys;
}

const storedClientHashes = async (t: TestApp) =>
  (await t.testDb.db.selectFrom('rate_limits').select('key').where('key', 'like', '%:ip:%').execute()).map((r) => r.key.split(':').pop()!);

async function rateLimitedRequests(t: TestApp) {
  const from = { 'X-Forwarded-For': CLIENT_IP };
  const agent = request.agent(t.app).set(from);
  const token = await csrfFrom(agent, '/en/status');
  expect((await agent.post('/en/status').type('form').send({ _csrf: token, receipt: '99998888777766665555' })).status).toBe(422);
  expect((await postReport(agent, await csrfFrom(agent, '/en/report'), VALID_REPORT)).status).toBe(303);
  const s = await addStaff(t, { roles: ['caseworker'] });
  const staff = request.agent(t.app).set(from);
  const staffToken = await csrfFrom(staff, '/staff/sign-in');
  expect((await staff.post('/staff/sign-in').type('form').send({ _csrf: staffToken, email: s.email, password: 'wrong wrong wrong' })).status).toBe(
    401,
  );
}

describe.each([
  ['with IP_HASH_SECRET', { IP_HASH_SECRET: SECRET }, () => new Uint8Array(Buffer.from(SECRET))],
  ['without it (a random secret in this process’s memory)', {}, () => processIpHashSecret()],
])('a dump of every table after rate-limited requests, %s', (_what, env, secretOf) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMITS: 'true', TRUST_PROXY: '1', ...env } });
    await rateLimitedRequests(t);
  });
  afterAll(() => t.close());

  it('holds the client’s hashes, and no value in it reproduces them for the client’s address', async () => {
    const stored = new Set(await storedClientHashes(t));
    expect(stored.size).toBeGreaterThanOrEqual(1); // the same client: one hash, in three limiters
    const keys = candidateKeys(await everyStoredValue(t));
    expect(keys.length).toBeGreaterThan(100);
    const reproduced = keys.filter((k) => stored.has(keyedHash(k, `ip:${CLIENT_IP}`)) || stored.has(keyedHash(k, CLIENT_IP)));
    expect(reproduced).toEqual([]);
  });

  it('the search would have found the key had it been there: the secret, outside the database, reproduces them', async () => {
    const stored = new Set(await storedClientHashes(t));
    const dayKey = ipHashDayKey(ipHashRoot(secretOf()), utcDay());
    expect(stored.has(keyedHash(dayKey, `ip:${CLIENT_IP}`))).toBe(true);
    expect(candidateKeys([secretOf()]).some((k) => stored.has(keyedHash(k, `ip:${CLIENT_IP}`)))).toBe(true);
  });

  it('has no table of keys', async () => {
    const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables
      where table_schema = current_schema() and table_name like '%key%'`.execute(t.testDb.db);
    expect(tables.rows.map((r) => r.table_name).sort()).toEqual(['key_grants', 'team_keys']);
  });
});

describe('migration 2026_12_01_130000_drop_ip_hash_keys', () => {
  it('drops the stored keys and the per-client counts hashed under them; down brings the table back', async () => {
    const t = await createTestDb({ migrate: false });
    try {
      await withMigrationLock(() => migrationRoundTrip(t));
    } finally {
      await t.close();
    }
  });
});

/** Up to before the change with a stored key and counts of each kind, up past it, and down again. */
async function migrationRoundTrip(t: TestDb): Promise<void> {
  const schema = t.schema ?? undefined;
  const migrator = createMigrator(t.db, schema);
  expect((await migrator.migrateTo('2026_11_25_100000_reports_referred')).error).toBeUndefined();
  await sql`insert into ip_hash_keys (day, key) values (current_date, '\\x0102')`.execute(t.db);
  const far = Date.now() + 3_600_000;
  for (const key of ['receipt:ip:aa', 'submit:ip:bb', 'signin:ip:cc', 'signin:acct:dd', 'submit:all:all']) {
    await sql`insert into rate_limits (key, points, expire) values (${key}, 3, ${far})`.execute(t.db);
  }
  await migrateToLatest(t.db, schema);
  const exists = async () => (await sql<{ r: string | null }>`select to_regclass('ip_hash_keys')::text as r`.execute(t.db)).rows[0]!.r;
  expect(await exists()).toBeNull();
  const left = (await sql<{ key: string }>`select key from rate_limits order by key`.execute(t.db)).rows.map((r) => r.key);
  expect(left).toEqual(['signin:acct:dd', 'submit:all:all']);

  expect((await migrator.migrateTo('2026_11_25_100000_reports_referred')).error).toBeUndefined();
  expect(await exists()).not.toBeNull();
}
