import express, { type RequestHandler } from 'express';

/**
 * An urlencoded form body, parsed by Express's own parser (qs), then copied
 * into an object that inherits nothing: a field named `constructor` or
 * `toString` is then only ever that field, and an absent field is
 * undefined, never Object.prototype's member of that name.
 */
export function urlencodedForm(opts: { limit: number | string; parameterLimit: number }): RequestHandler[] {
  return [
    express.urlencoded({ extended: false, limit: opts.limit, parameterLimit: opts.parameterLimit }),
    (req, _res, next) => {
      if (req.body && typeof req.body === 'object') req.body = Object.assign(Object.create(null), req.body);
      next();
    },
  ];
}
