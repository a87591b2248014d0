import type { ListItem } from '../settings/lists.js';
import { checkText } from '../reporting/validation.js';
import { staffTranslator } from '../i18n/index.js';

/** What the case forms accept, read from the posted body. */

/** A refused input: the field it concerns and the message shown beside it (422, never 500). */
export class CaseInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'CaseInputError';
  }
}

/** The free-text fields of the case page; each has its own messages in the staff locale file. */
export const TEXT_FIELDS = ['reopen_reason', 'note', 'message', 'retain_reason', 'crime_reference', 'override_reason'] as const;
export type TextField = (typeof TEXT_FIELDS)[number];

/** Free text from a form: required or not, at most `max` characters, no control or replacement characters. */
export function textInput(raw: unknown, field: TextField, max: number, required = true): string {
  // A repeated field arrives as an array: not text this form sent, so treated as empty.
  const value = (typeof raw === 'string' ? raw : '').replace(/\r\n/g, '\n').trim();
  const problem = checkText(value, max, required);
  if (!problem) return value;
  const st = staffTranslator();
  if (problem.key === 'required') throw new CaseInputError(field, st(`case.errors.text.${field}.required`));
  if (problem.key === 'too_long') throw new CaseInputError(field, st(`case.errors.text.${field}.too_long`, { max: max.toLocaleString('en-GB') }));
  throw new CaseInputError(field, st(`case.errors.text.${field}.unreadable`));
}

/**
 * The labels a caseworker ticked, as codes of the administrator's label list
 * in the list's order. Each must be an offered item, or one the case already
 * has (a label retired since stays until someone unticks it). Anything else
 * (a typed word, a retired or unknown code, `__proto__`) is refused: no
 * caseworker can put their own words into this plaintext column.
 */
export function chosenLabels(raw: unknown, items: readonly ListItem[], current: readonly string[]): string[] {
  const posted = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const picked = new Set<string>();
  for (const code of posted) {
    if (typeof code !== 'string') throw new CaseInputError('labels', staffTranslator()('case.errors.label_unknown'));
    if (code !== '') picked.add(code);
  }
  const known = new Map(items.map((i) => [i.code, i]));
  for (const code of picked) {
    const item = known.get(code);
    const allowed = current.includes(code) || (item !== undefined && !item.retired);
    if (!allowed) throw new CaseInputError('labels', staffTranslator()('case.errors.label_unknown'));
  }
  // Codes the list no longer has at all (none today: items are retired, never deleted) keep their place at the end.
  return [...items.map((i) => i.code).filter((code) => picked.has(code)), ...[...picked].filter((code) => !known.has(code))];
}
