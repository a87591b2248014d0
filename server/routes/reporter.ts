import { Router } from 'express';
import { isDatabaseUnavailable } from '../db/errors.js';
import type { AppContext } from '../web/context.js';
import { onionAddressOf, onionLocation } from '../settings/settings.js';
import { csrfGuards, setCsrfLocals } from '../web/csrf.js';
import { urlencodedForm } from '../web/forms.js';
import { languageFromPath } from '../web/language.js';
import { arrivedOverOnion, onionHostnameFrom } from '../web/onion.js';
import { quickExit } from '../reporting/exit-page.js';
import { reporterGuard } from '../reporting/session.js';
import { confirmReceipt, showForm, showReceipt, submitReport, switchLanguage } from '../reporting/report-page.js';
import {
  downloadEvidence,
  leave,
  postEvidence,
  postMessage,
  showStatus,
  showWithdraw,
  signIn,
  switchStatusLanguage,
  withdraw,
} from '../reporting/status-page.js';

/**
 * Reporter pages under /{lang}/. Anonymous by design: no route needs an
 * account; the receipt session (P5) guards /status/*: requireReporter, first
 * on the line, so a visitor without the right session is refused before any
 * body is read ('signed_in' for the status pages, 'receipt_pending' for the
 * receipt page just after filing). Every POST carries its CSRF guard on its
 * line: requireCsrf after the body parser, or csrfFirstPart for a streamed
 * multipart form (the token is its first part).
 */
export function reporterRoutes(ctx: AppContext): Router {
  const form = urlencodedForm({ limit: ctx.config.limits.formBytes, parameterLimit: 50 });
  const { requireCsrf, csrfFirstPart } = csrfGuards(ctx.csrf);
  const requireReporter = reporterGuard(ctx);
  const r = Router({ mergeParams: true });

  r.use(languageFromPath);
  // Before anything that reads the database: the quick exit must leave even when it is down.
  r.get('/exit', quickExit(ctx)); // GET: a link that works without JavaScript; it only ends things, so no CSRF
  r.use(async (req, res, next) => {
    // The emergency advice, and the error pages, must work with the database
    // away: without it, pages go on with the defaults and no form token, and
    // whatever needs the database fails on its own with a "try again" page.
    const { inst, settings } = await Promise.all([ctx.installation(), ctx.settings()])
      .then(([i, s]) => ({ inst: i, settings: i ? s : null }))
      .catch((err: unknown) => {
        if (!isDatabaseUnavailable(err)) throw err;
        return { inst: null, settings: null };
      });
    res.locals['orgName'] = settings?.orgName ?? null;
    res.locals['orgContact'] = settings?.orgContact ?? null;
    // Offered only to visitors on the clearnet: over the onion service they are already there.
    const overOnion = arrivedOverOnion(req);
    const fromFile = ctx.config.onionHostnameFile ? await onionHostnameFrom(ctx.config.onionHostnameFile) : null;
    const onion = overOnion ? null : onionLocation(settings, req.originalUrl, fromFile);
    if (onion) res.setHeader('Onion-Location', onion);
    res.locals['onionAddress'] = overOnion ? null : onionAddressOf(settings, fromFile) || null;
    if (inst) setCsrfLocals(ctx.csrf, inst, req, res);
    next();
  });

  r.get('/', async (_req, res) => {
    const inst = await ctx.installation();
    res.status(inst ? 200 : 503).render('reporter/landing', { ready: Boolean(inst) });
  });
  r.get('/emergency', (_req, res) => res.render('reporter/emergency', {}));

  r.get('/report', showForm(ctx));
  r.post('/report', csrfFirstPart, submitReport(ctx)); // multipart, streamed
  r.post('/report/language', csrfFirstPart, switchLanguage(ctx)); // the same form, in another language; nothing stored
  r.get('/report/receipt', requireReporter('receipt_pending'), showReceipt(ctx));
  r.post('/report/receipt', requireReporter('receipt_pending'), form, requireCsrf, confirmReceipt(ctx));

  r.get('/status', showStatus(ctx));
  r.post('/status', form, requireCsrf, signIn(ctx));
  r.post('/status/messages', requireReporter('signed_in'), form, requireCsrf, postMessage(ctx));
  r.post('/status/language', requireReporter('signed_in'), form, requireCsrf, switchStatusLanguage(ctx)); // the same page, in another language, the message kept; nothing stored
  r.post('/status/evidence', requireReporter('signed_in'), csrfFirstPart, postEvidence(ctx)); // multipart, streamed
  r.get('/status/evidence/:id', requireReporter('signed_in'), downloadEvidence(ctx));
  r.get('/status/withdraw', requireReporter('signed_in'), showWithdraw(ctx));
  r.post('/status/withdraw', requireReporter('signed_in'), form, requireCsrf, withdraw(ctx));
  r.post('/status/leave', form, requireCsrf, leave(ctx)); // any session or none: it only ends things
  return r;
}
