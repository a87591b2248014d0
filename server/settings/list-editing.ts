import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import { LANGUAGES, staffTranslator } from '../i18n/index.js';
import { DEFAULT_LISTS, LIST_NAMES, type ListName } from './lists.js';

/**
 * Editing the configurable lists. Reports store a value's code, never its
 * label, and a value is retired rather than deleted, so renaming or retiring
 * never changes what an old report says or how it is counted.
 */

export const isListName = (v: string): v is ListName => (LIST_NAMES as readonly string[]).includes(v);

/** Catch-all values stay at the end of a list when a value is added. */
const CATCH_ALLS = new Set(['outside_uk', 'other', 'prefer_not_say', 'not_sure']);
const MAX_LABEL = 100;
const MAX_ITEMS = 200;

export type LabelInput = Record<string, string>;
export type LabelErrors = Record<string, string>;

/** Reads `label_<lang>` fields of the given languages (all by default); returns the non-empty labels and any errors, by language. */
export function parseLabels(
  body: Record<string, unknown>,
  opts: { englishRequired: boolean; languages?: readonly { code: string }[] },
): { labels: LabelInput; errors: LabelErrors } {
  const st = staffTranslator();
  const labels: LabelInput = {};
  const errors: LabelErrors = {};
  for (const { code } of opts.languages ?? LANGUAGES) {
    const raw = body[`label_${code}`];
    const value = typeof raw === 'string' ? raw.trim() : '';
    if (value.length > MAX_LABEL) errors[code] = st('settings.errors.too_long', { max: MAX_LABEL });
    else if (/[\u0000-\u001f\u007f]/.test(value)) errors[code] = st('settings.errors.control_characters');
    else if (value) labels[code] = value;
  }
  if (opts.englishRequired && !labels['en'] && !errors['en']) errors['en'] = st('settings.lists.errors.english_required');
  return { labels, errors };
}

/**
 * A stable code, unique in the list: from the English label (ASCII letters
 * and digits), except for case labels, whose codes are opaque (label_1,
 * label_2 …, as the migration that made the list numbered them). A case
 * label's code is stored on reports in plaintext: derived from a label that
 * turns out to name someone, it would keep the name after a rename.
 */
function codeFor(list: ListName, label: string, taken: Set<string>): string {
  if (list === 'label') {
    let n = taken.size + 1;
    while (taken.has(`label_${n}`)) n++;
    return `label_${n}`;
  }
  const base = label.normalize('NFKD').toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40) || 'value';
  let code = base;
  for (let n = 2; taken.has(code); n++) code = `${base}_${n}`;
  return code;
}

export async function addListItem(db: Db, list: ListName, labels: LabelInput): Promise<string> {
  // Inside the caller's transaction when given one (the demo seed), else its own.
  const run = async (trx: Db) => {
    // Serialise additions to one list across instances (codes and positions stay unique).
    await sql`select pg_advisory_xact_lock(hashtext(${'harbour.list.' + list}))`.execute(trx);
    const items = await trx.selectFrom('list_items').select(['code', 'position']).where('list', '=', list).orderBy('position').execute();
    if (items.length >= MAX_ITEMS) throw new RangeError('list full');
    const code = codeFor(list, labels['en'] ?? '', new Set(items.map((i) => i.code)));
    const firstCatchAll = items.find((i) => CATCH_ALLS.has(i.code));
    const position = firstCatchAll ? firstCatchAll.position : (items.at(-1)?.position ?? -1) + 1;
    if (firstCatchAll) {
      await trx.updateTable('list_items').set({ position: sql`position + 1` }).where('list', '=', list).where('position', '>=', position).execute();
    }
    await trx.insertInto('list_items').values({ list, code, position, labels: JSON.stringify(labels) }).execute();
    return code;
  };
  return db.isTransaction ? run(db) : db.transaction().execute(run);
}

export async function findListItem(db: Db, list: ListName, code: string) {
  return db.selectFrom('list_items').select(['code', 'labels', 'retired_at']).where('list', '=', list).where('code', '=', code).executeTakeFirst();
}

/** Replaces the administrator's labels (an empty language falls back to the default label). */
export async function relabelListItem(db: Db, list: ListName, code: string, labels: LabelInput): Promise<void> {
  await db.updateTable('list_items').set({ labels: JSON.stringify(labels) }).where('list', '=', list).where('code', '=', code).execute();
}

export async function setRetired(db: Db, list: ListName, code: string, retired: boolean): Promise<void> {
  await db
    .updateTable('list_items')
    .set({ retired_at: retired ? sql<Date>`coalesce(retired_at, now())` : null })
    .where('list', '=', list)
    .where('code', '=', code)
    .execute();
}

/** How many submitted reports use each value (plaintext triage fields, for the administrator's list page). */
export async function usageCounts(db: Db, list: ListName): Promise<Map<string, number>> {
  if (list === 'label') {
    // A case has several labels: one count per code, over the partial index reports_labels_list.
    const rows = await db
      .selectFrom(sql<{ code: string }>`(select unnest(labels) as code from reports where state = 'submitted' and labels <> '{}')`.as('l'))
      .select(['l.code', (eb) => eb.fn.countAll<string>().as('n')])
      .groupBy('l.code')
      .execute();
    return new Map(rows.map((r) => [r.code, Number(r.n)]));
  }
  const column = list === 'state' ? 'suspected_state' : list;
  const rows = await db
    .selectFrom('reports')
    .select([sql.ref<string>(column).as('code'), (eb) => eb.fn.countAll<string>().as('n')])
    .where('state', '=', 'submitted')
    .groupBy(column)
    .execute();
  return new Map(rows.map((r) => [r.code, Number(r.n)]));
}

export const isDefaultValue = (list: ListName, code: string) => DEFAULT_LISTS[list].includes(code);
