/**
 * Dates and times as Harbour shows them: on the clock where the
 * organisation works (UK), whatever the server's own time zone; in English
 * on the staff pages and the referral files, in the reader's language on
 * the reporter's.
 */
const ZONE = 'Europe/London';

const DAY = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: ZONE });
const DATE_TIME = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: ZONE });
const ISO_DAY = new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit' });

/** '1 Jul 2026'. */
export const formatDay = (d: Date | string): string => DAY.format(new Date(d));

/** '1 Jul 2026, 14:05'. */
export const formatDateTime = (d: Date | string): string => DATE_TIME.format(new Date(d));

/** '1 Jul 2026, 14:05' in a reporter's language (their pages), still on the UK clock. */
export function formatDateTimeIn(lang: string, d: Date | string): string {
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone: ZONE }).format(new Date(d));
}

/** Today's date in the UK, as YYYY-MM-DD. */
export const ukToday = (now = new Date()): string => ISO_DAY.format(now);
