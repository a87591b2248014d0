import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isDatabaseUnavailable } from '../db/errors.js';
import { HttpError, databaseUnavailable, notFound } from '../errors.js';
import type { Logger } from '../logger.js';
import { DEFAULT_LANG, isLang, pickLanguage, staffTranslator } from '../i18n/index.js';
import { setLanguage } from './language.js';

/** Errors raised by Express's body parsers, mapped to our codes. */
function fromBodyParser(err: { type?: string; status?: number }): HttpError | null {
  switch (err.type) {
    case 'entity.too.large':
      return new HttpError(413, 'too_large');
    case 'entity.parse.failed':
    case 'encoding.unsupported':
    case 'charset.unsupported':
    case 'request.size.invalid':
    case 'parameters.too.many':
      return new HttpError(400, 'bad_form');
    case 'request.aborted':
      return new HttpError(400, 'aborted');
    default:
      // Other library errors that carry a client status (serve-static's 404, 416…).
      if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
        return new HttpError(err.status, err.status === 404 ? 'not_found' : 'bad_request');
      }
      return null;
  }
}

export const notFoundHandler: RequestHandler = (_req, _res, next) => next(notFound());

/**
 * The one exit for errors: a page in the visitor's language with a status
 * and a plain message; never a stack, SQL or secret. Unexpected errors are
 * logged by type and stack frames only (no message: it can quote input).
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const unavailable = isDatabaseUnavailable(err);
    const known = err instanceof HttpError ? err : unavailable ? databaseUnavailable() : fromBodyParser(err as { type?: string; status?: number });
    const httpError = known ?? new HttpError(500, 'server_error');
    if (unavailable) logger.warn({ err, method: req.method, route: req.route?.path }, 'database unavailable');
    else if (!known) logger.error({ err, method: req.method, route: req.route?.path }, 'unhandled error');
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    if (!res.locals['lang']) {
      const first = req.path.split('/')[1] ?? '';
      setLanguage(res, isLang(first) ? first : (pickLanguage(req.headers['accept-language']) ?? DEFAULT_LANG), req.originalUrl);
    }
    if (httpError.retryAfterSeconds) res.setHeader('Retry-After', String(httpError.retryAfterSeconds));
    res.setHeader('Cache-Control', 'no-store');
    // Staff pages keep the staff layout (and its sign-out form); reporter pages their own.
    const staffArea = /^\/(staff|admin)(\/|$)/.test(req.path);
    const locals = {
      code: httpError.code,
      status: httpError.status,
      retryMinutes: httpError.retryAfterSeconds ? Math.ceil(httpError.retryAfterSeconds / 60) : null,
      ...(staffArea ? { csrfToken: res.locals['csrfToken'] ?? null } : { csrfToken: null }),
    };
    if (staffArea) {
      setLanguage(res, DEFAULT_LANG, '/en/');
      res.locals['st'] ??= staffTranslator(); // set by the staff router, unless the error came before it
    }
    res.status(httpError.status).render(staffArea ? 'errors/staff-error' : 'errors/error', locals, (renderErr: Error | null, html?: string) => {
      if (!renderErr) return void res.send(html);
      // Never let a failing template fall through to Express's own page (it shows the stack).
      logger.error({ err: renderErr }, 'error page failed to render');
      res.type('text/plain').send(`Error ${httpError.status}`);
    });
  };
}

/** One line per request: method, matched route, status, duration. No URL query, IP, agent or body. */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : undefined;
      logger.info({ method: req.method, route, status: res.statusCode, ms: Math.round(ms) }, 'request');
    });
    next();
  };
}

/**
 * The last word on a request whose body is still arriving after `ms`: the
 * connection is closed. Node's own requestTimeout does not cover a body
 * that goes on arriving once the request has begun (checked on Node 20);
 * uploads end earlier, with a page (multipart.ts), and this catches the rest.
 */
export function requestDeadline(ms: number): RequestHandler {
  return (req, res, next) => {
    const timer = setTimeout(() => {
      if (!req.complete) req.socket.destroy();
    }, ms);
    timer.unref();
    res.once('close', () => clearTimeout(timer));
    next();
  };
}
