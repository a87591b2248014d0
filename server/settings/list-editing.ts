import { assertTransaction, type Db } from '../db/index.js';
import { LANGUAGES, staffTranslator } from '../i18n/index.js';
import { DEFAULT_LISTS, LIST_NAMES, type ListName } from './lists.js';
import * as q from './queries.js';

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
    else if (/\p{Cc}/u.test(value)) errors[code] = st('settings.errors.control_characters');
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
  const base =
    label
      .normalize('NFKD')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 40) || 'value';
  let code = base;
  for (let n = 2; taken.has(code); n++) code = `${base}_${n}`;
  return code;
}

/**
 * Adds a value to a list, before the catch-alls, inside the caller's
 * transaction (with the audit record that says so, or the rest of a seed);
 * the list stays locked until it ends. Throws a RangeError when the list is full.
 */
export async function addListItem(trx: Db, list: ListName, labels: LabelInput): Promise<string> {
  assertTransaction(trx);
  await q.lockList(trx, list);
  const items = await q.selectListPositions(trx, list);
  if (items.length >= MAX_ITEMS) throw new RangeError('list full');
  const code = codeFor(list, labels['en'] ?? '', new Set(items.map((i) => i.code)));
  const firstCatchAll = items.find((i) => CATCH_ALLS.has(i.code));
  const position = firstCatchAll ? firstCatchAll.position : (items.at(-1)?.position ?? -1) + 1;
  if (firstCatchAll) await q.shiftListItems(trx, list, position);
  await q.insertListItem(trx, { list, code, position, labels });
  return code;
}

export function findListItem(db: Db, list: ListName, code: string) {
  return q.findListItem(db, list, code);
}

/** Replaces the administrator's labels (an empty language falls back to the default label). */
export function relabelListItem(db: Db, list: ListName, code: string, labels: LabelInput): Promise<void> {
  return q.updateListItemLabels(db, list, code, labels);
}

export function setRetired(db: Db, list: ListName, code: string, retired: boolean): Promise<void> {
  return q.updateListItemRetired(db, list, code, retired);
}

/** How many submitted reports use each value (plaintext triage fields, for the administrator's list page). */
export async function usageCounts(db: Db, list: ListName): Promise<Map<string, number>> {
  const rows = list === 'label' ? await q.labelUsage(db) : await q.columnUsage(db, list === 'state' ? 'suspected_state' : list);
  return new Map(rows.map((r) => [r.code, Number(r.n)]));
}

export const isDefaultValue = (list: ListName, code: string) => DEFAULT_LISTS[list].includes(code);
