/**
 * Dates and times as the staff pages and the referral files show them:
 * in English, on the clock where the organisation works (UK), whatever the
 * server's own time zone.
 */
const ZONE = 'Europe/London';

const DAY = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: ZONE });
const DATE_TIME = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: ZONE });
const ISO_DAY = new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit' });

/** '1 Jul 2026'. */
export const formatDay = (d: Date | string): string => DAY.format(new Date(d));

/** '1 Jul 2026, 14:05'. */
export const formatDateTime = (d: Date | string): string => DATE_TIME.format(new Date(d));

/** Today's date in the UK, as YYYY-MM-DD. */
export const ukToday = (now = new Date()): string => ISO_DAY.format(now);
