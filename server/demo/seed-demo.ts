import { auditPast, type PastAuditEntry } from '../audit/log.js';
import { readySodium } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import type { TeamPublicKey } from '../setup/service.js';
import { archiveFactsForStatistics, type ArchivedFacts } from '../stats/archive-queries.js';
import * as q from './queries.js';
import { generate, insertReports, seedBatchSize, seedCaseworkers, seedLabelCodes, type Generated, type Rand } from './seed.js';
import { encryptAndInsert, encryptionThreads, type SealedFields, type SeedBatch } from './seed-encryption.js';
import { tellStory, type Story } from './seed-story.js';

/**
 * `harbour seed --demo`: an installation that looks like two years of real
 * use and that retention leaves alone.
 *
 * Cases are generated over two years as seedCases makes them. A closed case
 * whose retention period has already run out would have been deleted by now,
 * so it is not stored: it exists the way it would in a real installation, as
 * its row in the statistics archive and a retention.purged entry in the audit
 * log. A closed case that would fall due within the margin has its closing
 * moved later, so the first housekeeping runs delete nothing. Every case that
 * is stored gets its story (seed-story.ts): messages, internal notes, referral
 * records and history, all encrypted under the case's data key exactly as the
 * app encrypts them, and history appended to the audit chain as audit() would.
 *
 * Everything happens in one transaction: a failure leaves nothing behind,
 * and a second seed at the same moment waits, then finds the installation
 * no longer fresh.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Nothing seeded falls due for deletion within this many days (or half the retention period, if shorter). */
export const DEMO_MARGIN_DAYS = 30;
const PURGE_EVERY = 5 * MINUTE; // as housekeeping runs in the app
/** Arbitrary constant identifying the demo seed's advisory lock. */
const SEED_LOCK = 7_406_921_117;

export type DemoOptions = {
  /** Live cases to create (older, already deleted ones come on top, in the archive). */
  count: number;
  teamKey: TeamPublicKey;
  /** The retention period in force (loadSettings(…).closedRetentionDays). */
  closedRetentionDays: number;
  caseworkers?: number;
  now?: Date;
  random?: Rand;
  batchSize?: number;
  workers?: number;
};

export type DemoSummary = {
  live: number;
  archived: number;
  caseworkers: number;
  messages: number;
  notes: number;
  referrals: number;
  historyEntries: number;
  marginDays: number;
};

/** The installation already holds real data; nothing was written. */
export class SeedRefused extends Error {
  override name = 'SeedRefused';
}

export async function seedDemo(db: Db, opts: DemoOptions): Promise<DemoSummary> {
  if (!Number.isInteger(opts.count) || opts.count < 1) throw new Error('seedDemo: count must be a whole number of at least 1');
  if (!Number.isInteger(opts.closedRetentionDays) || opts.closedRetentionDays < 1)
    throw new Error('seedDemo: closedRetentionDays must be a whole number of days');
  await readySodium();
  const r = opts.random ?? Math.random;
  const now = (opts.now ?? new Date()).getTime();
  const start = now - 730 * DAY;
  const retention = opts.closedRetentionDays * DAY;
  const marginDays = Math.min(DEMO_MARGIN_DAYS, opts.closedRetentionDays / 2);
  const margin = marginDays * DAY;
  const batchSize = seedBatchSize(opts.batchSize);

  return db.transaction().execute(async (trx) => {
    await q.lockSeed(trx, SEED_LOCK);
    await refuseUnlessFresh(trx);
    const teamSince = new Date(start - 14 * DAY);
    const team = await seedCaseworkers(trx, opts.caseworkers ?? 3, r, teamSince);
    const history: PastAuditEntry[] = team.map((id) => ({
      at: teamSince,
      action: 'staff.created',
      subjectUserId: id,
      details: { roles: 'caseworker', via: 'seed' },
    }));
    const archived: ArchivedFacts[] = [];
    const purgedAt: number[] = [];
    const summary: DemoSummary = {
      live: 0,
      archived: 0,
      caseworkers: team.length,
      messages: 0,
      notes: 0,
      referrals: 0,
      historyEntries: 0,
      marginDays,
    };

    type Live = { g: Generated; story: Story };
    function* batches(): Generator<SeedBatch<Live[]>> {
      for (let n = 0; summary.live < opts.count;) {
        const batch: Live[] = [];
        while (batch.length < batchSize && summary.live < opts.count) {
          const g = generate(r, n++, opts.teamKey.id, start, now, team);
          const closed = g.row.closed_at ? new Date(g.row.closed_at).getTime() : null;
          if (closed !== null && closed + retention <= now) {
            archived.push(factsOf(g));
            purgedAt.push(closed + retention);
            continue;
          }
          // Due within the margin: closed a little later instead, so the first runs delete nothing.
          if (closed !== null && closed + retention < now + margin) g.row.closed_at = new Date(closed + margin);
          const story = tellStory(r, g, team, now);
          g.plain.details = { ...g.plain.details, consent: story.consent };
          g.row.staff_seen_at = story.staffSeenAt;
          g.plain.extras = {
            messages: story.messages.map(({ id, body }) => ({ id, body })),
            notes: story.notes.map(({ id, body }) => ({ id, body })),
            referrals: story.referrals.map(({ id, details }) => ({ id, details })),
          };
          history.push(...story.history);
          batch.push({ g, story });
          summary.live++;
        }
        yield { plains: batch.map((b) => b.g.plain), rest: batch };
      }
    }
    const labelCodes = await seedLabelCodes(trx);
    await encryptAndInsert(batches(), opts.teamKey.publicKey, encryptionThreads(opts.count, opts.workers), async (b, enc) => {
      await insertReports(
        trx,
        b.rest.map((x) => x.g),
        enc,
        labelCodes,
      );
      const counts = await insertStories(
        trx,
        b.rest.map((x) => x.story),
        enc,
      );
      summary.messages += counts.messages;
      summary.notes += counts.notes;
      summary.referrals += counts.referrals;
    });

    await archiveFactsForStatistics(trx, archived);
    summary.archived = archived.length;
    history.push(...purgeEntries(purgedAt, now));
    // One chain in time order (a stable sort keeps each case's own order for equal times).
    history.sort((a, b) => a.at.getTime() - b.at.getTime());
    await auditPast(trx, history);
    summary.historyEntries = history.length;
    await q.analyzeReports(trx);
    return summary;
  });
}

async function refuseUnlessFresh(db: Db): Promise<void> {
  if ((await q.countReports(db)) > 0) throw new SeedRefused('This installation already has reports: demo data goes only into a fresh one.');
  // Reports all deleted by retention still count: fictional figures must never mix with published ones.
  if (await q.hasArchivedStatistics(db))
    throw new SeedRefused('This installation already has statistics of deleted reports: demo data goes only into a fresh one.');
}

/** What archiveForStatistics would have kept of the case when retention deleted it. */
function factsOf(g: Generated): ArchivedFacts {
  const row = g.row;
  return {
    submitted_at: new Date(row.submitted_at!),
    categories: row.categories,
    community: row.community,
    region: row.region,
    suspected_state: row.suspected_state,
    urgent: row.urgent,
    status: row.status!,
    closing_outcome: row.closing_outcome ?? null,
    // Closed as referred to police: the story of such a case always has a referral record.
    referred: row.closing_outcome === 'referred_to_police',
    first_response_at: row.first_response_at ? new Date(row.first_response_at) : null,
  };
}

/** The retention.purged entries housekeeping would have written: one per five-minute run that deleted something. */
function purgeEntries(dueAt: number[], now: number): PastAuditEntry[] {
  const runs = new Map<number, number>();
  for (const due of dueAt) {
    const run = Math.min(now, Math.ceil(due / PURGE_EVERY) * PURGE_EVERY);
    runs.set(run, (runs.get(run) ?? 0) + 1);
  }
  return [...runs].map(([at, deleted]) => ({ at: new Date(at), action: 'retention.purged', details: { deleted } }));
}

async function insertStories(db: Db, stories: Story[], enc: SealedFields[]) {
  const sealed = (i: number) => enc[i]!.extras!;
  const messages = stories.flatMap((s, i) => s.messages.map((m, j) => ({ ...m, report_id: s.caseId, body: sealed(i).messages[j]! })));
  const notes = stories.flatMap((s, i) => s.notes.map((n, j) => ({ ...n, report_id: s.caseId, body: sealed(i).notes[j]! })));
  const referrals = stories.flatMap((s, i) => s.referrals.map((f, j) => ({ ...f, report_id: s.caseId, details: sealed(i).referrals[j]! })));
  await q.insertStoryRows(db, { messages, notes, referrals });
  return { messages: messages.length, notes: notes.length, referrals: referrals.length };
}
