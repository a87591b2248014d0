import type { Db } from '../db/index.js';
import { hex, verifyAuditChain, type AuditAnchor } from './verify.js';

/**
 * `harbour audit verify [--expect SEQ:HASH …]`: checks the chain, prints the
 * head for the operator to record outside this server, and every problem.
 * Exit code 0 when intact, 1 when anything is wrong.
 */
export async function runAuditVerify(db: Db, out: (line: string) => void, opts: { expect?: readonly string[] } = {}): Promise<number> {
  const anchors = (opts.expect ?? []).map(parseAuditAnchor);
  const result = await verifyAuditChain(db, { anchors });
  out(`Audit log: ${result.checked} ${result.checked === 1 ? 'entry' : 'entries'} checked.`);
  if (result.head) {
    out(`Head: seq ${result.head.seq}, hash ${hex(result.head.hash)}`);
    out('Record the head line somewhere off this server. Deleting the newest entries, or');
    out('rewriting every entry from some point on, leaves a chain that checks out; a later');
    out(`run with --expect ${result.head.seq}:${hex(result.head.hash)} detects both.`);
  } else {
    out('The audit log is empty.');
  }
  for (const anchor of anchors) out(`Expected: seq ${anchor.seq}, hash ${hex(anchor.hash)}`);
  if (result.ok) {
    out('OK: the chain is intact.');
    return 0;
  }
  const total = result.problems.length + result.unreported;
  out(`PROBLEMS: ${total} found. The audit log has been tampered with (or damaged).`);
  for (const p of result.problems) out(`  seq ${p.seq} [${p.kind}] ${p.message}`);
  if (result.unreported) out(`  … and ${result.unreported} more not listed.`);
  return 1;
}

/** "SEQ:HASH" (hash as 64 hex digits), as printed by a previous run. Throws an operator-readable Error. */
export function parseAuditAnchor(text: string): AuditAnchor {
  const m = /^\s*(\d{1,15}):([0-9a-fA-F]{64})\s*$/.exec(text);
  if (!m || Number(m[1]) < 1)
    throw new Error(`--expect takes SEQ:HASH as printed by "harbour audit verify" (e.g. 42:3f9a…, 64 hex digits), not "${text}".`);
  return { seq: Number(m[1]), hash: new Uint8Array(Buffer.from(m[2]!, 'hex')) };
}
