import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler } from 'express';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAuditVerify, parseAuditAnchor } from '../../server/audit/cli.js';
import { AUDIT_ACTIONS, audit, entryHash, GENESIS_HASH, type AuditAction } from '../../server/audit/log.js';
import { auditPage } from '../../server/audit/audit-page.js';
import { verifyAuditChain, type AuditVerifyResult } from '../../server/audit/verify.js';
import { createDb, type Db } from '../../server/db/index.js';
import { HttpError } from '../../server/errors.js';
import { viewsDir } from '../../server/paths.js';
import type { AppContext } from '../../server/web/context.js';
import { createTestDb, onPostgres, type TestDb } from '../helpers/db.js';

/**
 * The audit chain on a real database: appends stay linear under concurrency,
 * the trigger refuses UPDATE and DELETE, and `harbour audit verify` finds
 * what an attacker with database access does once the trigger is off.
 */
let t: TestDb;
let second: Db | null = null;
const admin = { id: randomUUID(), email: 'ada@example.org', name: 'Ada Admin' };
const worker = { id: randomUUID(), email: 'wen@example.org', name: 'Wen Caseworker' };
const caseA = randomUUID();
const caseB = randomUUID();
const ENTRIES = 20;

beforeAll(async () => {
  t = await createTestDb();
  for (const u of [admin, worker]) {
    const bytes = new Uint8Array(32);
    await t.db
      .insertInto('users')
      .values({
        id: u.id,
        email: u.email,
        display_name: u.name,
        roles: u === admin ? ['admin'] : ['caseworker'],
        status: 'active',
        password_salt: bytes,
        password_verifier: bytes,
        public_key: bytes,
        private_key_wrapped: bytes,
      })
      .execute();
  }
  // Another connection pool on the same schema: a second app instance.
  if (onPostgres) second = await createDb({ kind: 'postgres', url: process.env['TEST_DATABASE_URL']!, poolSize: 5, schema: t.schema! });

  await audit(t.db, { action: 'staff.sign_in', actorId: admin.id });
  await audit(t.db, { action: 'staff.created', actorId: admin.id, subjectUserId: worker.id, details: { roles: 'caseworker' } });
  // Concurrent appends from both instances, each taking the advisory lock: the chain must not fork.
  const handles = second ? [t.db, second] : [t.db];
  const actions: AuditAction[] = ['case.viewed', 'case.status_changed', 'case.note_added', 'case.assigned'];
  await Promise.all(
    Array.from({ length: ENTRIES - 4 }, (_, i) =>
      audit(handles[i % handles.length]!, {
        action: actions[i % actions.length]!,
        actorId: worker.id,
        caseId: i % 3 ? caseA : caseB,
        details: i % 4 === 1 ? { from: 'new', to: 'triaged', n: i, urgent: i % 2 === 0, note: null } : {},
      }),
    ),
  );
  // An append inside a transaction that rolls back leaves no gap: the next append reuses its seq.
  await t.db
    .transaction()
    .execute(async (trx) => {
      await audit(trx, { action: 'settings.changed', actorId: admin.id, details: { key: 'rolled back' } });
      throw new Error('roll back');
    })
    .catch(() => undefined);
  await audit(t.db, { action: 'stats.viewed', actorId: admin.id });
  await audit(t.db, { action: 'staff.sign_out' });
});
afterAll(async () => {
  await second?.destroy();
  await t?.close();
});

class Rollback extends Error {}

/** Tampers as an attacker with database access would (trigger off), verifies, then rolls everything back. */
async function verifyTampered(tamper: (trx: Db) => Promise<unknown>): Promise<AuditVerifyResult> {
  let result: AuditVerifyResult | undefined;
  await t.db
    .transaction()
    .execute(async (trx) => {
      await sql`alter table audit_log disable trigger audit_log_no_change`.execute(trx);
      await tamper(trx);
      result = await verifyAuditChain(trx);
      throw new Rollback();
    })
    .catch((err: unknown) => {
      if (!(err instanceof Rollback)) throw err;
    });
  return result!;
}

const kinds = (r: AuditVerifyResult) => r.problems.map((p) => [p.seq, p.kind]);
const row = (db: Db, seq: number) => db.selectFrom('audit_log').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();

/** A forged entry at `seq`, with a hash consistent with its own fields and the given link. */
async function insertForged(db: Db, seq: number, prevHash: Uint8Array) {
  const f = { seq, at: new Date().toISOString(), actorId: admin.id, action: 'case.viewed', caseId: caseB, subjectUserId: null, details: {} };
  await db
    .insertInto('audit_log')
    .values({
      seq,
      at: f.at,
      actor_id: f.actorId,
      action: f.action,
      case_id: f.caseId,
      subject_user_id: null,
      details: '{}',
      prev_hash: prevHash,
      hash: entryHash(prevHash, f),
    })
    .execute();
}

describe('the audit chain', () => {
  it('stays linear under concurrent appends: seq 1…n without gaps, and it verifies', async () => {
    const rows = await t.db.selectFrom('audit_log').select(['seq', 'prev_hash', 'hash']).orderBy('seq').execute();
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: ENTRIES }, (_, i) => i + 1));
    rows.forEach((r, i) => expect(Buffer.from(r.prev_hash)).toEqual(Buffer.from(i ? rows[i - 1]!.hash : GENESIS_HASH)));
    const result = await verifyAuditChain(t.db);
    expect(result).toMatchObject({ ok: true, checked: ENTRIES, problems: [], unreported: 0 });
    expect(Buffer.from(result.head!.hash)).toEqual(Buffer.from(rows.at(-1)!.hash));
  });

  it('the trigger refuses UPDATE and DELETE', async () => {
    await expect(t.db.updateTable('audit_log').set({ action: 'case.viewed' }).where('seq', '=', 3).execute()).rejects.toThrow(/append-only/);
    await expect(t.db.deleteFrom('audit_log').where('seq', '=', 3).execute()).rejects.toThrow(/append-only/);
    await expect(t.db.deleteFrom('audit_log').where('seq', '=', ENTRIES).execute()).rejects.toThrow(/append-only/);
    expect((await verifyAuditChain(t.db)).ok).toBe(true);
  });

  it('finds an edited detail, action or time (to the microsecond)', async () => {
    const details = await verifyTampered((trx) => sql`update audit_log set details = details || '{"to": "closed"}' where seq = 7`.execute(trx));
    expect(kinds(details)).toEqual([[7, 'edited']]);
    expect(details.problems[0]!.message).toBe('Entry 7 does not match its hash: its content was changed after it was written.');
    const action = await verifyTampered((trx) => trx.updateTable('audit_log').set({ action: 'keys.recovered' }).where('seq', '=', 12).execute());
    expect(kinds(action)).toEqual([[12, 'edited']]);
    const time = await verifyTampered((trx) => sql`update audit_log set at = at + interval '1 microsecond' where seq = 3`.execute(trx));
    expect(kinds(time)).toEqual([[3, 'edited']]);
    const actor = await verifyTampered((trx) => trx.updateTable('audit_log').set({ actor_id: admin.id }).where('seq', '=', 9).execute());
    expect(kinds(actor)).toEqual([[9, 'edited']]);
    expect((await verifyAuditChain(t.db)).ok).toBe(true); // every tampering above was rolled back
  });

  it('finds a deleted entry and names it', async () => {
    const r = await verifyTampered((trx) => trx.deleteFrom('audit_log').where('seq', '=', 10).execute());
    expect(kinds(r)).toEqual([[10, 'deleted']]);
    expect(r.problems[0]!.message).toBe('Entry 10 is missing: deleted from between entry 9 and entry 11.');
  });

  it('finds a forged entry put in a deleted one’s place, chained correctly or not', async () => {
    const linked = await verifyTampered(async (trx) => {
      await trx.deleteFrom('audit_log').where('seq', '=', 8).execute();
      await insertForged(trx, 8, (await row(trx, 7)).hash);
    });
    expect(kinds(linked)).toEqual([[8, 'inserted']]);
    const unlinked = await verifyTampered(async (trx) => {
      await trx.deleteFrom('audit_log').where('seq', '=', 8).execute();
      await insertForged(trx, 8, GENESIS_HASH);
    });
    expect(kinds(unlinked)).toEqual([[8, 'inserted']]);
  });

  it('finds an entry inserted by renumbering the later ones', async () => {
    const r = await verifyTampered(async (trx) => {
      // Highest first, so the primary key never collides.
      for (let seq = ENTRIES; seq >= 15; seq--)
        await trx
          .updateTable('audit_log')
          .set({ seq: seq + 1 })
          .where('seq', '=', seq)
          .execute();
      await insertForged(trx, 15, (await row(trx, 14)).hash);
    });
    expect(kinds(r)).toEqual([[15, 'inserted']]);
    expect(r.problems[0]!.message).toBe(
      `Entry 15 was inserted: entries 16–${ENTRIES + 1} were renumbered up by one to make room (their hashes match the seq below).`,
    );
  });

  it('passes again once a deleted entry is restored exactly', async () => {
    const saved = await row(t.db, 5);
    await sql`alter table audit_log disable trigger audit_log_no_change`.execute(t.db);
    try {
      await t.db.deleteFrom('audit_log').where('seq', '=', 5).execute();
      expect(kinds(await verifyAuditChain(t.db))).toEqual([[5, 'deleted']]);
      await t.db
        .insertInto('audit_log')
        .values({ ...saved, details: JSON.stringify(saved.details) })
        .execute();
    } finally {
      await sql`alter table audit_log enable trigger audit_log_no_change`.execute(t.db);
    }
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: true, checked: ENTRIES });
    await expect(t.db.deleteFrom('audit_log').where('seq', '=', 5).execute()).rejects.toThrow(/append-only/);
  });

  it('walks in batches: a chain longer than one batch verifies, and a problem past the first batch is found', async () => {
    const big = await createTestDb();
    try {
      // Written as audit() would, in bulk (appending one by one takes seconds on PGlite).
      let prevHash: Uint8Array = GENESIS_HASH;
      const at = new Date().toISOString();
      for (let from = 1; from <= 2_100; from += 500) {
        const values = [];
        for (let seq = from; seq < from + 500 && seq <= 2_100; seq++) {
          const f = { seq, at, actorId: null, action: 'case.viewed', caseId: null, subjectUserId: null, details: { seq } };
          const hash = entryHash(prevHash, f);
          values.push({
            seq,
            at,
            actor_id: null,
            action: f.action,
            case_id: null,
            subject_user_id: null,
            details: JSON.stringify(f.details),
            prev_hash: prevHash,
            hash,
          });
          prevHash = hash;
        }
        await big.db.insertInto('audit_log').values(values).execute();
      }
      await audit(big.db, { action: 'case.viewed' }); // and audit() carries on from there
      expect(await verifyAuditChain(big.db)).toMatchObject({ ok: true, checked: 2_101 });
      await sql`alter table audit_log disable trigger audit_log_no_change`.execute(big.db);
      await big.db.deleteFrom('audit_log').where('seq', 'in', [1_000, 1_001, 2_050]).execute();
      const r = await verifyAuditChain(big.db);
      expect(kinds(r)).toEqual([
        [1_000, 'deleted'],
        [2_050, 'deleted'],
      ]);
      expect(r.checked).toBe(2_098);
    } finally {
      await big.close();
    }
  });
});

describe('runAuditVerify (harbour audit verify)', () => {
  it('prints the count and the head, exits 0 on an intact chain; an anchor from that run still holds', async () => {
    const lines: string[] = [];
    expect(await runAuditVerify(t.db, (l) => lines.push(l))).toBe(0);
    const head = await row(t.db, ENTRIES);
    const headHex = Buffer.from(head.hash).toString('hex');
    expect(lines).toContain(`Audit log: ${ENTRIES} entries checked.`);
    expect(lines).toContain(`Head: seq ${ENTRIES}, hash ${headHex}`);
    expect(lines.at(-1)).toBe('OK: the chain is intact.');

    const again: string[] = [];
    expect(
      await runAuditVerify(t.db, (l) => again.push(l), {
        expect: [`${ENTRIES}:${headHex}`, `3:${Buffer.from((await row(t.db, 3)).hash).toString('hex')}`],
      }),
    ).toBe(0);
  });

  it('exits 1 and lists each problem with its seq', async () => {
    let code = -1;
    const lines: string[] = [];
    await t.db
      .transaction()
      .execute(async (trx) => {
        await sql`alter table audit_log disable trigger audit_log_no_change`.execute(trx);
        await trx.deleteFrom('audit_log').where('seq', '=', 10).execute();
        await sql`update audit_log set details = '{"forged": true}' where seq = 4`.execute(trx);
        code = await runAuditVerify(trx, (l) => lines.push(l));
        throw new Rollback();
      })
      .catch((err: unknown) => {
        if (!(err instanceof Rollback)) throw err;
      });
    expect(code).toBe(1);
    expect(lines).toContain(`Audit log: ${ENTRIES - 1} entries checked.`);
    expect(lines).toContain('PROBLEMS: 2 found. The audit log has been tampered with (or damaged).');
    expect(lines).toContain('  seq 4 [edited] Entry 4 does not match its hash: its content was changed after it was written.');
    expect(lines).toContain('  seq 10 [deleted] Entry 10 is missing: deleted from between entry 9 and entry 11.');
  });

  it('exits 1 when an anchor does not hold: the newest entries deleted, or a hash differs', async () => {
    const lines: string[] = [];
    expect(await runAuditVerify(t.db, (l) => lines.push(l), { expect: [`${ENTRIES + 5}:${'ab'.repeat(32)}`] })).toBe(1);
    expect(lines.join('\n')).toContain(
      `seq ${ENTRIES + 5} [deleted] Entry ${ENTRIES + 5} was recorded as existing, but the log now ends at entry ${ENTRIES}`,
    );
    lines.length = 0;
    expect(await runAuditVerify(t.db, (l) => lines.push(l), { expect: [`2:${'ab'.repeat(32)}`] })).toBe(1);
    expect(lines.join('\n')).toContain('seq 2 [edited] Entry 2 does not have the hash recorded for it');
  });

  it('refuses a malformed anchor with a message for the operator', () => {
    for (const bad of ['12', '0:' + 'a'.repeat(64), '12:abc', 'x:' + 'a'.repeat(64)]) {
      expect(() => parseAuditAnchor(bad)).toThrow(/--expect takes SEQ:HASH/);
    }
    expect(parseAuditAnchor(` 7:${'A'.repeat(64)} `)).toEqual({ seq: 7, hash: new Uint8Array(32).fill(0xaa) });
  });

  it('an empty log passes', async () => {
    const empty = await createTestDb();
    try {
      const lines: string[] = [];
      expect(await runAuditVerify(empty.db, (l) => lines.push(l))).toBe(0);
      expect(lines).toEqual(['Audit log: 0 entries checked.', 'The audit log is empty.', 'OK: the chain is intact.']);
    } finally {
      await empty.close();
    }
  });
});

describe('GET /admin/audit (handler alone; the lead mounts it behind the admin guard)', () => {
  let app: express.Express;
  beforeAll(() => {
    app = express();
    app.set('view engine', 'ejs');
    app.set('views', viewsDir);
    app.set('query parser', 'simple');
    app.locals['assetVersion'] = 'test';
    app.use((_req, res, next) => {
      res.locals['staff'] = { user: { id: admin.id, email: admin.email, displayName: admin.name, roles: ['admin'] } };
      res.locals['csrfToken'] = 'csrf-token';
      next();
    });
    app.get('/admin/audit', auditPage({ db: t.db } as AppContext));
    const onError: ErrorRequestHandler = (err, _req, res, _next) => {
      res
        .status(err instanceof HttpError ? err.status : 500)
        .type('text')
        .send(err instanceof HttpError ? err.code : 'server_error');
    };
    app.use(onError);
  });

  const seqsIn = (html: string) => [...html.matchAll(/<th scope="row">(\d+)<\/th>/g)].map((m) => Number(m[1]));

  it('lists entries newest first with actor names, in an accessible table, without auditing itself', async () => {
    const res = await request(app).get('/admin/audit');
    expect(res.status).toBe(200);
    expect(res.text).toContain('<title>Audit log · Harbour staff</title>');
    expect(res.text).toContain('<caption id="audit-caption">Audit log entries, newest first</caption>');
    expect(res.text).toContain('<th scope="col">Actor</th>');
    expect(res.text).toMatch(/<label for="actor">Actor<\/label>/);
    expect(res.text).toMatch(/<label for="case">Case ID<\/label>/);
    expect(res.text).toMatch(/<label for="action">Action<\/label>/);
    expect(seqsIn(res.text)).toEqual(Array.from({ length: ENTRIES }, (_, i) => ENTRIES - i));
    expect(res.text).toContain('Ada Admin (ada@example.org)');
    expect(res.text).toContain('Wen Caseworker (wen@example.org)'); // as actor and as subject of staff.created
    expect(res.text).toContain('to: triaged');
    expect(res.text).not.toContain('Older entries');
    expect((await verifyAuditChain(t.db)).checked).toBe(ENTRIES);
  });

  it('filters by actor, case and action, and combinations', async () => {
    const byAdmin = await request(app).get(`/admin/audit?actor=${admin.id}`);
    expect(seqsIn(byAdmin.text)).toEqual([ENTRIES - 1, 2, 1]);
    expect(byAdmin.text).toContain(`<option value="${admin.id}" selected>`);
    const byCase = await request(app).get(`/admin/audit?case=${caseB.toUpperCase()}`);
    const caseBRows = await t.db.selectFrom('audit_log').select('seq').where('case_id', '=', caseB).orderBy('seq', 'desc').execute();
    expect(seqsIn(byCase.text)).toEqual(caseBRows.map((r) => r.seq));
    const byAction = await request(app).get('/admin/audit?action=staff.created');
    expect(seqsIn(byAction.text)).toEqual([2]);
    expect(byAction.text).toContain('<option value="staff.created" selected>');
    // Every action the log records can be chosen, the purge's included.
    const offered = [...byAction.text.matchAll(/<option value="([a-z_]+\.[a-z_]+)"/g)].map((m) => m[1]);
    expect(offered).toEqual([...AUDIT_ACTIONS]);
    const none = await request(app).get(`/admin/audit?action=staff.created&actor=${worker.id}`);
    expect(none.status).toBe(200);
    expect(none.text).toContain('No entries match these filters.');
  });

  it('pages by seq, 50 at a time, keeping the filters', async () => {
    const big = await createTestDb();
    try {
      await big.db.transaction().execute(async (trx) => {
        for (let i = 0; i < 120; i++) await audit(trx, { action: i % 2 ? 'case.viewed' : 'stats.viewed', details: { i } });
      });
      const pageApp = express();
      pageApp.set('view engine', 'ejs').set('views', viewsDir).set('query parser', 'simple');
      pageApp.locals['assetVersion'] = 'test';
      pageApp.get('/admin/audit', auditPage({ db: big.db } as AppContext));
      const first = await request(pageApp).get('/admin/audit');
      expect(seqsIn(first.text)).toEqual(Array.from({ length: 50 }, (_, i) => 120 - i));
      expect(first.text).toContain('<a href="/admin/audit?before=71">Older entries (next page)</a>');
      const third = await request(pageApp).get('/admin/audit?before=21');
      expect(seqsIn(third.text)).toEqual(Array.from({ length: 20 }, (_, i) => 20 - i));
      expect(third.text).not.toContain('Older entries');
      expect(third.text).toContain('<a href="/admin/audit">Newest entries</a>');
      const filtered = await request(pageApp).get('/admin/audit?action=case.viewed');
      expect(seqsIn(filtered.text)).toHaveLength(50);
      expect(filtered.text).toContain('<a href="/admin/audit?action=case.viewed&amp;before=22">Older entries (next page)</a>');
    } finally {
      await big.close();
    }
  });

  it('a malformed case id is a field error (400), not a 500', async () => {
    const res = await request(app).get('/admin/audit?case=not-a-uuid');
    expect(res.status).toBe(400);
    expect(res.text).toContain('aria-invalid="true" aria-describedby="case-error"');
    expect(res.text).toContain('value="not-a-uuid"');
    expect(seqsIn(res.text)).toEqual([]);
  });

  it.each([
    'actor=nobody',
    'actor=1%27%20or%201=1',
    'action=case.deleted',
    'before=0',
    'before=-3',
    'before=1e3',
    'before=99999999999999999999',
    `actor=${admin.id}&actor=${worker.id}`,
    'case=a&case=b',
  ])('a crafted query (%s) is a 400', async (query) => {
    const res = await request(app).get(`/admin/audit?${query}`);
    expect(res.status).toBe(400);
    expect(res.text).toBe('bad_request');
  });

  it('ignores empty and unknown parameters', async () => {
    const res = await request(app).get('/admin/audit?actor=&case=&action=&before=&utm=1');
    expect(res.status).toBe(200);
    expect(seqsIn(res.text)).toHaveLength(ENTRIES);
  });
});
