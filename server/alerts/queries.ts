import { sql, type RawBuilder } from 'kysely';
import type { Config } from '../config.js';
import { assertTransaction, type Db } from '../db/index.js';
import type { AlertKind } from '../db/schema.js';

/**
 * The SQL of e-mail alerts: who may receive them, the outbox rows written in
 * an event's transaction (one statement per event, whatever the number of
 * staff), the daily digest and overdue scans, and the worker's claim, mark
 * and retry. Every time is the database's clock (now()), never the process's.
 */

// ---------------------------------------------------------------- who receives alerts

/**
 * Recipients: active caseworkers whose access has been approved, i.e. who
 * hold a grant of the current team key (the newest one not retired; a
 * rotation grants it to every holder at once). The same rule as the case
 * pages' "approved" (staff/keys.ts, team/access.ts), written here because
 * alerts sit below them. Deactivated accounts, caseworkers still waiting for
 * approval and administrators who are not caseworkers get nothing.
 */
const RECIPIENTS = sql`(
  select u.id, u.alert_urgent, u.alert_others, u.alert_batch_minutes, u.last_signed_in_at
  from users u
  where u.status = 'active'
    and u.roles @> array['caseworker']::text[]
    and exists (
      select 1 from key_grants g
      where g.user_id = u.id
        and g.team_key_id = (select max(k.id) from team_keys k where k.retired_at is null)
    )
)`;

/** The event kinds that follow a person's "others" choice (at once, batched or digest only). */
export type OtherKind = 'new_report' | 'case_activity' | 'case_overdue';

/**
 * The kind of row a recipient `p` gets for an event, or null for none:
 * urgent at once if the event is urgent, urgent alerts are allowed and the
 * person wants them at once; otherwise the person's choice for the others
 * (now: the event's own kind; batched: their batch; digest: nothing now),
 * if the event's kind is allowed.
 */
function kindFor(base: OtherKind, urgentNow: boolean, baseAllowed: boolean): RawBuilder<AlertKind | null> {
  return sql<AlertKind | null>`case
    when ${urgentNow} and p.alert_urgent = 'now' then 'urgent_report'
    when not ${baseAllowed} then null
    when p.alert_others = 'now' then ${base}
    when p.alert_others = 'batched' then 'batch'
    else null
  end`;
}

/**
 * The INSERT for candidate rows `c` (id, kind, alert_batch_minutes,
 * last_signed_in_at). A batch is due once the person's last sent batch is
 * alert_batch_minutes old (now, if longer ago) and later events join the one
 * waiting (the unique index mail_outbox_one_waiting; DO NOTHING). Nobody gets
 * a new row of a kind while one of that kind was written since they last
 * signed in (never signed in: since ever), unless that one was given up (a
 * long outage must not silence someone until they happen to sign in). Two
 * events at once cannot both add one: at most one row per person and kind
 * waits or is being sent (the unique index mail_outbox_one_waiting).
 */
function insertCandidates(candidates: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`insert into mail_outbox (id, user_id, kind, due_at, first_due_at)
    select gen_random_uuid(), c.id, c.kind, d.due, d.due
    from ${candidates} c
    cross join lateral (select case when c.kind = 'batch' then greatest(now(), coalesce((
        select max(b.sent_at) from mail_outbox b where b.user_id = c.id and b.kind = 'batch' and b.state = 'sent'
      ), '-infinity'::timestamptz) + make_interval(mins => c.alert_batch_minutes)) else now() end as due) d
    where c.kind is not null
      and not exists (
        select 1 from mail_outbox o
        where o.user_id = c.id and o.kind = c.kind and o.state <> 'failed'
          and o.created_at > coalesce(c.last_signed_in_at, '-infinity'::timestamptz)
      )
    on conflict do nothing`;
}

export type EventRows = {
  base: OtherKind;
  /** The event is an urgent report and urgent alerts are allowed. */
  urgentNow: boolean;
  baseAllowed: boolean;
  /** Only the assignee of this report (nobody when it is unassigned), if they are a recipient; null: every recipient. */
  assigneeOf: string | null;
};

/** The outbox rows for one event, in the caller's transaction: one statement. Returns how many were written. */
export async function insertEventAlerts(trx: Db, e: EventRows): Promise<number> {
  assertTransaction(trx);
  const only = e.assigneeOf === null ? sql`true` : sql`p.id = (select r.assignee_id from reports r where r.id = ${e.assigneeOf})`;
  const candidates = sql`(
    select p.id, p.alert_batch_minutes, p.last_signed_in_at, ${kindFor(e.base, e.urgentNow, e.baseAllowed)} as kind
    from ${RECIPIENTS} p where ${only}
  )`;
  const res = await insertCandidates(candidates).execute(trx);
  return Number(res.numAffectedRows ?? 0);
}

/** The alert kinds setting as stored (validated by the caller), or undefined when the default applies. */
export async function selectAlertKindsSetting(db: Db): Promise<unknown> {
  return (await db.selectFrom('settings').select('value').where('key', '=', 'alert_kinds').executeTakeFirst())?.value;
}

// ---------------------------------------------------------------- the daily digest

/**
 * Claims today's digest (the UK date of the database clock, or of `at` in
 * tests) once the UK hour has reached `hour`: true for the one instance
 * whose INSERT wins, false for every other and on every later try that day.
 */
export async function claimDigestDay(trx: Db, hour: number, at: Date | null): Promise<boolean> {
  assertTransaction(trx);
  const now = at ? sql`${at.toISOString()}::timestamptz` : sql`now()`;
  const res = await sql<{ day: string }>`insert into mail_digests (day)
    select (${now} at time zone 'Europe/London')::date
    where extract(hour from ${now} at time zone 'Europe/London') >= ${hour}
    on conflict do nothing
    returning day`.execute(trx);
  return res.rows.length > 0;
}

/** One digest row for every recipient who takes the others in the digest (the same text every day, whatever happened). */
export async function insertDigestAlerts(trx: Db): Promise<number> {
  assertTransaction(trx);
  const candidates = sql`(
    select p.id, p.alert_batch_minutes, p.last_signed_in_at, 'digest'::text as kind
    from ${RECIPIENTS} p where p.alert_others = 'digest'
  )`;
  const res = await insertCandidates(candidates).execute(trx);
  return Number(res.numAffectedRows ?? 0);
}

// ---------------------------------------------------------------- overdue cases

type Targets = Config['targets'];

/**
 * A case is overdue, and since when it has waited. The same rule as the
 * queue's overdueExpr (cases/queue-queries.ts), which alerts cannot import
 * (cases sit above): tests/integration/alerts-overdue.test.ts holds the two
 * to the same answer on every kind of case. Overdue when not closed and
 *  - still new past the triage target (the urgent one for urgent cases): waiting since it arrived;
 *  - the reporter wrote after the last staff message and has waited past the reply target: since they wrote;
 *  - no staff message was ever sent and the case is older than the reply target: since it arrived.
 * Intervals in seconds, so a daylight-saving change shifts nothing (the queue counts milliseconds).
 */
export function overdueWait(targets: Targets, at: Date | null): { overdue: RawBuilder<boolean>; since: RawBuilder<Date> } {
  const now = at ? sql`${at.toISOString()}::timestamptz` : sql`now()`;
  const before = (seconds: number) => sql`(${now} - make_interval(secs => ${seconds}))`;
  const triage = sql`(r.status = 'new' and (r.created_at < ${before(targets.triageHours * 3600)}
    or (r.urgent and r.created_at < ${before(targets.urgentTriageHours * 3600)})))`;
  const reply = sql`(r.reporter_updated_at > coalesce(r.last_staff_message_at, '-infinity'::timestamptz)
    and r.reporter_updated_at < ${before(targets.replyDays * 86400)})`;
  const never = sql`(r.last_staff_message_at is null and r.created_at < ${before(targets.replyDays * 86400)})`;
  return {
    overdue: sql<boolean>`coalesce(r.status <> 'closed' and (${triage} or ${reply} or ${never}), false)`,
    since: sql<Date>`case when ${triage} then r.created_at when ${reply} then r.reporter_updated_at else r.created_at end`,
  };
}

/** Which submitted reports are overdue by overdueWait, at `at` (for the test that holds it to the queue's rule). */
export async function overdueReportIds(db: Db, targets: Targets, at: Date): Promise<string[]> {
  const { overdue } = overdueWait(targets, at);
  const rows = await db.selectFrom('reports as r').select('r.id').where('r.state', '=', 'submitted').where(overdue).orderBy('r.id').execute();
  return rows.map((r) => r.id);
}

/**
 * Every case overdue now and not yet alerted for this wait gets its
 * mail_overdue row (one instance wins each), and its alert: to the assignee,
 * or to every recipient when nobody (or nobody who can still act on it) is
 * assigned, with each person's timing for the others. One statement.
 */
export async function insertOverdueAlerts(trx: Db, targets: Targets, allowed: boolean, at: Date | null): Promise<{ cases: number; rows: number }> {
  assertTransaction(trx);
  const { overdue, since } = overdueWait(targets, at);
  const res = await sql<{ cases: number; rows: number }>`with
    due as (select r.id, r.assignee_id, ${since} as due_since from reports r where r.state = 'submitted' and ${overdue}),
    marked as (
      insert into mail_overdue (report_id, due_since) select id, due_since from due
      on conflict do nothing returning report_id
    ),
    recipients as ${RECIPIENTS},
    targets as (
      select distinct p.id, p.alert_urgent, p.alert_others, p.alert_batch_minutes, p.last_signed_in_at
      from marked m
      join due d on d.id = m.report_id
      join recipients p on p.id = d.assignee_id or d.assignee_id is null or d.assignee_id not in (select id from recipients)
    ),
    written as (
      ${insertCandidates(sql`(select p.id, p.alert_batch_minutes, p.last_signed_in_at, ${kindFor('case_overdue', false, allowed)} as kind from targets p)`)}
      returning id
    )
    select (select count(*) from marked)::int as cases, (select count(*) from written)::int as rows`.execute(trx);
  return res.rows[0] ?? { cases: 0, rows: 0 };
}

// ---------------------------------------------------------------- the worker

export type ClaimedRow = { id: string; user_id: string; kind: AlertKind; attempts: number };

/**
 * Claims up to `limit` rows that are due, or whose sender's lease ran out
 * (it crashed or stalled): one statement, so one short transaction; SKIP
 * LOCKED lets every instance claim at once without waiting on each other,
 * and each row goes to one of them.
 */
export async function claimDue(db: Db, claim: string, limit: number, leaseMs: number): Promise<ClaimedRow[]> {
  const res = await sql<ClaimedRow>`update mail_outbox
    set state = 'sending', claim = ${claim}, lease_until = now() + make_interval(secs => ${leaseMs / 1000}), attempts = attempts + 1
    where id in (
      select id from mail_outbox
      where (state = 'pending' and due_at <= now()) or (state = 'sending' and lease_until < now())
      order by due_at
      limit ${limit}
      for update skip locked
    )
    returning id, user_id, kind, attempts`.execute(db);
  return res.rows;
}

/** The claimed rows' recipients who may still receive alerts, with their address and key. */
export async function deliverableRecipients(db: Db, userIds: string[]) {
  if (userIds.length === 0) return [];
  return sql<{ id: string; email: string; alert_pgp_key: string | null }>`
    select u.id, u.email, u.alert_pgp_key from users u
    where u.id in (select id from ${RECIPIENTS} p) and u.id in (${sql.join(userIds)})`
    .execute(db)
    .then((r) => r.rows);
}

/**
 * Renews this worker's lease on one claimed row just before sending it, so
 * the lease only ever has to cover one send; false if the row is no longer
 * this worker's (its lease ran out while earlier rows were sent, and another
 * instance took it): then it is not sent here.
 */
export async function holdClaim(db: Db, id: string, claim: string, leaseMs: number): Promise<boolean> {
  const res = await db
    .updateTable('mail_outbox')
    .set({ lease_until: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})` })
    .where('id', '=', id)
    .where('claim', '=', claim)
    .where('state', '=', 'sending')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Claimed rows this worker did not try (it is stopping): waiting again at once, the attempt not counted. */
export async function releaseClaimed(db: Db, ids: string[], claim: string): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('mail_outbox')
    .set({ state: 'pending', claim: null, lease_until: null, attempts: sql<number>`greatest(attempts - 1, 0)` })
    .where('id', 'in', ids)
    .where('claim', '=', claim)
    .where('state', '=', 'sending')
    .execute();
}

/** Deletes a claimed row nobody can receive any more (deactivated, or no longer approved since it was written). */
export async function dropClaimed(db: Db, id: string, claim: string): Promise<void> {
  await db.deleteFrom('mail_outbox').where('id', '=', id).where('claim', '=', claim).execute();
}

/** Marks a row sent, if this worker still holds its claim; the row's kind and recipient, or null. */
export async function markSent(trx: Db, id: string, claim: string): Promise<{ user_id: string; kind: AlertKind } | null> {
  assertTransaction(trx);
  const row = await trx
    .updateTable('mail_outbox')
    .set({ state: 'sent', sent_at: sql<Date>`now()`, claim: null, lease_until: null, last_error: null })
    .where('id', '=', id)
    .where('claim', '=', claim)
    .where('state', '=', 'sending')
    .returning(['user_id', 'kind'])
    .executeTakeFirst();
  return row ?? null;
}

export type Backoff = { baseMs: number; maxMs: number; giveUpMs: number };

/**
 * Rows that failed (or were not tried after the connection failed) go back
 * to waiting, due again after base × 2^(attempts−1), at most max; a row
 * first due more than giveUp ago is given up ('failed') instead (first due,
 * not written: a batch can be written a day before it is due).
 */
export async function retryLater(trx: Db, ids: string[], claim: string, error: string, b: Backoff) {
  assertTransaction(trx);
  if (ids.length === 0) return [];
  const res = await sql<{ id: string; user_id: string; kind: AlertKind; state: 'pending' | 'failed' }>`update mail_outbox
    set state = case when first_due_at < now() - make_interval(secs => ${b.giveUpMs / 1000}) then 'failed' else 'pending' end,
      due_at = now() + make_interval(secs => least(${b.maxMs / 1000}::float8, ${b.baseMs / 1000}::float8 * power(2, greatest(attempts - 1, 0)))),
      claim = null, lease_until = null, last_error = ${error}
    where id in (${sql.join(ids)}) and claim = ${claim} and state = 'sending'
    returning id, user_id, kind, state`.execute(trx);
  return res.rows;
}

/** Sent and given-up rows older than `days`, but for the newest of each person's kinds (which the sign-in rule reads). */
export async function deleteOldAlerts(db: Db, days: number): Promise<number> {
  const res = await db
    .deleteFrom('mail_outbox')
    .where('state', 'in', ['sent', 'failed'])
    .where('created_at', '<', sql<Date>`now() - make_interval(days => ${days})`)
    // The newest of each person's kinds stays: the "not since you signed in" rule looks back that far, however long ago.
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('mail_outbox as newer')
          .select('newer.id')
          .whereRef('newer.user_id', '=', 'mail_outbox.user_id')
          .whereRef('newer.kind', '=', 'mail_outbox.kind')
          .whereRef('newer.created_at', '>', 'mail_outbox.created_at'),
      ),
    )
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}
