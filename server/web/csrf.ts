import type { Request, Response } from 'express';
import { doubleCsrf } from 'csrf-csrf';
import type { Config } from '../config.js';
import { forbidden } from '../errors.js';
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
    getSessionIdentifier: (req) =>
      `${req.cookies?.[cookieName(config, 'reporter')] ?? ''}|${req.cookies?.[cookieName(config, 'staff')] ?? ''}`,
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
