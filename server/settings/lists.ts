import type { TFunction } from 'i18next';
import { assertTransaction, type Db } from '../db/index.js';
import * as q from './queries.js';

/**
 * Configurable lists. Reports store the code; labels for the default codes
 * come from the locale files (lists.<list>.<code>), labels an administrator
 * adds are stored per language in list_items.labels. A retired value is no
 * longer offered but still labelled and counted.
 *
 * Three lists are on the report form. The fourth, 'label', is the case
 * labels caseworkers choose on the case page (stored in reports.labels):
 * defined by administrators, so no caseworker can type a person's name into
 * a plaintext column. It has no default values and is shown in English only.
 */
export const LIST_NAMES = ['region', 'community', 'state', 'label'] as const;
export type ListName = (typeof LIST_NAMES)[number];

/** Lists only staff see (English labels only, no value need stay offered). */
export const isStaffList = (list: ListName): boolean => list === 'label';

export const DEFAULT_LISTS: Record<ListName, readonly string[]> = {
  // UK ITL1 regions, then the two catch-alls.
  region: [
    'north_east',
    'north_west',
    'yorkshire_humber',
    'east_midlands',
    'west_midlands',
    'east_of_england',
    'london',
    'south_east',
    'south_west',
    'wales',
    'scotland',
    'northern_ireland',
    'outside_uk',
    'prefer_not_say',
  ],
  community: ['uyghur', 'tibetan', 'hong_konger', 'chinese_dissident', 'southern_mongolian', 'taiwanese', 'falun_gong', 'other', 'prefer_not_say'],
  state: ['china', 'hong_kong_sar', 'russia', 'iran', 'other', 'not_sure'],
  label: [],
};

export type ListItem = { code: string; labels: Record<string, string>; retired: boolean };
export type Lists = Record<ListName, ListItem[]>;

/** The default values, as set-up writes them (inside its transaction); values already there are kept. */
export async function seedDefaultLists(trx: Db): Promise<void> {
  assertTransaction(trx);
  const rows = LIST_NAMES.flatMap((list) => DEFAULT_LISTS[list].map((code, position) => ({ list, code, position, labels: '{}' })));
  await q.insertListItemsIfMissing(trx, rows);
}

export async function loadLists(db: Db): Promise<Lists> {
  const rows = await q.selectAllListItems(db);
  const lists: Lists = { region: [], community: [], state: [], label: [] };
  for (const r of rows) {
    if ((LIST_NAMES as readonly string[]).includes(r.list)) {
      lists[r.list as ListName].push({ code: r.code, labels: r.labels ?? {}, retired: r.retired_at !== null });
    }
  }
  return lists;
}

/**
 * A value's label in a language: the administrator's label in that language;
 * else, for a default value, the locale file's; else the administrator's
 * English label; else the code itself (a code removed from the list but
 * still in old reports stays readable).
 */
export function listLabel(t: TFunction, lang: string, list: ListName, item: ListItem | string): string {
  const code = typeof item === 'string' ? item : item.code;
  const labels = typeof item === 'string' ? {} : item.labels;
  if (labels[lang]) return labels[lang];
  if (DEFAULT_LISTS[list].includes(code)) return t(`lists.${list}.${code}`);
  return labels['en'] || code;
}

/** Finds a value by code, or just its code when the list no longer has it. */
export function listItem(lists: Lists, list: ListName, code: string): ListItem | string {
  return lists[list].find((i) => i.code === code) ?? code;
}

export function activeCodes(lists: Lists, list: ListName): string[] {
  return lists[list].filter((i) => !i.retired).map((i) => i.code);
}
