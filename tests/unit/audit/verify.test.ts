import { describe, expect, it } from 'vitest';
import { entryHash, GENESIS_HASH } from '../../../server/audit/log.js';
import { canonicalAt, ChainChecker, MAX_PROBLEMS, type AuditAnchor, type StoredEntry } from '../../../server/audit/verify.js';

// The classifier on synthetic chains: every tampering pattern an attacker
// with write access to the table could produce, without a database.

type Fields = Omit<StoredEntry, 'prevHash' | 'hash'>;

function fields(seq: number, over: Partial<Fields> = {}): Fields {
  return {
    seq,
    at: new Date(Date.UTC(2026, 10, 24, 9, 0, 0, seq)).toISOString(),
    actorId: '0b7f7c1e-2a55-4c1b-9a51-7d0c5d3d6a01',
    action: seq % 2 ? 'case.viewed' : 'case.status_changed',
    caseId: 'c5a1d3a0-6a2e-4a8e-bb2b-5b9d0b2f4e11',
    subjectUserId: null,
    details: seq % 2 ? {} : { to: 'triaged', from: 'new' },
    ...over,
  };
}

/** What audit() would have written for these fields after `prevHash`. */
function sealed(f: Fields, prevHash: Uint8Array): StoredEntry {
  return { ...f, prevHash, hash: entryHash(prevHash, { ...f, details: f.details as Record<string, unknown> }) };
}

function chain(n: number): StoredEntry[] {
  const out: StoredEntry[] = [];
  for (let seq = 1; seq <= n; seq++) out.push(sealed(fields(seq), out.at(-1)?.hash ?? GENESIS_HASH));
  return out;
}

/** The chain with the entry at seq replaced by `e`. */
const replace = (c: StoredEntry[], seq: number, e: StoredEntry) => c.map((x) => (x.seq === seq ? e : x));
const at = (c: StoredEntry[], seq: number) => c.find((x) => x.seq === seq)!;

function check(entries: StoredEntry[], anchors: AuditAnchor[] = []) {
  const checker = new ChainChecker(anchors);
  for (const e of entries) checker.push(e);
  return checker.finish();
}
const kinds = (r: ReturnType<typeof check>) => r.problems.map((p) => [p.seq, p.kind]);

describe('ChainChecker', () => {
  it('passes an intact chain and reports its head', () => {
    const c = chain(20);
    const r = check(c);
    expect(r).toMatchObject({ ok: true, checked: 20, problems: [], unreported: 0 });
    expect(r.head).toEqual({ seq: 20, hash: c[19]!.hash });
  });

  it('passes an empty log', () => {
    expect(check([])).toEqual({ ok: true, checked: 0, head: null, problems: [], unreported: 0 });
  });

  it('an edited action, actor, time or detail: edited at that seq only', () => {
    const c = chain(10);
    for (const over of [
      { action: 'case.note_added' },
      { actorId: null },
      { at: '2026-11-24T09:00:00.999Z' },
      { details: { to: 'closed', from: 'new' } },
    ]) {
      const r = check(replace(c, 4, { ...at(c, 4), ...over }));
      expect(kinds(r)).toEqual([[4, 'edited']]);
      expect(r.problems[0]!.message).toMatch(/^Entry 4 does not match its hash/);
    }
  });

  it('an edit to the stored hash or link alone: edited, and the next link not reported twice', () => {
    const c = chain(10);
    expect(kinds(check(replace(c, 5, { ...at(c, 5), hash: new Uint8Array(32).fill(7) })))).toEqual([[5, 'edited']]);
    expect(kinds(check(replace(c, 5, { ...at(c, 5), prevHash: new Uint8Array(32).fill(7) })))).toEqual([[5, 'edited']]);
  });

  it('details that are not an object (JSON null, an array) are an edit, not a crash', () => {
    const c = chain(6);
    expect(kinds(check(replace(c, 3, { ...at(c, 3), details: null })))).toEqual([[3, 'edited']]);
    expect(kinds(check(replace(c, 3, { ...at(c, 3), details: ['x'] })))).toEqual([[3, 'edited']]);
  });

  it('a deleted middle entry: deleted, naming the missing seq', () => {
    const r = check(chain(10).filter((e) => e.seq !== 6));
    expect(kinds(r)).toEqual([[6, 'deleted']]);
    expect(r.problems[0]!.message).toBe('Entry 6 is missing: deleted from between entry 5 and entry 7.');
  });

  it('several deleted entries, and the first ones', () => {
    const r = check(chain(20).filter((e) => e.seq < 5 || e.seq > 9));
    expect(kinds(r)).toEqual([[5, 'deleted']]);
    expect(r.problems[0]!.message).toContain('Entries 5–9 (5) are missing');
    const first = check(chain(10).filter((e) => e.seq > 2));
    expect(kinds(first)).toEqual([[1, 'deleted']]);
    expect(first.problems[0]!.message).toBe('Entries 1–2 (2) are missing: the log starts at entry 3.');
  });

  it('a forged entry in a deleted one’s place, chained to its predecessor: inserted at that seq', () => {
    const c = chain(10);
    const forged = sealed(fields(6, { action: 'case.viewed', actorId: null }), at(c, 5).hash);
    const r = check(replace(c, 6, forged));
    expect(kinds(r)).toEqual([[6, 'inserted']]);
    expect(r.problems[0]!.message).toMatch(/^Entry 6 was replaced: entry 7 was chained to a different entry 6/);
  });

  it('an entry edited and re-hashed: the same (its successor no longer links to it)', () => {
    const c = chain(10);
    expect(kinds(check(replace(c, 3, sealed(fields(3, { action: 'staff.sign_in' }), at(c, 2).hash))))).toEqual([[3, 'inserted']]);
  });

  it('a forged entry chained to nothing: inserted at its seq', () => {
    const c = chain(10);
    const r = check(replace(c, 6, sealed(fields(6, { action: 'case.viewed' }), new Uint8Array(32).fill(1))));
    expect(kinds(r)).toEqual([[6, 'inserted']]);
    expect(r.problems[0]!.message).toBe('Entry 6 was inserted: it is chained to neither entry 5 before it nor entry 7 after it.');
  });

  it('a forged first entry, chained to the start or not; a log rebuilt on another start', () => {
    const c = chain(5);
    expect(kinds(check(replace(c, 1, sealed(fields(1, { action: 'keys.recovered' }), GENESIS_HASH))))).toEqual([[1, 'inserted']]);
    expect(kinds(check(replace(c, 1, sealed(fields(1), new Uint8Array(32).fill(9)))))).toEqual([[1, 'inserted']]);
    const rebuilt: StoredEntry[] = [];
    for (let seq = 1; seq <= 5; seq++) rebuilt.push(sealed(fields(seq), rebuilt.at(-1)?.hash ?? new Uint8Array(32).fill(9)));
    const r = check(rebuilt);
    expect(kinds(r)).toEqual([[1, 'edited']]);
    expect(r.problems[0]!.message).toMatch(/^Entry 1 is not chained to the start of the log/);
  });

  it('a forged last entry that is not chained to its predecessor: broken_link (cannot tell which)', () => {
    const c = chain(8);
    const r = check(replace(c, 8, sealed(fields(8, { action: 'stats.viewed' }), new Uint8Array(32).fill(3))));
    expect(kinds(r)).toEqual([[8, 'broken_link']]);
    expect(r.problems[0]!.message).toMatch(/^Entry 8 is not chained to entry 7\. It is the last entry/);
  });

  it('an entry inserted by renumbering every later entry up by one: one problem naming the new seq', () => {
    const c = chain(30);
    const forged = sealed(fields(11, { action: 'staff.sign_in' }), at(c, 10).hash);
    const shifted = [...c.slice(0, 10), forged, ...c.slice(10).map((e) => ({ ...e, seq: e.seq + 1 }))];
    const r = check(shifted);
    expect(kinds(r)).toEqual([[11, 'inserted']]);
    expect(r.problems[0]!.message).toBe(
      'Entry 11 was inserted: entries 12–31 were renumbered up by one to make room (their hashes match the seq below).',
    );
  });

  it('the same with the forged entry chained to nothing: still one problem', () => {
    const c = chain(12);
    const forged = sealed(fields(5), new Uint8Array(32).fill(4));
    expect(kinds(check([...c.slice(0, 4), forged, ...c.slice(4).map((e) => ({ ...e, seq: e.seq + 1 }))]))).toEqual([[5, 'inserted']]);
  });

  it('an entry deleted and every later entry renumbered down to close the gap', () => {
    const c = chain(20);
    const r = check([...c.slice(0, 6), ...c.slice(7).map((e) => ({ ...e, seq: e.seq - 1 }))]);
    expect(kinds(r)).toEqual([[7, 'deleted']]);
    expect(r.problems[0]!.message).toBe(
      'Entry 7 was deleted: entries 7–19 were renumbered down by one to close the gap (their hashes match the seq above).',
    );
  });

  it('an entry before entry 1 (seq 0): inserted', () => {
    const c = chain(4);
    const zero = sealed(fields(0), GENESIS_HASH);
    expect(kinds(check([zero, ...c]))).toEqual([[0, 'inserted']]);
  });

  it('several problems are all reported, in order', () => {
    let c = chain(40);
    c = replace(c, 5, { ...at(c, 5), action: 'case.assigned' });
    c = c.filter((e) => e.seq !== 20);
    c = replace(c, 30, sealed(fields(30, { action: 'case.viewed' }), new Uint8Array(32)));
    expect(kinds(check(c))).toEqual([
      [5, 'edited'],
      [20, 'deleted'],
      [30, 'inserted'],
    ]);
  });

  it('limitation: deleting the newest entries or re-hashing the tail passes without an anchor, fails with one', () => {
    const c = chain(10);
    const anchor = { seq: 10, hash: c[9]!.hash };
    const truncated = c.slice(0, 8);
    expect(check(truncated).ok).toBe(true);
    const r = check(truncated, [anchor]);
    expect(kinds(r)).toEqual([[10, 'deleted']]);
    expect(r.problems[0]!.message).toBe(
      'Entry 10 was recorded as existing, but the log now ends at entry 8: entries 9–10 and any after it were deleted.',
    );

    const rewritten = [...c.slice(0, 9), sealed(fields(10, { action: 'case.viewed', actorId: null }), c[8]!.hash)];
    expect(check(rewritten).ok).toBe(true);
    expect(kinds(check(rewritten, [anchor]))).toEqual([[10, 'edited']]);
    expect(check(c, [anchor, { seq: 3, hash: c[2]!.hash }]).ok).toBe(true);
    expect(check([], [anchor]).problems[0]!.message).toContain('but the log is now empty');
  });

  it('keeps at most MAX_PROBLEMS problems and counts the rest', () => {
    const c = chain(MAX_PROBLEMS + 200).map((e) => ({ ...e, action: 'settings.changed' }));
    const r = check(c);
    expect(r.ok).toBe(false);
    expect(r.problems).toHaveLength(MAX_PROBLEMS);
    expect(r.unreported).toBe(200);
  });
});

describe('canonicalAt', () => {
  it('gives back what audit() hashed for a millisecond UTC timestamp', () => {
    expect(canonicalAt('2026-11-24T09:00:00.123000 AD')).toBe('2026-11-24T09:00:00.123Z');
  });
  it('never matches a time audit() could not have written (sub-millisecond digits, BC, infinity)', () => {
    for (const t of ['2026-11-24T09:00:00.123456 AD', '2026-11-24T09:00:00.123000 BC', null]) {
      expect(canonicalAt(t)).not.toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  });
});
