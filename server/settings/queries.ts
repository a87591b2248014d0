import { sql } from 'kysely';
import type { Db } from '../db/index.js';

/** The settings table and the configurable lists (list_items), and the counts of their use on reports. */

export function selectSettingRows(db: Db) {
  return db.selectFrom('settings').select(['key', 'value']).execute();
}

/** The organisation name given at set-up: the default of the orgName setting. */
export async function setupOrgName(db: Db): Promise<string | null> {
  return (await db.selectFrom('installation').select('org_name').executeTakeFirst())?.org_name ?? null;
}

export async function upsertSetting(db: Db, key: string, value: unknown): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key, value: JSON.stringify(value) })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(value), updated_at: new Date() }))
    .execute();
}

export async function insertListItemsIfMissing(db: Db, rows: { list: string; code: string; position: number; labels: string }[]): Promise<void> {
  await db
    .insertInto('list_items')
    .values(rows)
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export function selectAllListItems(db: Db) {
  return db.selectFrom('list_items').select(['list', 'code', 'labels', 'retired_at']).orderBy('list').orderBy('position').execute();
}

/** Serialises additions to one list across instances, until the transaction ends (codes and positions stay unique). */
export async function lockList(trx: Db, list: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${'harbour.list.' + list}))`.execute(trx);
}

export function selectListPositions(db: Db, list: string) {
  return db.selectFrom('list_items').select(['code', 'position']).where('list', '=', list).orderBy('position').execute();
}

/** Moves every item at or after `position` one place down, to make room. */
export async function shiftListItems(db: Db, list: string, position: number): Promise<void> {
  await db
    .updateTable('list_items')
    .set({ position: sql`position + 1` })
    .where('list', '=', list)
    .where('position', '>=', position)
    .execute();
}

export async function insertListItem(db: Db, row: { list: string; code: string; position: number; labels: Record<string, string> }): Promise<void> {
  await db
    .insertInto('list_items')
    .values({ ...row, labels: JSON.stringify(row.labels) })
    .execute();
}

export function findListItem(db: Db, list: string, code: string) {
  return db.selectFrom('list_items').select(['code', 'labels', 'retired_at']).where('list', '=', list).where('code', '=', code).executeTakeFirst();
}

export async function updateListItemLabels(db: Db, list: string, code: string, labels: Record<string, string>): Promise<void> {
  await db
    .updateTable('list_items')
    .set({ labels: JSON.stringify(labels) })
    .where('list', '=', list)
    .where('code', '=', code)
    .execute();
}

/** Retiring keeps the first retirement's time; restoring clears it. */
export async function updateListItemRetired(db: Db, list: string, code: string, retired: boolean): Promise<void> {
  await db
    .updateTable('list_items')
    .set({ retired_at: retired ? sql<Date>`coalesce(retired_at, now())` : null })
    .where('list', '=', list)
    .where('code', '=', code)
    .execute();
}

/** Submitted reports per case label: a case has several, one count per code, over the partial index reports_labels_list. */
export async function labelUsage(db: Db): Promise<{ code: string; n: string }[]> {
  return db
    .selectFrom(sql<{ code: string }>`(select unnest(labels) as code from reports where state = 'submitted' and labels <> '{}')`.as('l'))
    .select(['l.code', (eb) => eb.fn.countAll<string>().as('n')])
    .groupBy('l.code')
    .execute();
}

/** Submitted reports per value of a plaintext triage column. */
export async function columnUsage(db: Db, column: 'region' | 'community' | 'suspected_state'): Promise<{ code: string; n: string }[]> {
  return db
    .selectFrom('reports')
    .select([sql.ref<string>(column).as('code'), (eb) => eb.fn.countAll<string>().as('n')])
    .where('state', '=', 'submitted')
    .groupBy(column)
    .execute();
}
