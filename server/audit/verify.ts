import type { Db } from '../db/index.js';
import { entryHash, GENESIS_HASH } from './log.js';
import { readChainBatch, type ChainRow } from './queries.js';

/**
 * Verifies the audit chain (`harbour audit verify`): every entry's hash must
 * match its own fields and the previous entry's hash, and seq must run 1, 2,
 * 3 … without gaps. What the chain alone can and cannot show:
 *
 * - An edited entry shows (its hash no longer matches its fields), and so
 *   does a deleted one in the middle (a gap in seq, and a broken link).
 * - An entry edited *and re-hashed*, or a forged entry put in a deleted
 *   one's place, shows as a broken link to its successor.
 * - Deleting the LAST entries, or rewriting every entry from some point to
 *   the end with fresh hashes, leaves a chain that verifies: nothing after
 *   them testifies to what was there. The hash is unkeyed, so anyone with
 *   write access to the database can recompute a tail. The mitigation is an
 *   anchor held outside the database: the command prints the head (seq and
 *   hash); an operator records it elsewhere (a ticket, a notebook, another
 *   organisation's inbox) and later passes it back (`--expect SEQ:HASH`), and
 *   the verifier then requires that entry to exist with exactly that hash.
 */
export type AuditProblemKind = 'edited' | 'inserted' | 'deleted' | 'broken_link';
export type AuditProblem = { seq: number; kind: AuditProblemKind; message: string };
/** A (seq, hash) pair recorded outside the database on an earlier run. */
export type AuditAnchor = { seq: number; hash: Uint8Array };

export type AuditVerifyResult = {
  ok: boolean;
  checked: number;
  /** The last entry seen: the value an operator records externally. */
  head: { seq: number; hash: Uint8Array } | null;
  problems: AuditProblem[];
  /** Problems found beyond MAX_PROBLEMS (counted, not kept: memory stays flat). */
  unreported: number;
};

/** One stored entry, fields as the verifier hashes them (see readChainBatch). */
export type StoredEntry = {
  seq: number;
  at: string;
  actorId: string | null;
  action: string;
  caseId: string | null;
  subjectUserId: string | null;
  details: unknown;
  prevHash: Uint8Array;
  hash: Uint8Array;
};

const BATCH = 1000;
export const MAX_PROBLEMS = 1000;

export async function verifyAuditChain(db: Db, opts: { anchors?: readonly AuditAnchor[] } = {}): Promise<AuditVerifyResult> {
  const checker = new ChainChecker(opts.anchors);
  // Keyset pages over the primary key: constant memory for any length. No
  // snapshot is needed: appends hold an advisory lock until they commit, so
  // entries become visible in seq order and a later page never uncovers an
  // earlier seq.
  let after: number | null = null;
  for (;;) {
    const rows = await readChainBatch(db, after, BATCH);
    for (const row of rows) checker.push(storedEntry(row));
    if (rows.length < BATCH) break;
    after = rows[rows.length - 1]!.seq;
  }
  return checker.finish();
}

function storedEntry(row: ChainRow): StoredEntry {
  return {
    seq: row.seq,
    at: canonicalAt(row.at_text),
    actorId: row.actor_id,
    action: row.action,
    caseId: row.case_id,
    subjectUserId: row.subject_user_id,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/**
 * audit() hashes `new Date().toISOString()`: millisecond precision, UTC. The
 * timestamp is read as text with microseconds and era rather than as a Date,
 * which would silently drop an edit to the sub-millisecond digits or the
 * era. Anything audit() could not have written is passed through unchanged
 * and so cannot match the hash.
 */
export function canonicalAt(text: string | null): string {
  const m = text ? /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})000 AD$/.exec(text) : null;
  return m ? `${m[1]}Z` : `not-an-audit-timestamp:${text ?? 'null'}`;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
export const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** The hash audit() would have stored for this entry under `seq`, or null if it could not have written it. */
function hashAs(e: StoredEntry, seq: number): Uint8Array | null {
  if (typeof e.details !== 'object' || e.details === null || Array.isArray(e.details)) return null;
  return entryHash(e.prevHash, {
    seq,
    at: e.at,
    actorId: e.actorId,
    action: e.action,
    caseId: e.caseId,
    subjectUserId: e.subjectUserId,
    details: e.details as Record<string, unknown>,
  });
}

const matchesAs = (e: StoredEntry, seq: number) => {
  const h = hashAs(e, seq);
  return h !== null && sameBytes(h, e.hash);
};

const entries = (from: number, to: number) => (from === to ? `entry ${from}` : `entries ${from}–${to}`);

/**
 * Walks entries in seq order and classifies what is wrong. Pure (no
 * database), so every tampering pattern is unit-tested on synthetic chains.
 * It holds only the previous entry, one undecided link break and one run of
 * renumbered entries, whatever the length of the log.
 */
export class ChainChecker {
  private checked = 0;
  private readonly problems: AuditProblem[] = [];
  private unreported = 0;
  private prev: { seq: number; hash: Uint8Array; explainsNextBreak: boolean } | null = null;
  /**
   * A self-consistent entry that is not chained to its predecessor. Whether
   * the predecessor was replaced or this entry was forged shows only in the
   * next entry's link, so it is judged one entry later.
   */
  private pendingBreak: number | null = null;
  /** Consecutive entries whose hashes match their seq ± 1: renumbered to hide an insertion or a deletion. */
  private run: { shift: 1 | -1; first: number; last: number; problem: AuditProblem | null } | null = null;
  private readonly anchors: Map<number, Uint8Array>;
  private readonly anchorsSeen = new Set<number>();

  constructor(anchors: readonly AuditAnchor[] = []) {
    this.anchors = new Map(anchors.map((a) => [a.seq, a.hash]));
  }

  push(e: StoredEntry): void {
    this.checked++;
    const prev = this.prev;
    const expectedSeq = prev && prev.seq >= 1 ? prev.seq + 1 : 1;
    const gap = e.seq > expectedSeq;
    const linked = sameBytes(e.prevHash, prev ? prev.hash : GENESIS_HASH);
    let explainsNextBreak = false;
    // A link already accounted for by a problem reported here (not reported twice).
    let breakExplained = gap || (prev?.explainsNextBreak ?? false);

    if (this.pendingBreak !== null) {
      const p = this.pendingBreak;
      this.pendingBreak = null;
      if (gap) {
        this.report(
          p,
          'broken_link',
          `Entry ${p} is not chained to entry ${p - 1}, and the entries after it are missing, so it cannot be told whether entry ${p - 1} was replaced or entry ${p} was forged.`,
        );
      } else if (linked) {
        // The successor confirms entry p; so the entry before it is not the one p was chained to.
        if (p === 1)
          this.report(
            1,
            'edited',
            'Entry 1 is not chained to the start of the log: the log was rebuilt from its first entry (its link changed and hashes recomputed).',
          );
        else
          this.report(
            p - 1,
            'inserted',
            `Entry ${p - 1} was replaced: entry ${p} was chained to a different entry ${p - 1}. A forged entry stands in its place (or it was edited and its hash recomputed).`,
          );
      } else {
        this.report(p, 'inserted', `Entry ${p} was inserted: it is chained to neither entry ${p - 1} before it nor entry ${p + 1} after it.`);
        breakExplained = true;
      }
    }

    if (e.seq < 1) {
      this.report(e.seq, 'inserted', `Entry ${e.seq} was inserted: the log starts at entry 1.`);
      explainsNextBreak = true;
      breakExplained = true;
    }
    if (gap) {
      const last = e.seq - 1;
      const count = last - expectedSeq + 1;
      this.report(
        expectedSeq,
        'deleted',
        prev
          ? `${count === 1 ? `Entry ${expectedSeq} is` : `Entries ${expectedSeq}–${last} (${count}) are`} missing: deleted from between entry ${prev.seq} and entry ${e.seq}.`
          : `${count === 1 ? 'Entry 1 is' : `Entries 1–${last} (${count}) are`} missing: the log starts at entry ${e.seq}.`,
      );
    }

    if (matchesAs(e, e.seq)) {
      this.endRun();
      if (!linked && !breakExplained) this.pendingBreak = e.seq;
    } else {
      explainsNextBreak = true;
      const shift = matchesAs(e, e.seq - 1) ? 1 : matchesAs(e, e.seq + 1) ? -1 : 0;
      if (shift === 0) {
        this.endRun();
        this.report(e.seq, 'edited', `Entry ${e.seq} does not match its hash: its content was changed after it was written.`);
      } else if (this.run && this.run.shift === shift && this.run.last === e.seq - 1) {
        this.run.last = e.seq;
      } else {
        this.endRun();
        // The first renumbered entry's broken link is the insertion or deletion itself.
        const problem = shift === 1 ? this.report(e.seq - 1, 'inserted', '') : this.report(e.seq, 'deleted', '');
        this.run = { shift, first: e.seq, last: e.seq, problem };
      }
    }

    const anchor = this.anchors.get(e.seq);
    if (anchor) {
      this.anchorsSeen.add(e.seq);
      if (!sameBytes(anchor, e.hash)) {
        this.report(
          e.seq,
          'edited',
          `Entry ${e.seq} does not have the hash recorded for it (${hex(anchor)}): the log was rewritten at or before entry ${e.seq}.`,
        );
      }
    }
    this.prev = { seq: e.seq, hash: e.hash, explainsNextBreak };
  }

  finish(): AuditVerifyResult {
    if (this.pendingBreak !== null) {
      const p = this.pendingBreak;
      this.pendingBreak = null;
      this.report(
        p,
        'broken_link',
        `Entry ${p} is not chained to entry ${p - 1}. It is the last entry, so it cannot be told whether entry ${p - 1} was replaced or entry ${p} was forged.`,
      );
    }
    this.endRun();
    const headSeq = this.prev?.seq ?? 0;
    for (const [seq] of [...this.anchors].sort(([a], [b]) => a - b)) {
      // An anchor inside a gap is already reported as deleted.
      if (!this.anchorsSeen.has(seq) && seq > headSeq) {
        const now = headSeq === 0 ? 'the log is now empty' : `the log now ends at entry ${headSeq}`;
        this.report(seq, 'deleted', `Entry ${seq} was recorded as existing, but ${now}: ${entries(headSeq + 1, seq)} and any after it were deleted.`);
      }
    }
    return {
      ok: this.problems.length === 0 && this.unreported === 0,
      checked: this.checked,
      head: this.prev ? { seq: this.prev.seq, hash: this.prev.hash } : null,
      problems: this.problems,
      unreported: this.unreported,
    };
  }

  private endRun(): void {
    const run = this.run;
    if (!run) return;
    this.run = null;
    if (!run.problem) return;
    const span = entries(run.first, run.last);
    run.problem.message =
      run.shift === 1
        ? `Entry ${run.first - 1} was inserted: ${span} ${run.first === run.last ? 'was' : 'were'} renumbered up by one to make room (their hashes match the seq below).`
        : `Entry ${run.first} was deleted: ${span} ${run.first === run.last ? 'was' : 'were'} renumbered down by one to close the gap (their hashes match the seq above).`;
  }

  /** Records a problem (one per seq and kind) and returns it; null once MAX_PROBLEMS are kept. */
  private report(seq: number, kind: AuditProblemKind, message: string): AuditProblem | null {
    const last = this.problems[this.problems.length - 1];
    if (last && last.seq === seq && last.kind === kind) {
      if (message) last.message = message;
      return last;
    }
    if (this.problems.length >= MAX_PROBLEMS) {
      this.unreported++;
      return null;
    }
    const problem = { seq, kind, message };
    this.problems.push(problem);
    return problem;
  }
}
