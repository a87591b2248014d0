import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { alertStatus } from '../../server/alerts/status.js';
import { scheduleDigest } from '../../server/alerts/schedule.js';
import { readAlertKey } from '../../server/crypto/index.js';
import { saveSettings } from '../../server/settings/settings.js';
import { drain, markSignedIn, outbox, setAlertChoices, testWorker } from '../helpers/alerts.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { decryptWith, newPgpKey } from '../helpers/pgp.js';
import { VALID_REPORT, csrfFrom, fileReport, postReport } from '../helpers/reporter.js';
import { parse, startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { addStaff } from '../helpers/staff.js';

/**
 * E-mail alerts end to end (issue 11): reports filed through the real form,
 * rows written in its transaction, sent by the worker to a real SMTP server
 * (STARTTLS with a test certificate), parsed as a mail client would. Who
 * gets what, when, and that no message says anything about a report.
 */

let smtp: TestSmtp;
let t: TestApp;
const ORG = 'Test Community Aid';

beforeAll(async () => {
  smtp = await startSmtp({ tls: 'starttls' });
  t = await createTestApp({ env: smtp.env() });
});
afterAll(async () => {
  await t.close();
  await smtp.close();
});

// Each test starts with no staff who can receive alerts, an empty outbox and mailbox.
beforeEach(async () => {
  await t.testDb.db.updateTable('users').set({ status: 'deactivated' }).execute();
  await t.testDb.db.deleteFrom('mail_outbox').execute();
  await t.testDb.db.deleteFrom('mail_digests').execute();
  await t.testDb.db.deleteFrom('settings').where('key', '=', 'alert_kinds').execute();
  smtp.received.length = 0;
  smtp.refuseWith = null;
});

const urgentReport = { ...VALID_REPORT, danger_now: 'yes' };

async function mailsTo() {
  const byAddress = new Map<string, string[]>();
  for (const m of smtp.received) {
    const parsed = await parse(m);
    for (const to of m.to) byAddress.set(to, [...(byAddress.get(to) ?? []), parsed.subject ?? '']);
  }
  return byAddress;
}

async function allowKinds(kinds: string[]) {
  const res = await t.testDb.db.transaction().execute((trx) => saveSettings(trx, t.config, { alert_kinds: kinds }));
  expect(res.errors).toEqual({});
}

describe('who gets which alert', () => {
  it('an urgent report goes at once to every approved caseworker, and to nobody else', async () => {
    const a = await addStaff(t, { roles: ['caseworker'] });
    const b = await addStaff(t, { roles: ['caseworker', 'admin'] });
    const waiting = await addStaff(t, { roles: ['caseworker'], approved: false });
    const gone = await addStaff(t, { roles: ['caseworker'] });
    await t.testDb.db.updateTable('users').set({ status: 'deactivated' }).where('id', '=', gone.id).execute();
    const adminOnly = await addStaff(t, { roles: ['admin'] });

    await fileReport(t.app, urgentReport);
    const rows = await outbox(t);
    expect(rows.map((r) => [r.user_id, r.kind, r.state]).sort()).toEqual(
      [
        [a.id, 'urgent_report', 'pending'],
        [b.id, 'urgent_report', 'pending'],
      ].sort(),
    );
    // Due at once, by the database clock.
    for (const r of rows) expect(r.due_at.getTime()).toBeLessThanOrEqual(Date.now() + 1000);

    expect(await drain(testWorker(t))).toBe(2);
    const mails = await mailsTo();
    expect([...mails.keys()].sort()).toEqual([a.email, b.email].sort());
    expect(mails.get(a.email)).toEqual([`Urgent report for ${ORG}`]);
    for (const nobody of [waiting, gone, adminOnly]) expect(mails.has(nobody.email)).toBe(false);

    // Sent rows, and the audit log says kind and recipient, nothing more.
    expect((await outbox(t)).every((r) => r.state === 'sent' && r.sent_at !== null && r.claim === null)).toBe(true);
    const entries = await t.testDb.db.selectFrom('audit_log').selectAll().where('action', '=', 'alert.sent').execute();
    const mine = entries.filter((e) => [a.id, b.id].includes(e.subject_user_id!));
    expect(mine).toHaveLength(2);
    for (const e of mine) {
      expect(e.details).toEqual({ kind: 'urgent_report' });
      expect(e.case_id).toBeNull();
      expect(e.actor_id).toBeNull();
    }
  });

  it('other reports follow each person’s choice: at once, batched, or only in the digest', async () => {
    const now = await addStaff(t, { roles: ['caseworker'] });
    const batched = await addStaff(t, { roles: ['caseworker'] });
    const digest = await addStaff(t, { roles: ['caseworker'] });
    const urgentWithOthers = await addStaff(t, { roles: ['caseworker'] });
    await setAlertChoices(t, now.id, { others: 'now' });
    await setAlertChoices(t, batched.id, { others: 'batched' });
    await setAlertChoices(t, urgentWithOthers.id, { urgent: 'with_others', others: 'now' });

    await fileReport(t.app);
    const kinds = new Map((await outbox(t)).map((r) => [r.user_id, r.kind]));
    expect(kinds.get(now.id)).toBe('new_report');
    expect(kinds.get(batched.id)).toBe('batch');
    expect(kinds.get(urgentWithOthers.id)).toBe('new_report');
    expect(kinds.has(digest.id)).toBe(false);

    // An urgent report: at once to those who want urgent at once (the digest person included), as a new report otherwise.
    await t.testDb.db.deleteFrom('mail_outbox').execute();
    await fileReport(t.app, urgentReport);
    const urgent = new Map((await outbox(t)).map((r) => [r.user_id, r.kind]));
    expect(urgent.get(now.id)).toBe('urgent_report');
    expect(urgent.get(digest.id)).toBe('urgent_report');
    expect(urgent.get(urgentWithOthers.id)).toBe('new_report');
    expect(urgent.get(batched.id)).toBe('urgent_report');
  });

  it('batched: several events make one mail, and the next batch waits until alert_batch_minutes after the last', async () => {
    const p = await addStaff(t, { roles: ['caseworker'] });
    await setAlertChoices(t, p.id, { others: 'batched', batchMinutes: 30 });
    await fileReport(t.app);
    await fileReport(t.app);
    await fileReport(t.app);
    const rows = await outbox(t);
    expect(rows.map((r) => r.kind)).toEqual(['batch']);
    const worker = testWorker(t);
    expect(await drain(worker)).toBe(1);
    expect(smtp.received).toHaveLength(1);
    expect((await parse(smtp.received[0]!)).subject).toBe(`News in Harbour for ${ORG}`);

    // Signed in since; the next event starts a new batch, due 30 minutes after the last one went.
    await markSignedIn(t, p.id);
    await fileReport(t.app);
    const [sent, next] = await outbox(t);
    expect(next!.kind).toBe('batch');
    expect(next!.due_at.getTime() - sent!.sent_at!.getTime()).toBeGreaterThanOrEqual(30 * 60_000 - 1000);
    expect(next!.due_at.getTime() - sent!.sent_at!.getTime()).toBeLessThanOrEqual(30 * 60_000 + 1000);
    expect(await drain(worker)).toBe(0);
    expect(smtp.received).toHaveLength(1);
  });

  it('a reporter’s message or file on an assigned case alerts the assignee only; on an unassigned case, nobody', async () => {
    const assignee = await addStaff(t, { roles: ['caseworker'] });
    const other = await addStaff(t, { roles: ['caseworker'] });
    await setAlertChoices(t, assignee.id, { others: 'now' });
    await setAlertChoices(t, other.id, { others: 'now' });
    const { agent, receipt } = await fileReport(t.app);
    const confirm = await csrfFrom(agent, '/en/report/receipt');
    expect((await agent.post('/en/report/receipt').type('form').send({ _csrf: confirm, receipt })).status).toBe(303);
    const reportId = (await t.testDb.db.selectFrom('reports').select('id').orderBy('created_at', 'desc').executeTakeFirstOrThrow()).id;
    await t.testDb.db.deleteFrom('mail_outbox').execute();

    // Unassigned: the queue is everyone's; nobody is mailed.
    let token = await csrfFrom(agent, '/en/status');
    expect((await agent.post('/en/status/messages').type('form').send({ _csrf: token, message: 'Any news?' })).status).toBe(303);
    expect(await outbox(t)).toEqual([]);

    await t.testDb.db.updateTable('reports').set({ assignee_id: assignee.id }).where('id', '=', reportId).execute();
    token = await csrfFrom(agent, '/en/status');
    expect((await agent.post('/en/status/messages').type('form').send({ _csrf: token, message: 'Hello again' })).status).toBe(303);
    expect((await outbox(t)).map((r) => [r.user_id, r.kind])).toEqual([[assignee.id, 'case_activity']]);

    // A file from the status page, once the first alert has gone and the assignee has signed in since
    // (one alert of a kind until then; and while one waits unsent, it stands for the next events too).
    expect(await drain(testWorker(t))).toBe(1);
    await markSignedIn(t, assignee.id);
    token = await csrfFrom(agent, '/en/status');
    const upload = await agent.post('/en/status/evidence').field('_csrf', token).attach('evidence', Buffer.from('more\n'), 'note.txt');
    expect(upload.status).toBe(303);
    const rows = await outbox(t);
    expect(rows.map((r) => [r.user_id, r.kind])).toEqual([
      [assignee.id, 'case_activity'],
      [assignee.id, 'case_activity'],
    ]);
    expect(await drain(testWorker(t))).toBe(1);
    const mails = await mailsTo();
    expect(mails.get(assignee.email)).toEqual([`News on a case assigned to you (${ORG})`, `News on a case assigned to you (${ORG})`]);
    expect(mails.has(other.email)).toBe(false);
  });

  it('files kept from an upload refused part-way (its last file empty) still alert the assignee', async () => {
    const assignee = await addStaff(t, { roles: ['caseworker'] });
    await setAlertChoices(t, assignee.id, { others: 'now' });
    const { agent, receipt } = await fileReport(t.app);
    const confirm = await csrfFrom(agent, '/en/report/receipt');
    expect((await agent.post('/en/report/receipt').type('form').send({ _csrf: confirm, receipt })).status).toBe(303);
    const reportId = (await t.testDb.db.selectFrom('reports').select('id').orderBy('created_at', 'desc').executeTakeFirstOrThrow()).id;
    await t.testDb.db.updateTable('reports').set({ assignee_id: assignee.id }).where('id', '=', reportId).execute();
    await t.testDb.db.deleteFrom('mail_outbox').execute();
    const before = await t.testDb.db.selectFrom('evidence').select('id').where('report_id', '=', reportId).execute();

    const token = await csrfFrom(agent, '/en/status');
    const res = await agent
      .post('/en/status/evidence')
      .field('_csrf', token)
      .attach('evidence', Buffer.from('kept\n'), 'kept.txt')
      .attach('evidence', Buffer.alloc(0), 'empty.txt');
    expect(res.status).toBe(422);
    const after = await t.testDb.db.selectFrom('evidence').select('id').where('report_id', '=', reportId).execute();
    expect(after.length).toBeGreaterThan(before.length); // some files were kept
    expect((await outbox(t)).map((r) => [r.user_id, r.kind])).toEqual([[assignee.id, 'case_activity']]);
  });

  it('housekeeping deletes old sent alerts but keeps each person’s newest of a kind, which the sign-in rule reads', async () => {
    const p = await addStaff(t, { roles: ['caseworker'] });
    await fileReport(t.app, urgentReport);
    await drain(testWorker(t));
    const old = new Date(Date.now() - 40 * 86400_000);
    await t.testDb.db.updateTable('mail_outbox').set({ created_at: old }).execute();
    const { deleteOldAlerts } = await import('../../server/alerts/queries.js');
    await deleteOldAlerts(t.testDb.db, 30);
    expect((await outbox(t)).map((r) => [r.user_id, r.kind])).toEqual([[p.id, 'urgent_report']]); // kept: the newest
    await fileReport(t.app, urgentReport); // still not signed in since: no new alert
    expect(await outbox(t)).toHaveLength(1);
    await markSignedIn(t, p.id);
    await fileReport(t.app, urgentReport);
    await drain(testWorker(t));
    await deleteOldAlerts(t.testDb.db, 30);
    expect(await outbox(t)).toHaveLength(1); // the older of the two went
  });

  it('not signed in since the last alert: no second alert of that kind until they sign in', async () => {
    const p = await addStaff(t, { roles: ['caseworker'] });
    await setAlertChoices(t, p.id, { others: 'now' });
    await fileReport(t.app, urgentReport);
    await fileReport(t.app, urgentReport);
    await fileReport(t.app);
    await fileReport(t.app);
    expect((await outbox(t)).map((r) => r.kind)).toEqual(['urgent_report', 'new_report']);
    await drain(testWorker(t));
    await fileReport(t.app, urgentReport);
    expect(await outbox(t)).toHaveLength(2);
    await markSignedIn(t, p.id);
    await fileReport(t.app, urgentReport);
    expect((await outbox(t)).map((r) => r.kind)).toEqual(['urgent_report', 'new_report', 'urgent_report']);
  });

  it('the administrator’s allowed kinds: a forbidden kind is not sent; a forbidden urgent alert follows the person’s other choice', async () => {
    const p = await addStaff(t, { roles: ['caseworker'] });
    const q = await addStaff(t, { roles: ['caseworker'] });
    await setAlertChoices(t, p.id, { others: 'now' });
    await allowKinds(['new_report', 'case_activity', 'case_overdue', 'digest']);
    await fileReport(t.app, urgentReport);
    expect((await outbox(t)).map((r) => [r.user_id, r.kind])).toEqual([[p.id, 'new_report']]);

    await t.testDb.db.deleteFrom('mail_outbox').execute();
    await allowKinds(['urgent_report', 'case_activity']);
    await fileReport(t.app);
    expect(await outbox(t)).toEqual([]);
    await fileReport(t.app, urgentReport);
    expect((await outbox(t)).map((r) => r.user_id).sort()).toEqual([p.id, q.id].sort());
    expect(await scheduleDigest(t.testDb.db, t.config, new Date('2026-06-01T09:00:00Z'))).toBe(0);
  });
});

describe('the daily digest', () => {
  it('goes out at the hour on a day with no reports, once, with the same words every day', async () => {
    const p = await addStaff(t, { roles: ['caseworker'] });
    const atOnce = await addStaff(t, { roles: ['caseworker'] });
    await setAlertChoices(t, atOnce.id, { others: 'now' });
    await t.testDb.db.deleteFrom('reports').execute(); // a day with no reports at all
    // 07:59 in London (BST: UTC+1) is before the default hour (8); 08:00 is it.
    expect(await scheduleDigest(t.testDb.db, t.config, new Date('2026-07-14T06:59:00Z'))).toBeNull();
    expect(await scheduleDigest(t.testDb.db, t.config, new Date('2026-07-14T07:00:00Z'))).toBe(1);
    expect(await scheduleDigest(t.testDb.db, t.config, new Date('2026-07-14T19:00:00Z'))).toBeNull();
    // A second instance asking the same day gets nothing either.
    expect(await scheduleDigest(t.testDb.db, t.config, new Date('2026-07-14T22:59:00Z'))).toBeNull();
    expect((await outbox(t)).map((r) => [r.user_id, r.kind])).toEqual([[p.id, 'digest']]);
    const worker = testWorker(t);
    await drain(worker);

    // The next day, after a report, and signed in since: the same message again.
    await fileReport(t.app, urgentReport);
    await markSignedIn(t, p.id);
    expect(await scheduleDigest(t.testDb.db, t.config, new Date('2026-07-15T07:30:00Z'))).toBe(1);
    await drain(worker);
    const digests = [];
    for (const m of smtp.received.filter((m) => m.to.includes(p.email))) {
      const parsed = await parse(m);
      if (parsed.subject?.includes('daily')) digests.push(parsed);
    }
    expect(digests).toHaveLength(2);
    expect(digests[0]!.subject).toBe(`Harbour daily message for ${ORG}`);
    expect(digests[1]!.subject).toBe(digests[0]!.subject);
    expect(digests[1]!.text).toBe(digests[0]!.text);
    expect(digests[0]!.text).toContain(`${t.config.publicUrl.origin}/staff/sign-in`);
  });

  it('a person who has not signed in since the last digest gets no second one', async () => {
    const p = await addStaff(t, { roles: ['caseworker'] });
    expect(await scheduleDigest(t.testDb.db, t.config, new Date('2026-01-10T08:00:00Z'))).toBe(1);
    await drain(testWorker(t)); // sent, and not read: the next days' digests are held back
    expect(await scheduleDigest(t.testDb.db, t.config, new Date('2026-01-11T08:00:00Z'))).toBe(0);
    await markSignedIn(t, p.id);
    expect(await scheduleDigest(t.testDb.db, t.config, new Date('2026-01-12T08:00:00Z'))).toBe(1);
  });
});

describe('what a message says', () => {
  it('a canary typed by the reporter into every field, message and file name appears in no message, headers included', async () => {
    const tag = randomBytes(5).toString('hex');
    const C = {
      narrative: `NarrativeCanary${tag}`,
      stateReason: `ReasonCanary${tag}`,
      link: `https://example.org/LinkCanary${tag}`,
      contact: `contactcanary${tag}@example.org`,
      fileName: `FileNameCanary${tag}.txt`,
      fileContent: `FileContentCanary${tag}`,
      message: `MessageCanary${tag}`,
      laterFile: `LaterFileCanary${tag}.txt`,
    };
    const assignee = await addStaff(t, { roles: ['caseworker'] });
    const batched = await addStaff(t, { roles: ['caseworker'] });
    const digest = await addStaff(t, { roles: ['caseworker'] });
    await setAlertChoices(t, assignee.id, { others: 'now' });
    await setAlertChoices(t, batched.id, { others: 'batched' });

    const agent = request.agent(t.app);
    const token = await csrfFrom(agent, '/en/report');
    const fields = {
      ...urgentReport,
      narrative: `It happened again. ${C.narrative}`,
      state_reason: C.stateReason,
      links: C.link,
      follow_up: 'contact',
      contact_method: 'email',
      contact_value: C.contact,
      contact_language: 'bo',
    };
    const res = await postReport(agent, token, fields, [{ name: C.fileName, content: Buffer.from(`${C.fileContent}\n`) }]);
    expect(res.status).toBe(303);
    // The same again, not urgent (for the batched person's batch), from another visitor.
    const second = request.agent(t.app);
    const { danger_now: _urgent, ...notUrgent } = fields;
    const again = await postReport(second, await csrfFrom(second, '/en/report'), notUrgent, [{ name: C.fileName, content: Buffer.from('x\n') }]);
    expect(again.status).toBe(303);
    const page = await agent.get('/en/report/receipt');
    const receipt = /class="receipt"[^>]*>([\d ]+)</.exec(page.text)![1]!.replace(/ /g, '');
    const confirm = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    await agent.post('/en/report/receipt').type('form').send({ _csrf: confirm, receipt });
    const report = await t.testDb.db
      .selectFrom('reports')
      .selectAll()
      .where('urgent', '=', true)
      .orderBy('created_at', 'desc')
      .executeTakeFirstOrThrow();
    await t.testDb.db.updateTable('reports').set({ assignee_id: assignee.id }).where('id', '=', report.id).execute();
    const statusToken = await csrfFrom(agent, '/en/status');
    await agent.post('/en/status/messages').type('form').send({ _csrf: statusToken, message: C.message });
    await markSignedIn(t, assignee.id);
    await agent.post('/en/status/evidence').field('_csrf', statusToken).attach('evidence', Buffer.from('more\n'), C.laterFile);
    await scheduleDigest(t.testDb.db, t.config, new Date('2026-03-03T12:00:00Z'));

    await drain(testWorker(t));
    const kinds = new Set((await outbox(t)).filter((r) => r.state === 'sent').map((r) => r.kind));
    expect([...kinds].sort()).toEqual(['batch', 'case_activity', 'digest', 'new_report', 'urgent_report']);
    expect(smtp.received.length).toBeGreaterThanOrEqual(6);

    // Nothing the reporter typed, and nothing about the report: not its categories, community,
    // region, state, id (whole or short), language, or anything a staff member could tell it apart by.
    const forbidden = [
      ...Object.values(C),
      report.id,
      report.id.slice(0, 8),
      ...report.categories,
      report.community,
      report.region,
      report.suspected_state,
      'Tibetan',
      'danger_now',
    ];
    for (const m of smtp.received) {
      const parsed = await parse(m);
      const everything = [m.raw.toString('latin1'), parsed.subject ?? '', parsed.text ?? '', ...[...parsed.headers.values()].map(String)].join('\n');
      for (const word of forbidden) expect(everything.toLowerCase().includes(word.toLowerCase()), `${word} in a message`).toBe(false);
      // The positive control: what a message does say.
      expect(parsed.text).toContain(ORG);
      expect(parsed.text).toContain(`${t.config.publicUrl.origin}/staff/sign-in`);
    }
    void digest;
  });

  it('headers: From, To, a fixed Subject, a Message-ID made from the row, and nothing that names the software', async () => {
    const p = await addStaff(t, { roles: ['caseworker'] });
    await fileReport(t.app, urgentReport);
    const [row] = await outbox(t);
    await drain(testWorker(t));
    const [mail] = smtp.received;
    expect(mail!.to).toEqual([p.email]);
    expect(mail!.from).toBe('alerts@harbour.test');
    const parsed = await parse(mail!);
    expect(parsed.messageId).toBe(`<${row!.id}@harbour.test>`);
    expect(parsed.from?.value).toEqual([{ name: 'Harbour alerts', address: 'alerts@harbour.test' }]);
    expect((parsed.to as { text: string }).text).toBe(p.email);
    expect([...parsed.headers.keys()].sort()).toEqual([
      'content-transfer-encoding',
      'content-type',
      'date',
      'from',
      'message-id',
      'mime-version',
      'subject',
      'to',
    ]);
    expect(mail!.raw.toString('latin1')).not.toMatch(/nodemailer|x-mailer|user-agent/i);
  });

  it('encrypted to the staff member’s OpenPGP key: PGP/MIME that their private key opens and no other key does', async () => {
    const key = await newPgpKey();
    const other = await newPgpKey();
    const read = await readAlertKey(key.publicKey);
    if ('problem' in read) throw new Error(read.problem);
    const p = await addStaff(t, { roles: ['caseworker'] });
    await setAlertChoices(t, p.id, { pgpKey: read.armored, fingerprint: read.fingerprint });
    await fileReport(t.app, urgentReport);
    await drain(testWorker(t));
    const [mail] = smtp.received;
    const raw = mail!.raw.toString('utf8');
    expect(raw).toMatch(/Content-Type: multipart\/encrypted;\s+protocol="application\/pgp-encrypted"/);
    expect(raw).not.toContain('Sign in to Harbour');
    const parsed = await parse(mail!);
    expect(parsed.subject).toBe(`Urgent report for ${ORG}`);
    const version = parsed.attachments.find((a) => a.contentType === 'application/pgp-encrypted');
    expect(version?.content.toString()).toMatch(/^Version: 1/);
    const armored = /-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/.exec(raw)![0];

    const inner = await parse(await decryptWith(key.privateKey, armored));
    expect(inner.text).toContain('A report marked urgent has arrived');
    expect(inner.text).toContain(`${t.config.publicUrl.origin}/staff/sign-in`);
    await expect(decryptWith(other.privateKey, armored)).rejects.toThrow();
  });

  it('an alert that cannot be encrypted to the person’s key is not sent at all, and says why', async () => {
    const p = await addStaff(t, { roles: ['caseworker'] });
    await setAlertChoices(t, p.id, { pgpKey: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n-----END PGP PUBLIC KEY BLOCK-----' });
    await fileReport(t.app, urgentReport);
    const r = await testWorker(t).tick();
    expect(r).toMatchObject({ claimed: 1, sent: 0, failed: 1, error: 'encryption' });
    expect(smtp.received).toEqual([]);
    expect((await outbox(t))[0]).toMatchObject({ state: 'pending', last_error: 'encryption' });
    expect((await alertStatus(t.testDb.db, t.config)).lastFailure).toEqual({ error: 'encryption', gaveUp: false });
    expect(t.logs.join('')).toContain('e-mail alert not delivered (encryption)');
    expect(t.logs.join('')).not.toContain(p.email);
  });
});

describe('without SMTP_URL', () => {
  it('nothing is written and alerts are off', async () => {
    const off = await createTestApp();
    try {
      expect(off.config.mail).toBeNull();
      await addStaff(off, { roles: ['caseworker'] });
      await fileReport(off.app, urgentReport);
      expect(await outbox(off)).toEqual([]);
      expect(await alertStatus(off.testDb.db, off.config)).toMatchObject({ enabled: false, waiting: 0, lastFailure: null });
    } finally {
      await off.close();
    }
  });
});
