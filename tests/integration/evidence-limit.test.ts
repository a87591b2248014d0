import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { VALID_REPORT, csrfFrom, fileReport, signInWithReceipt } from '../helpers/reporter.js';

// Convention 14: limits are taken before the work, atomically. Uploads sent
// at once each used to read the same remaining allowance, so together they
// stored several times what a report may hold. Now each batch of chunks
// reserves its bytes on the report with one conditional UPDATE.

const MB = 1024 * 1024;
const LIMIT = 2 * MB;
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ env: { MAX_FILE_MB: '1', MAX_REPORT_MB: '2', MAX_FILES_PER_UPLOAD: '3' } });
});
afterAll(async () => {
  await t?.close();
});

/** A plain-text file of `bytes` bytes (text is stored as it is: no re-encoding to change its size). */
const textFile = (bytes: number, mark: string) => Buffer.from(`${mark}\n`.padEnd(bytes, 'x'), 'utf8');

/** What the database holds for a report: the counter, the chunks' bytes, and files by state. */
async function stored(reportId: string) {
  const counter = Number(
    (await t.testDb.db.selectFrom('reports').select('evidence_bytes').where('id', '=', reportId).executeTakeFirstOrThrow()).evidence_bytes,
  );
  const { rows } = await sql<{ bytes: string | number | null }>`select sum(octet_length(c.data)) as bytes
    from evidence e join evidence_chunks c on c.evidence_id = e.id where e.report_id = ${reportId}`.execute(t.testDb.db);
  const files = await t.testDb.db.selectFrom('evidence').select(['id', 'state', 'chunk_count']).where('report_id', '=', reportId).execute();
  const chunks = await sql<{ evidence_id: string; n: number }>`select c.evidence_id, count(*)::int as n
    from evidence e join evidence_chunks c on c.evidence_id = e.id where e.report_id = ${reportId} group by c.evidence_id`.execute(t.testDb.db);
  return { counter, chunkBytes: Number(rows[0]?.bytes ?? 0), files, chunks: new Map(chunks.rows.map((r) => [r.evidence_id, r.n])) };
}

/** Files a report holding one file of `first` bytes, and returns a signed-in reporter and the report's id. */
async function reportWith(first: number) {
  const { receipt } = await fileReport(t.app, VALID_REPORT, [{ name: 'first.txt', content: textFile(first, 'first') }]);
  const { agent } = await signInWithReceipt(t.app, receipt);
  const id = (
    await t.testDb.db.selectFrom('reports').select('id').where('state', '=', 'submitted').orderBy('submitted_at', 'desc').executeTakeFirstOrThrow()
  ).id;
  return { agent, id };
}

describe('the per-report evidence limit under parallel uploads', () => {
  for (const parallel of [6, 16]) {
    it(`${parallel} uploads of 0.45 MiB at once with about 1 MiB left: never past the limit, the rest refused whole`, async () => {
      const { agent, id } = await reportWith(Math.floor(0.95 * MB));
      const before = await stored(id);
      expect(before.counter).toBe(before.chunkBytes);
      const left = LIMIT - before.counter;
      expect(left).toBeGreaterThan(MB);

      const token = await csrfFrom(agent, '/en/status');
      const size = Math.floor(0.45 * MB);
      const results = await Promise.all(
        Array.from({ length: parallel }, (_, i) =>
          agent
            .post('/en/status/evidence')
            .field('_csrf', token)
            .attach('evidence', textFile(size, `upload ${i}`), `upload-${i}.txt`),
        ),
      );
      const ok = results.filter((r) => r.status === 303);
      const refused = results.filter((r) => r.status !== 303);
      // At most two fit in what is left (a third would pass the limit). Fewer may: batches of
      // files racing each other can each take part of the allowance, and a refused file gives its part back.
      expect(ok.length).toBeLessThanOrEqual(2);
      for (const r of refused) {
        expect(r.status).toBe(413);
        // Refused while storing ("…too large together"), or, started after the allowance was taken, by its declared size.
        expect(r.text).toMatch(/The files are too large( together)?\. /);
        // The per-report limit is named, not the per-file one (MAX_REPORT_MB 2, MAX_FILE_MB 1).
        if (r.text.includes('too large together')) expect(r.text).toContain('at most 2 MB in total');
      }

      const after = await stored(id);
      expect(after.chunkBytes).toBeLessThanOrEqual(LIMIT);
      expect(after.counter).toBe(after.chunkBytes); // nothing reserved that is not stored, nothing stored unreserved
      // Nothing half-written: every file left is complete, with all its chunks; the refused left no row.
      expect(after.files.every((f) => f.state === 'complete')).toBe(true);
      expect(after.files).toHaveLength(1 + ok.length);
      for (const f of after.files) expect(after.chunks.get(f.id)).toBe(f.chunk_count);
    });
  }

  it('images refused part-way (re-encoded, then out of allowance) are cleaned up and answered too', async () => {
    const { agent, id } = await reportWith(Math.floor(0.95 * MB));
    // Noise does not compress: each PNG stays about 0.4 MiB after re-encoding.
    const png = () =>
      sharp(randomBytes(360 * 360 * 3), { raw: { width: 360, height: 360, channels: 3 } })
        .png()
        .toBuffer();
    const images = await Promise.all(Array.from({ length: 6 }, png));
    const token = await csrfFrom(agent, '/en/status');
    const results = await Promise.all(
      images.map((img, i) => agent.post('/en/status/evidence').field('_csrf', token).attach('evidence', img, `photo-${i}.png`)),
    );
    expect(results.every((r) => r.status === 303 || r.status === 413)).toBe(true);
    expect(results.some((r) => r.status === 413)).toBe(true);
    const after = await stored(id);
    expect(after.chunkBytes).toBeLessThanOrEqual(LIMIT);
    expect(after.counter).toBe(after.chunkBytes);
    expect(after.files.every((f) => f.state === 'complete' && after.chunks.get(f.id) === f.chunk_count)).toBe(true);
    expect(after.files).toHaveLength(1 + results.filter((r) => r.status === 303).length);
  });

  it('a large file of a refused type is answered at once (415), not left waiting for a body nobody reads', async () => {
    const { agent, id } = await reportWith(1000);
    const token = await csrfFrom(agent, '/en/status');
    const res = await agent.post('/en/status/evidence').field('_csrf', token).attach('evidence', randomBytes(600_000), 'archive.bin');
    expect(res.status).toBe(415);
    expect((await stored(id)).files).toHaveLength(1);
  });

  it('a file refused part-way gives its bytes back: what is left can still be used', async () => {
    const { agent, id } = await reportWith(MB);
    const token = await csrfFrom(agent, '/en/status');
    const tooBig = await agent.post('/en/status/evidence').field('_csrf', token).attach('evidence', textFile(MB, 'too big'), 'big.txt');
    expect(tooBig.status).toBe(413);
    const mid = await stored(id);
    expect(mid.counter).toBe(mid.chunkBytes);
    expect(mid.files).toHaveLength(1);
    const fits = await agent
      .post('/en/status/evidence')
      .field('_csrf', token)
      .attach('evidence', textFile(Math.floor(0.9 * MB), 'fits'), 'fits.txt');
    expect(fits.status).toBe(303);
    const end = await stored(id);
    expect(end.files).toHaveLength(2);
    expect(end.counter).toBe(end.chunkBytes);
    expect(end.chunkBytes).toBeLessThanOrEqual(LIMIT);
  });

  it('the same limit holds for the files of the report form itself', async () => {
    const files = Array.from({ length: 3 }, (_, i) => ({ name: `f${i}.txt`, content: textFile(Math.floor(0.8 * MB), `form ${i}`) }));
    const agent = (await import('supertest')).default.agent(t.app);
    const token = await csrfFrom(agent, '/en/report');
    let req = agent.post('/en/report').field('_csrf', token);
    for (const [k, v] of Object.entries(VALID_REPORT)) for (const x of [v].flat()) req = req.field(k, x);
    for (const f of files) req = req.attach('evidence', f.content, f.name);
    const reports = () => t.testDb.db.selectFrom('reports').select('id').orderBy('id').execute();
    const before = await reports();
    const res = await req;
    expect(res.status).toBe(413);
    // The pending report and every file it had are gone.
    expect(await reports()).toEqual(before);
    expect(await t.testDb.db.selectFrom('evidence').select('id').where('state', '=', 'uploading').execute()).toEqual([]);
  });
});
