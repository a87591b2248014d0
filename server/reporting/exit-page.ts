import type { RequestHandler } from 'express';
import type { AppContext } from '../web/context.js';
import { clearCsrfCookie } from '../web/csrf.js';
import { clearSessionCookie, deleteSession } from '../web/session-store.js';

/**
 * Quick exit ("Leave this site"), GET /{lang}/exit: a plain link, so it
 * works with JavaScript off. It only ends things (the reporter's session,
 * its cookies, what the browser kept of the site), so it needs no CSRF
 * token, and the cookies are SameSite=Strict: another site cannot make use
 * of it beyond signing a reporter out.
 *
 * Someone may be looking over the reporter's shoulder, so the answer must be
 * quick and must come even when the database is slow or down: the browser's
 * side is cleared at once, the database gets a short budget, and the
 * redirect goes to the configured destination (the administrator's setting,
 * else QUICK_EXIT_URL), never to anything taken from the request.
 */
const DATABASE_BUDGET_MS = 1000;

/** The work's value, or undefined if it fails or takes longer than ms (it may go on in the background). */
function within<T>(ms: number, work: Promise<T>): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    const settle = (value: T | undefined) => {
      clearTimeout(timer);
      resolve(value);
    };
    work.then(settle, () => settle(undefined));
  });
}

export function quickExit(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    // Back must not bring the report up again from the cache; the cookies go too.
    res.setHeader('Clear-Site-Data', '"cache", "cookies", "storage"');
    // Also cleared one by one: browsers ignore Clear-Site-Data on plain HTTP.
    clearSessionCookie(ctx.config, res, 'reporter');
    clearCsrfCookie(ctx.config, res);
    const [settings] = await Promise.all([
      within(DATABASE_BUDGET_MS, ctx.settings()),
      // The row goes too, so the cookie (if copied) opens nothing; if the
      // database is down, the idle timeout ends it.
      within(DATABASE_BUDGET_MS, deleteSession(ctx.db, ctx.config, req, 'reporter')),
    ]);
    res.redirect(303, settings?.quickExitUrl ?? ctx.config.quickExitUrl);
  };
}
