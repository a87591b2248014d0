import { randomUUID } from 'node:crypto';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../server/staff/invitations.js';
import { insertUser } from '../../server/staff/queries.js';
import { EmailTakenError, createUser, prepareUser } from '../../server/staff/users.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { onPostgres } from '../helpers/db.js';
import type { Agent } from '../helpers/reporter.js';
import { addStaff, signInStaff, staffCsrf, type TestStaff } from '../helpers/staff.js';

/**
 * Invitations: one open invitation per address (a new one revokes the
 * earlier, in code and by a partial unique index), and accepting is claim
 * then create in one transaction — parallel accepts of one link or of two
 * links for one address end with one account and clear 4xx answers, never a
 * 500; a race with another way of making the account is a 422 "taken".
 */
let t: TestApp;
let admin: TestStaff;
let adminAgent: Agent;
let adminToken: string;
const PASSWORD = 'a sturdy passphrase here';

beforeAll(async () => {
  t = await createTestApp();
  admin = await addStaff(t, { roles: ['admin'], name: 'Ines Inviter' });
  adminAgent = await signInStaff(t, admin);
  adminToken = await staffCsrf(adminAgent, '/admin/staff');
});
afterAll(async () => {
  await t.close();
});

async function invite(email: string, agent = adminAgent, token = adminToken): Promise<{ path: string; text: string }> {
  const res = await agent
    .post('/admin/staff/invitations')
    .type('form')
    .send({ _csrf: token, email, roles: ['caseworker'] });
  expect(res.status).toBe(201);
  return { path: /\/staff\/invitations\/[A-Za-z0-9_-]{43}/.exec(res.text)![0], text: res.text };
}
/** A visitor holding the invitation page (and its CSRF token). */
async function visitor(path: string) {
  const agent = request.agent(t.app);
  const token = await staffCsrf(agent, path);
  return (name = 'New Person') =>
    agent.post(path).type('form').send({ _csrf: token, display_name: name, password: PASSWORD, confirm_password: PASSWORD });
}
const accounts = (email: string) => t.testDb.db.selectFrom('users').selectAll().where('email', '=', email).execute();
const openInvitations = (email: string) =>
  t.testDb.db
    .selectFrom('invitations')
    .select('id')
    .where('email', '=', email)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .execute();

describe('one open invitation per address', () => {
  it('a new invitation revokes the earlier one: its link stops working, and the revocation is audited', async () => {
    const first = await invite('twice@example.org');
    const second = await invite('Twice@Example.org ');
    expect(second.text).toContain('The earlier invitation to this address no longer works.');
    expect((await request(t.app).get(first.path)).status).toBe(404);
    expect((await request(t.app).get(second.path)).status).toBe(200);
    expect(await openInvitations('twice@example.org')).toHaveLength(1);
    const revoked = await t.testDb.db
      .selectFrom('audit_log')
      .select(['actor_id', 'details'])
      .where('action', '=', 'staff.invitation_revoked')
      .execute();
    expect(revoked).toEqual([{ actor_id: admin.id, details: { invitation: expect.any(String), reason: 'replaced' } }]);
  });

  it('the database refuses a second open invitation to an address, whatever the code does', async () => {
    await invite('db-rule@example.org');
    const row = {
      id: randomUUID(),
      token_hash: hashToken(randomUUID()),
      email: 'db-rule@example.org',
      roles: ['caseworker' as const],
      invited_by: admin.id,
      expires_at: new Date(Date.now() + 86_400_000),
    };
    await expect(t.testDb.db.insertInto('invitations').values(row).execute()).rejects.toMatchObject({ code: '23505' });
  });

  it('16 invitations to one address at once: all answered, exactly one left open', async () => {
    const results = await Promise.all(
      Array.from({ length: 16 }, () =>
        adminAgent
          .post('/admin/staff/invitations')
          .type('form')
          .send({ _csrf: adminToken, email: 'burst@example.org', roles: ['caseworker'] }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(16).fill(201));
    expect(await openInvitations('burst@example.org')).toHaveLength(1);
  });

  it('deactivating an administrator revokes the invitations they sent', async () => {
    const other = await addStaff(t, { roles: ['admin'] });
    const otherAgent = await signInStaff(t, other);
    const { path } = await invite('from-leaver@example.org', otherAgent, await staffCsrf(otherAgent, '/admin/staff'));
    expect((await adminAgent.post(`/admin/staff/${other.id}/deactivate`).type('form').send({ _csrf: adminToken, confirm: 'yes' })).status).toBe(303);
    expect((await request(t.app).get(path)).status).toBe(404);
    expect(await openInvitations('from-leaver@example.org')).toHaveLength(0);
  });
});

describe('accepting', () => {
  it('records who invited the account, and when, and shows it to administrators', async () => {
    const { path } = await invite('recorded@example.org');
    expect((await (await visitor(path))('Rec Orded')).status).toBe(303);
    const [user] = await accounts('recorded@example.org');
    const inv = await t.testDb.db.selectFrom('invitations').selectAll().where('email', '=', 'recorded@example.org').executeTakeFirstOrThrow();
    expect(user).toMatchObject({ created_via: 'invitation', invited_by: admin.id, invited_at: inv.created_at });
    expect(inv.used_at).not.toBeNull();
    const page = await adminAgent.get('/admin/staff');
    const row = page.text.slice(page.text.indexOf('<td>Rec Orded</td>'));
    expect(row.slice(0, row.indexOf('</tr>'))).toMatch(/Invited by Ines Inviter \(you\) on \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
  });

  it('16 parallel accepts of one link: one account, the rest 404, no 500', async () => {
    const { path } = await invite('same-link@example.org');
    const posts = await Promise.all(Array.from({ length: 16 }, () => visitor(path)));
    const results = await Promise.all(posts.map((post, i) => post(`Person ${i}`)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([303, ...Array(15).fill(404)]);
    expect(await accounts('same-link@example.org')).toHaveLength(1);
  });

  it('16 parallel accepts alternating two links for one address: one account, clear 4xx for the rest, no 500', async () => {
    const first = await invite('two-links@example.org');
    const second = await invite('two-links@example.org');
    const posts = await Promise.all(Array.from({ length: 16 }, (_, i) => visitor(i % 2 ? second.path : first.path).catch(() => null)));
    // The first link was revoked by the second: its page is already a 404.
    expect(posts.filter((p) => p === null)).toHaveLength(8);
    const results = await Promise.all(posts.filter((p) => p !== null).map((post) => post!()));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([303, ...Array(7).fill(404)]);
    expect(await accounts('two-links@example.org')).toHaveLength(1);
  });

  it('an account made for the address meanwhile (harbour user add) turns the accept into a 422 "taken"; nothing half-written', async () => {
    const { path } = await invite('raced@example.org');
    const post = await visitor(path);
    const [results] = await Promise.all([
      Promise.all(Array.from({ length: 6 }, () => post())),
      createUser(t.testDb.db, { email: 'raced@example.org', displayName: 'By CLI', roles: ['caseworker'], password: PASSWORD }, { via: 'cli' }).catch(
        (e: unknown) => e,
      ),
    ]);
    expect(
      results.every((r) => [303, 404, 422].includes(r.status)),
      results.map((r) => r.status).join(),
    ).toBe(true);
    expect(await accounts('raced@example.org')).toHaveLength(1);
  });

  it('the unique email is the last word: a parallel insert that won surfaces as EmailTakenError', async () => {
    const a = await prepareUser({ email: 'last-word@example.org', displayName: 'A', roles: ['caseworker'], password: PASSWORD });
    const b = await prepareUser({ email: 'last-word@example.org', displayName: 'B', roles: ['caseworker'], password: PASSWORD });
    await insertUser(t.testDb.db, a.row);
    await expect(insertUser(t.testDb.db, b.row)).rejects.toBeInstanceOf(EmailTakenError);
  });

  it.skipIf(!onPostgres)('an insert of the address still uncommitted when the accept checks: 422 "taken", the invitation left unused', async () => {
    const { path } = await invite('uncommitted@example.org');
    const post = await visitor(path);
    const prepared = await prepareUser({ email: 'uncommitted@example.org', displayName: 'Other', roles: ['caseworker'], password: PASSWORD });
    // Another connection inserts the account and holds its transaction open.
    const other = new pg.Client({ connectionString: process.env['TEST_DATABASE_URL'], options: `-c search_path=${t.testDb.schema}` });
    await other.connect();
    try {
      await other.query('begin');
      const r = prepared.row;
      await other.query(
        `insert into users (id, email, display_name, roles, status, password_salt, password_verifier, public_key, private_key_wrapped)
         values ($1, $2, $3, $4, 'active', $5, $6, $7, $8)`,
        [r.id, r.email, r.display_name, r.roles, r.password_salt, r.password_verifier, r.public_key, r.private_key_wrapped].map((v) =>
          v instanceof Uint8Array ? Buffer.from(v) : v,
        ),
      );
      const pending = post().then((r) => r); // sent now: its lookup sees no account; its insert waits on the other's
      await new Promise((resolve) => setTimeout(resolve, 1500)); // past the Argon2id derivation, into the insert
      await other.query('commit');
      const res = await pending;
      expect(res.status).toBe(422);
      expect(res.text).toContain('An account with this email address already exists.');
    } finally {
      await other.end();
    }
    const inv = await t.testDb.db
      .selectFrom('invitations')
      .select('used_at')
      .where('email', '=', 'uncommitted@example.org')
      .executeTakeFirstOrThrow();
    expect(inv.used_at).toBeNull(); // rolled back with the failed insert
    expect(await accounts('uncommitted@example.org')).toHaveLength(1);
  });
});
