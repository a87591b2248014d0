import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { overdueReportIds } from '../../server/alerts/queries.js';
import { scheduleOverdue } from '../../server/alerts/schedule.js';
import { overdueExpr } from '../../server/cases/queue-queries.js';
import { drain, markSignedIn, outbox, setAlertChoices, testWorker } from '../helpers/alerts.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { insertReports } from '../helpers/reports.js';
import { parse, startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { addStaff } from '../helpers/staff.js';

/**
 * Overdue alerts (issue 11): the alerts' rule is the queue's (written twice,
 * as alerts sit below cases, and held to the same answer here), and each
 * wait is alerted once, to the assignee or, unassigned, to everyone.
 */

let smtp: TestSmtp;
let t: TestApp;

beforeAll(async () => {
  smtp = await startSmtp({ tls: 'starttls' });
  t = await createTestApp({ env: smtp.env() });
});
afterAll(async () => {
  await t.close();
  await smtp.close();
});
beforeEach(async () => {
  await t.testDb.db.updateTable('users').set({ status: 'deactivated' }).execute();
  await t.testDb.db.deleteFrom('reports').execute();
  await t.testDb.db.deleteFrom('mail_outbox').execute();
  smtp.received.length = 0;
});

const H = 3600_000;
const D = 24 * H;

type Shape = { status: string; urgent: boolean; createdAgo: number; reporterAgo: number | null; staffAgo: number | null };

async function insertShaped(now: Date, shapes: Shape[]): Promise<string[]> {
  const ids = await insertReports(t, shapes.length);
  for (const [i, s] of shapes.entries()) {
    const ago = (ms: number | null) => (ms === null ? null : new Date(now.getTime() - ms));
    await t.testDb.db
      .updateTable('reports')
      .set({
        status: s.status,
        urgent: s.urgent,
        created_at: ago(s.createdAgo)!,
        reporter_updated_at: ago(s.reporterAgo),
        last_staff_message_at: ago(s.staffAgo),
        closed_at: s.status === 'closed' ? now : null,
      })
      .where('id', '=', ids[i]!)
      .execute();
  }
  return ids;
}

describe('the overdue rule', () => {
  it('is the queue’s, on every kind of case and at the edges of each target', async () => {
    const now = new Date('2026-10-25T12:00:00Z'); // the day the clocks go back in the UK: intervals must not shift
    const shapes: Shape[] = [];
    for (const status of ['new', 'triaged', 'in_progress', 'closed'])
      for (const urgent of [false, true])
        for (const createdAgo of [H, 12 * H - 1000, 12 * H + 1000, 48 * H - 1000, 48 * H + 1000, 7 * D - 1000, 7 * D + 1000, 30 * D])
          for (const reporterAgo of [null, H, 7 * D + 1000])
            for (const staffAgo of [null, 2 * H, 9 * D]) shapes.push({ status, urgent, createdAgo, reporterAgo, staffAgo });
    await insertShaped(now, shapes);
    for (const targets of [
      { triageHours: 48, urgentTriageHours: 12, replyDays: 7 },
      { triageHours: 24, urgentTriageHours: 2, replyDays: 3 },
    ]) {
      const queue = await t.testDb.db
        .selectFrom('reports as r')
        .select('r.id')
        .where('r.state', '=', 'submitted')
        .where(overdueExpr(targets, now))
        .orderBy('r.id')
        .execute();
      const alerts = await overdueReportIds(t.testDb.db, targets, now);
      expect(alerts.length).toBeGreaterThan(50); // the grid holds overdue cases…
      expect(alerts.length).toBeLessThan(shapes.length - 50); // …and others
      expect(alerts).toEqual(queue.map((r) => r.id));
    }
  });
});

describe('overdue alerts', () => {
  it('alert once per wait: the assignee, or everyone when nobody (able to act) is assigned; a new wait alerts again', async () => {
    const a = await addStaff(t, { roles: ['caseworker'] });
    const b = await addStaff(t, { roles: ['caseworker'] });
    const digestOnly = await addStaff(t, { roles: ['caseworker'] });
    const gone = await addStaff(t, { roles: ['caseworker'] });
    await setAlertChoices(t, a.id, { others: 'now' });
    await setAlertChoices(t, b.id, { others: 'now' });
    const now = new Date(Date.now());
    const [assigned] = await insertShaped(now, [{ status: 'new', urgent: true, createdAgo: 13 * H, reporterAgo: null, staffAgo: null }]);
    await t.testDb.db.updateTable('reports').set({ assignee_id: a.id }).where('id', '=', assigned!).execute();
    await insertShaped(now, [{ status: 'triaged', urgent: false, createdAgo: 2 * H, reporterAgo: null, staffAgo: H }]); // not overdue

    expect(await scheduleOverdue(t.testDb.db, t.config, now)).toEqual({ cases: 1, rows: 1 });
    expect((await outbox(t)).map((r) => [r.user_id, r.kind])).toEqual([[a.id, 'case_overdue']]);
    expect(await scheduleOverdue(t.testDb.db, t.config, now)).toEqual({ cases: 0, rows: 0 });

    // Unassigned, and assigned to someone deactivated: everyone who takes the others at once.
    await drain(testWorker(t));
    await markSignedIn(t, a.id);
    const [unassigned, orphan] = await insertShaped(now, [
      { status: 'new', urgent: false, createdAgo: 49 * H, reporterAgo: null, staffAgo: null },
      { status: 'triaged', urgent: false, createdAgo: 9 * D, reporterAgo: 8 * D, staffAgo: 10 * D },
    ]);
    await t.testDb.db.updateTable('users').set({ status: 'deactivated' }).where('id', '=', gone.id).execute();
    await t.testDb.db.updateTable('reports').set({ assignee_id: gone.id }).where('id', '=', orphan!).execute();
    expect(await scheduleOverdue(t.testDb.db, t.config, now)).toEqual({ cases: 2, rows: 2 });
    const rows = (await outbox(t)).filter((r) => r.state === 'pending');
    expect(rows.map((r) => r.user_id).sort()).toEqual([a.id, b.id].sort());
    expect(rows.some((r) => r.user_id === digestOnly.id)).toBe(false);
    const waits = await t.testDb.db.selectFrom('mail_overdue').select(['report_id', 'due_since']).execute();
    expect(waits.map((w) => w.report_id).sort()).toEqual([assigned, unassigned, orphan].sort());

    // A new wait on the assigned case: the reporter wrote after a staff reply, and has waited past the reply target.
    await drain(testWorker(t));
    await markSignedIn(t, a.id);
    await t.testDb.db
      .updateTable('reports')
      .set({ status: 'in_progress', last_staff_message_at: new Date(now.getTime() - 10 * D), reporter_updated_at: new Date(now.getTime() - 8 * D) })
      .where('id', '=', assigned!)
      .execute();
    expect(await scheduleOverdue(t.testDb.db, t.config, now)).toEqual({ cases: 1, rows: 1 });
    await drain(testWorker(t));
    const subjects = await Promise.all(smtp.received.map(async (m) => [m.to[0], (await parse(m)).subject]));
    expect(subjects.filter(([to]) => to === a.email)).toEqual([
      [a.email, 'A case is overdue (Test Community Aid)'],
      [a.email, 'A case is overdue (Test Community Aid)'],
      [a.email, 'A case is overdue (Test Community Aid)'],
    ]);
    expect(subjects.filter(([to]) => to === b.email)).toHaveLength(1);
  });

  it('a forbidden case_overdue is not sent, and the wait still counts as alerted', async () => {
    const a = await addStaff(t, { roles: ['caseworker'] });
    await setAlertChoices(t, a.id, { others: 'now' });
    await t.testDb.db
      .insertInto('settings')
      .values({ key: 'alert_kinds', value: JSON.stringify(['urgent_report']) })
      .execute();
    try {
      const now = new Date();
      await insertShaped(now, [{ status: 'new', urgent: false, createdAgo: 49 * H, reporterAgo: null, staffAgo: null }]);
      expect(await scheduleOverdue(t.testDb.db, t.config, now)).toEqual({ cases: 1, rows: 0 });
      await t.testDb.db.deleteFrom('settings').where('key', '=', 'alert_kinds').execute();
      expect(await scheduleOverdue(t.testDb.db, t.config, now)).toEqual({ cases: 0, rows: 0 });
    } finally {
      await t.testDb.db.deleteFrom('settings').where('key', '=', 'alert_kinds').execute();
    }
  });
});
