import { describe, expect, it } from 'vitest';
import { ukToday as today } from '../../../server/i18n/dates.js';
import { generate, mulberry32 } from '../../../server/demo/seed.js';
import { tellStory, type Story } from '../../../server/demo/seed-story.js';
import { NEXT_STATUSES } from '../../../server/cases/vocabulary.js';

/**
 * A demo case's story must agree with its own row, step by step, as the app
 * would have produced both: checked on thousands of generated cases, which
 * reach every status, the newest cases (times collapsing onto now) and the
 * oldest.
 */
const NOW = Date.parse('2026-11-20T12:00:00Z');
const START = NOW - 730 * 86_400_000;
const TEAM = ['11111111-0000-4000-8000-000000000001', '11111111-0000-4000-8000-000000000002', '11111111-0000-4000-8000-000000000003'];
const t = (d: Date | string | null | undefined) => (d === null || d === undefined ? null : new Date(d).getTime());

function cases(n: number, seed: number) {
  const r = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => {
    const g = generate(r, i, 1, START, NOW, TEAM);
    return { g, story: tellStory(r, g, TEAM, NOW) };
  });
}
const sample = [...cases(3000, 7), ...cases(500, 8)];
// The newest cases, where every time is squeezed into the last hours.
const newest = (() => {
  const r = mulberry32(9);
  return Array.from({ length: 500 }, (_, i) => {
    const g = generate(r, i, 1, NOW - 3 * 3_600_000, NOW, TEAM);
    return { g, story: tellStory(r, g, TEAM, NOW) };
  });
})();
const all = [...sample, ...newest];

const entries = (s: Story, action: string) => s.history.filter((h) => h.action === action);

describe('demo case stories', () => {
  it('reach every status and outcome, with referrals, messages and notes', () => {
    const statuses = new Set(all.map((c) => c.g.row.status));
    expect([...statuses].sort()).toEqual(['closed', 'in_progress', 'new', 'referred', 'triaged']);
    expect(all.some((c) => c.g.row.closing_outcome === 'referred_to_police' && c.story.referrals.length === 1)).toBe(true);
    expect(all.filter((c) => c.story.messages.some((m) => m.author === 'reporter')).length).toBeGreaterThan(100);
    expect(all.filter((c) => c.story.notes.length > 0).length).toBeGreaterThan(1000);
  });

  it('history is in time order, within the case’s life, by the fictional caseworkers, about this case only', () => {
    const wrong: string[] = [];
    for (const { g, story } of all) {
      const times = story.history.map((h) => h.at.getTime());
      if (times.some((x, i) => i > 0 && x < times[i - 1]!)) wrong.push(`${g.plain.id}: out of order`);
      for (const h of story.history) {
        if (h.at.getTime() < t(g.row.created_at)! || h.at.getTime() > NOW) wrong.push(`${g.plain.id}: ${h.action} outside the case's life`);
        if (!TEAM.includes(h.actorId!) || h.caseId !== g.plain.id) wrong.push(`${g.plain.id}: ${h.action} actor or case`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the status changes replay the workflow from new to the case’s status, at triaged_at and closed_at', () => {
    for (const { g, story } of all) {
      let status = 'new';
      const moves = entries(story, 'case.status_changed');
      for (const [i, m] of moves.entries()) {
        const d = m.details as { from: string; to: string; outcome: string | null };
        expect(d.from).toBe(status);
        if (d.to === 'referred') {
          // Reached only by recording a referral, which is audited first (recordReferral).
          const before = story.history[story.history.indexOf(m) - 1]!;
          expect(before.action).toBe('case.referred');
        } else {
          expect(NEXT_STATUSES[status]).toContain(d.to);
        }
        expect(d.outcome).toBe(d.to === 'closed' ? g.row.closing_outcome : null);
        if (i === 0) expect(m.at.getTime()).toBe(t(g.row.triaged_at));
        if (d.to === 'closed') expect(m.at.getTime()).toBe(t(g.row.closed_at));
        status = d.to;
      }
      expect(status).toBe(g.row.status);
      if (g.row.triaged_at === null || g.row.triaged_at === undefined) expect(moves).toHaveLength(0);
    }
  });

  it('messages sit exactly at first_response_at, last_staff_message_at and reporter_updated_at, each staff one audited', () => {
    for (const { g, story } of all) {
      const staff = story.messages.filter((m) => m.author === 'staff').map((m) => m.created_at.getTime());
      const reporter = story.messages.filter((m) => m.author === 'reporter').map((m) => m.created_at.getTime());
      expect(staff.length ? Math.min(...staff) : null).toBe(t(g.row.first_response_at));
      expect(staff.length ? Math.max(...staff) : null).toBe(t(g.row.last_staff_message_at));
      expect(reporter.length ? Math.max(...reporter) : null).toBe(t(g.row.reporter_updated_at));
      expect(story.messages.filter((m) => m.author === 'reporter').every((m) => m.author_id === null)).toBe(true);
      const sent = entries(story, 'case.message_sent');
      expect(sent.map((e) => (e.details as { messageId: string }).messageId).sort()).toEqual(
        story.messages
          .filter((m) => m.author === 'staff')
          .map((m) => m.id)
          .sort(),
      );
      for (const e of sent) {
        const m = story.messages.find((x) => x.id === (e.details as { messageId: string }).messageId)!;
        expect(e.at.getTime()).toBe(m.created_at.getTime());
        expect(e.actorId).toBe(m.author_id);
      }
      const noted = entries(story, 'case.note_added').map((e) => (e.details as { noteId: string }).noteId);
      expect(noted.sort()).toEqual(story.notes.map((n) => n.id).sort());
    }
  });

  it('every referred case, and every case closed as referred to police, has one referral, recorded as the app records it', () => {
    for (const { g, story } of all) {
      const expected = g.row.status === 'referred' || g.row.closing_outcome === 'referred_to_police';
      expect(story.referrals).toHaveLength(expected ? 1 : 0);
      const f = story.referrals[0];
      if (!f) continue;
      const at = f.created_at.getTime();
      expect(at).toBeGreaterThanOrEqual(t(g.row.triaged_at)!);
      expect(at).toBeLessThanOrEqual(t(g.row.closed_at) ?? NOW);
      expect(f.referred_on).toBe(today(f.created_at));
      expect(f.consent_override).toBe(story.consent !== 'yes');
      expect(f.details.overrideReason !== null).toBe(f.consent_override);
      const noteTimes = new Map(story.notes.map((n) => [n.id, n.created_at.getTime()]));
      expect(f.details.noteIds.length).toBeGreaterThan(0);
      for (const id of f.details.noteIds) expect(noteTimes.get(id)).toBeLessThanOrEqual(at);
      const [audited] = entries(story, 'case.referred');
      expect(audited!.details).toEqual({ referralId: f.id, destination: f.destination, consentOverride: f.consent_override });
    }
  });

  it('staff_seen_at is the last case.viewed, after every action; assignment and labels are audited', () => {
    for (const { g, story } of all) {
      const viewed = entries(story, 'case.viewed');
      if (!story.history.length) {
        expect(story.staffSeenAt).toBeNull();
        continue;
      }
      expect(story.history[story.history.length - 1]!.action).toBe('case.viewed');
      expect(story.staffSeenAt).toEqual(viewed[viewed.length - 1]!.at);
      expect(story.history[0]!.action).toBe('case.viewed'); // a caseworker opens the case before acting on it
      const assigned = entries(story, 'case.assigned');
      expect(assigned.map((a) => a.details)).toEqual(g.row.assignee_id ? [{ from: null, to: g.row.assignee_id }] : []);
      expect(entries(story, 'case.labels_changed').map((a) => a.details)).toEqual(g.row.labels?.length ? [{ count: g.row.labels.length }] : []);
    }
  });
});
