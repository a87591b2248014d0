import { staffTranslator } from '../i18n/index.js';

/**
 * The words of the case workflow: statuses, outcomes, which move follows
 * which, and the text limits. Plaintext only, so the queue and the
 * statistics can use it without the decrypting modules.
 */

export const STATUSES = ['new', 'triaged', 'in_progress', 'referred', 'closed'] as const;
export const OUTCOMES = [
  'resolved',
  'referred_to_police',
  'support_given',
  'no_further_action',
  'unable_to_contact',
  'duplicate',
  'not_tnr',
] as const;

export const isStatus = (code: string): boolean => (STATUSES as readonly string[]).includes(code);
export const isOutcome = (code: string): boolean => (OUTCOMES as readonly string[]).includes(code);

/** A status's name on the staff pages (locales/staff/en.json); an unknown code is shown as it is. */
export function statusLabel(code: string): string {
  return isStatus(code) ? staffTranslator()(`common.statuses.${code}`) : code;
}

/** A closing outcome's name on the staff pages; an unknown code is shown as it is. */
export function outcomeLabel(code: string): string {
  return isOutcome(code) ? staffTranslator()(`common.outcomes.${code}`) : code;
}

/**
 * Forward moves only. 'referred' is reached by recording a referral (which
 * needs consent or an override reason), never by the status form; a closed
 * case comes back only through reopen, which needs a reason.
 */
export const NEXT_STATUSES: Record<string, readonly string[]> = {
  new: ['triaged', 'in_progress', 'closed'],
  triaged: ['in_progress', 'closed'],
  in_progress: ['closed'],
  referred: ['closed'],
  closed: [],
};

export const LIMITS = { note: 10_000, message: 10_000, reason: 2_000 } as const;
