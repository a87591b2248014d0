import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { doubleCsrf } from 'csrf-csrf';
import type { Config } from '../config.js';
import { forbidden, notReady } from '../errors.js';
import { cookieName } from './session-store.js';

const cookieOf = (config: Config) => ({
  name: config.secureCookies ? '__Host-harbour_csrf' : 'harbour_csrf',
  options: { sameSite: 'strict' as const, secure: config.secureCookies, httpOnly: true, path: '/' },
});

/** For the quick exit: nothing of the visit stays in the browser. */
export function clearCsrfCookie(config: Config, res: Response): void {
  const { name, options } = cookieOf(config);
  res.clearCookie(name, options);
}

/**
 * CSRF protection for every state-changing form, anonymous ones included:
 * csrf-csrf's signed double-submit token, bound to the session cookie when
 * there is one. The HMAC secret is the installation's, shared by every
 * instance through the database.
 */
export function createCsrf(config: Config) {
  const cookie = cookieOf(config);
  const { generateCsrfToken, validateRequest } = doubleCsrf({
    getSecret: (req) => {
      const secret = req?.res?.locals['csrfSecret'];
      if (typeof secret !== 'string') throw new Error('CSRF secret not loaded');
      return secret;
    },
    // Bound to whichever session cookies the browser holds (reporter, staff).
    getSessionIdentifier: (req) => `${req.cookies?.[cookieName(config, 'reporter')] ?? ''}|${req.cookies?.[cookieName(config, 'staff')] ?? ''}`,
    cookieName: cookie.name,
    cookieOptions: cookie.options,
    size: 32,
    getCsrfTokenFromRequest: (req) => (req.body as Record<string, unknown> | undefined)?.['_csrf'] as string | undefined,
  });

  return {
    token: (req: Request, res: Response) => generateCsrfToken(req, res, { overwrite: false, validateOnReuse: false }),
    /** Throws a 403 HttpError unless the request carries a valid token. */
    check(req: Request): void {
      if (!validateRequest(req)) throw forbidden('csrf');
    },
  };
}

export type Csrf = ReturnType<typeof createCsrf>;

/** What csrfLocals needs: the token maker and the installation (whose secret signs the tokens). */
type CsrfSource = { csrf: Csrf; installation(): Promise<{ csrfSecret: Uint8Array } | null> };

/**
 * Puts the installation's CSRF secret and this visitor's form token into
 * res.locals, for every page of an area (the views put the token in each
 * form). Before set-up there is no secret, so no token: a POST then gets
 * 503 from requireCsrf, never a 500.
 */
export function csrfLocals(source: CsrfSource): RequestHandler {
  return async function csrfLocals(req, res, next) {
    const inst = await source.installation();
    if (inst) setCsrfLocals(source.csrf, inst, req, res);
    next();
  };
}

/** The same, for a middleware that has the installation already (the reporter pages, which load it with the settings). */
export function setCsrfLocals(csrf: Csrf, inst: { csrfSecret: Uint8Array }, req: Request, res: Response): void {
  res.locals['csrfSecret'] = Buffer.from(inst.csrfSecret).toString('hex');
  res.locals['csrfToken'] = csrf.token(req, res);
}

const STREAMED = 'csrfStreamed';

/**
 * The route-line CSRF guards, one pair per app. Every state-changing route
 * carries exactly one of them on its line:
 * - `requireCsrf`, after the urlencoded body parser: 403 unless the body's
 *   `_csrf` token is valid;
 * - `csrfFirstPart`, for a streamed multipart form: the token is the form's
 *   first part, so parseMultipart checks it at the first file or at the end,
 *   whichever comes first, before any file reaches the handler. parseMultipart
 *   refuses to run on a route without it.
 * The route-walk test finds both by name on every POST line.
 */
export function csrfGuards(csrf: Csrf) {
  return {
    requireCsrf: function requireCsrf(req: Request, res: Response, next: NextFunction) {
      if (typeof res.locals['csrfSecret'] !== 'string') return next(notReady());
      csrf.check(req);
      next();
    },
    csrfFirstPart: function csrfFirstPart(_req: Request, res: Response, next: NextFunction) {
      if (typeof res.locals['csrfSecret'] !== 'string') return next(notReady());
      res.locals[STREAMED] = (req: Request) => csrf.check(req);
      next();
    },
  };
}

/**
 * The streamed check that csrfFirstPart put on this request: parseMultipart
 * calls it with the fields read so far. A multipart route without the guard
 * on its line is a programming error, refused before anything is read.
 */
export function streamedCsrfCheck(req: Request, flat: () => Record<string, string>): () => void {
  const check = req.res?.locals[STREAMED] as ((req: Request) => void) | undefined;
  if (!check) throw new Error('multipart form on a route without csrfFirstPart');
  let checked = false;
  return () => {
    if (checked) return;
    req.body = flat();
    check(req);
    checked = true;
  };
}
