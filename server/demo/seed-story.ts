import { randomUUID } from 'node:crypto';
import type { AuditAction, AuditEntry, PastAuditEntry } from '../audit/log.js';
import { DESTINATIONS, type ReferralDetails } from '../cases/referral.js';
import { ukToday as today } from '../i18n/dates.js';
import { pick, weighted, type Generated, type Rand } from './seed.js';
import * as words from './seed-words.js';

/**
 * What happened to one demo case, told so that it agrees with the case's
 * own timestamps: staff messages exactly at first_response_at and
 * last_staff_message_at, the reporter's last message at reporter_updated_at,
 * the first status change at triaged_at, the closing at closed_at, a
 * referral on every referred case and every case closed as
 * 'referred_to_police', and the history (audit entries) the app would have
 * written for each step, in time order, by the fictional caseworkers. Pure:
 * no database, no encryption (seed-demo.ts does both).
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export type StoryMessage = { id: string; author: 'reporter' | 'staff'; author_id: string | null; body: string; created_at: Date };
export type StoryNote = { id: string; author_id: string; body: string; created_at: Date };
export type StoryReferral = {
  id: string;
  destination: string;
  referred_on: string;
  consent_override: boolean;
  details: ReferralDetails;
  created_by: string;
  created_at: Date;
};
export type Story = {
  caseId: string;
  messages: StoryMessage[];
  notes: StoryNote[];
  referrals: StoryReferral[];
  /** In time order; each entry as the app's own action would have audited it. */
  history: PastAuditEntry[];
  /** The last time a caseworker opened the case (its last case.viewed), or null if nobody has. */
  staffSeenAt: Date | null;
  /** The reporter's answer on consent to a police referral, as the story needs it. */
  consent: string;
};

type Step = { at: number; action: AuditAction; actorId: string; details: NonNullable<AuditEntry['details']> };

const ms = (d: Date | string | null | undefined): number | null => (d === null || d === undefined ? null : new Date(d).getTime());

/**
 * Tells the story of a generated live case. `team` holds the fictional
 * caseworkers' ids (at least one); `now` bounds every time.
 */
export function tellStory(r: Rand, g: Generated, team: readonly string[], now: number): Story {
  if (!team.length) throw new Error('tellStory: a story needs at least one caseworker');
  const row = g.row;
  const caseId = g.plain.id;
  const created = ms(row.created_at)!;
  const triaged = ms(row.triaged_at);
  const closed = ms(row.closed_at);
  const firstReply = ms(row.first_response_at);
  const lastReply = ms(row.last_staff_message_at);
  const reporterLast = ms(row.reporter_updated_at);
  const end = closed ?? now;
  /** A time in [a, b); b itself when the span is empty. Never after b, so never after now. */
  const between = (a: number, b: number) => (b <= a ? b : a + r() * (b - a));
  const handler = row.assignee_id ?? pick(r, team);
  const someone = () => (r() < 0.75 ? handler : pick(r, team));

  const steps: Step[] = [];
  const step = (at: number, action: AuditAction, actorId: string, details: Step['details']) => steps.push({ at, action, actorId, details });
  const messages: StoryMessage[] = [];
  const notes: StoryNote[] = [];
  const referrals: StoryReferral[] = [];
  const note = (at: number, author: string, body: string) => {
    const id = randomUUID();
    notes.push({ id, author_id: author, body, created_at: new Date(at) });
    step(at, 'case.note_added', author, { noteId: id });
    return id;
  };

  // The workflow, one move after another: times never go back (they collapse onto `now` for the newest cases).
  let status = 'new';
  let t = created;
  const move = (at: number, to: string, outcome: string | null = null) => {
    t = Math.max(t, at);
    step(t, 'case.status_changed', handler, { from: status, to, outcome });
    status = to;
  };
  const needsReferral = triaged !== null && (row.status === 'referred' || row.closing_outcome === 'referred_to_police');
  const referralAt = !needsReferral
    ? null
    : closed !== null
      ? triaged + (closed - triaged) * (0.2 + 0.6 * r())
      : triaged + (now - triaged) * (0.05 + 0.5 * r());
  if (triaged !== null) {
    const goesOn = row.status !== 'triaged';
    move(triaged, goesOn && r() < 0.2 ? 'in_progress' : 'triaged');
    if (status === 'triaged' && goesOn && (row.status === 'in_progress' || r() < 0.7))
      move(between(triaged + 10 * MINUTE, referralAt ?? end), 'in_progress');
  }

  // Internal notes over the life of the case (a referral may pass some of them on).
  if (triaged !== null) {
    const count = r() < 0.4 ? 1 : r() < 0.6 ? 2 : 3;
    for (let i = 0; i < count; i++) note(between(triaged, end), someone(), pick(r, words.NOTES));
  }

  let consent = g.plain.details.consent;
  if (needsReferral) {
    const at = Math.max(t, referralAt!);
    // Most referrals follow the reporter's consent; the rest record why consent was overridden.
    if (consent !== 'yes' && r() < 0.7) consent = 'yes';
    const override = consent !== 'yes';
    const earlier = notes.filter((n) => n.created_at.getTime() <= at && r() < 0.5).map((n) => n.id);
    const why = note(between(Math.max(triaged!, at - 2 * DAY), at), handler, pick(r, words.REFERRAL_NOTES));
    const id = randomUUID();
    const destination = g.row.categories.includes('digital') && r() < 0.4 ? 'action_fraud' : weighted(r, DESTINATIONS, DESTINATION_WEIGHTS);
    referrals.push({
      id,
      destination,
      referred_on: today(new Date(at)),
      consent_override: override,
      details: {
        crimeReference: crimeReference(r, at),
        overrideReason: override ? pick(r, words.OVERRIDE_REASONS) : null,
        noteIds: [...earlier, why],
      },
      created_by: handler,
      created_at: new Date(at),
    });
    step(at, 'case.referred', handler, { referralId: id, destination, consentOverride: override });
    if (status !== 'referred') move(at, 'referred');
  }
  if (closed !== null) {
    if (r() < 0.5) note(between(Math.max(t, closed - HOUR), closed), handler, pick(r, words.CLOSING_NOTES));
    move(closed, 'closed', row.closing_outcome ?? null);
  }

  if (row.assignee_id) {
    const at = triaged !== null ? between(triaged, Math.min(end, triaged + 6 * HOUR)) : between(created, now);
    step(at, 'case.assigned', r() < 0.5 ? handler : pick(r, team), { from: null, to: row.assignee_id });
  }
  if (row.labels?.length) {
    const at = triaged !== null ? between(triaged, Math.min(end, triaged + DAY)) : between(created, now);
    step(at, 'case.labels_changed', someone(), { count: row.labels.length });
  }

  // Staff messages: exactly at first_response_at and last_staff_message_at, sometimes one between.
  const referredAt = referrals[0]?.created_at.getTime() ?? Infinity;
  const staffText = (at: number) =>
    closed !== null && at >= closed - 2 * DAY
      ? pick(r, words.STAFF_CLOSING)
      : at > referredAt
        ? pick(r, words.STAFF_AFTER_REFERRAL)
        : pick(r, words.STAFF_FOLLOW_UP);
  const staffMessage = (at: number, body: string) => {
    const id = randomUUID();
    const author = someone();
    messages.push({ id, author: 'staff', author_id: author, body, created_at: new Date(at) });
    step(at, 'case.message_sent', author, { messageId: id });
  };
  if (firstReply !== null) {
    staffMessage(firstReply, pick(r, words.STAFF_FIRST));
    if (lastReply !== null && lastReply - firstReply > 5 * DAY && r() < 0.5)
      staffMessage(between(firstReply + HOUR, lastReply), staffText(lastReply - HOUR));
    if (lastReply !== null && lastReply > firstReply) staffMessage(lastReply, staffText(lastReply));
  }
  // The reporter's messages (never audited: reporters are anonymous), the last at reporter_updated_at.
  if (reporterLast !== null) {
    const times = reporterLast - created > DAY && r() < 0.35 ? [between(created + HOUR, reporterLast), reporterLast] : [reporterLast];
    for (const at of times) {
      const answered = firstReply !== null && firstReply < at;
      messages.push({
        id: randomUUID(),
        author: 'reporter',
        author_id: null,
        body: pick(r, answered ? words.REPORTER_REPLIES : words.REPORTER_ADDS),
        created_at: new Date(at),
      });
    }
  }
  messages.sort((a, b) => a.created_at.getTime() - b.created_at.getTime());

  const { history, staffSeenAt } = withVisits(r, steps, caseId, created, ms(row.staff_seen_at), now);
  return { caseId, messages, notes, referrals, history, staffSeenAt, consent };
}

const DESTINATION_WEIGHTS: Record<string, number> = { counter_terrorism_policing: 35, local_police: 50, action_fraud: 10, other: 5 };

/** A made-up crime reference in one of two common shapes, or none yet. */
function crimeReference(r: Rand, at: number): string | null {
  if (r() < 0.3) return null;
  const d = new Date(at);
  const month = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'][d.getUTCMonth()]!;
  return r() < 0.5
    ? `CAD ${1000 + Math.floor(r() * 9000)}/${String(d.getUTCDate()).padStart(2, '0')}${month}`
    : `${6_000_000 + Math.floor(r() * 999_999)}/${String(d.getUTCFullYear() % 100).padStart(2, '0')}`;
}

/**
 * Every action is taken from the case page, which records a case.viewed when
 * it opens (and sets staff_seen_at): one view before each visit (actions
 * less than an hour apart), and one after the last action, or at the case's
 * own staff_seen_at if that is later.
 */
function withVisits(r: Rand, steps: Step[], caseId: string, created: number, seen: number | null, now: number) {
  const sorted = steps
    .map((s, i) => ({ s, i }))
    .sort((a, b) => a.s.at - b.s.at || a.i - b.i)
    .map((x) => x.s);
  const history: PastAuditEntry[] = [];
  const viewed = (at: number, actorId: string) => history.push({ at: new Date(at), action: 'case.viewed', actorId, caseId });
  let last = -Infinity;
  for (const s of sorted) {
    if (s.at - last > HOUR) viewed(Math.max(created, last, s.at - (1 + r() * 9) * MINUTE), s.actorId);
    history.push({ at: new Date(s.at), action: s.action, actorId: s.actorId, caseId, details: s.details });
    last = s.at;
  }
  const lastStep = sorted[sorted.length - 1];
  if (!lastStep) return { history, staffSeenAt: null };
  const finalView = Math.min(now, Math.max(last + (1 + r() * 4) * MINUTE, seen ?? -Infinity));
  viewed(Math.max(last, finalView), lastStep.actorId);
  return { history, staffSeenAt: history[history.length - 1]!.at };
}
