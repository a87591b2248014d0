import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { notFound } from '../errors.js';
import { DEFAULT_LANG, LANGUAGES, dirOf, isLang, pickLanguage, translator, type Lang } from './i18n.js';

/** Sets lang, dir and t for views from the /{lang}/ path prefix; an unknown prefix is a 404. */
export const languageFromPath: RequestHandler = (req, res, next) => {
  const lang = String(req.params['lang'] ?? '');
  if (!isLang(lang)) return next(notFound());
  setLanguage(res, lang, req.originalUrl);
  next();
};

export function setLanguage(res: Response, lang: Lang, originalUrl: string): void {
  res.locals['lang'] = lang;
  res.locals['dir'] = dirOf(lang);
  res.locals['t'] = translator(lang);
  res.locals['languages'] = LANGUAGES;
  // For the language switcher: the same page in another language (GET pages only).
  const rest = originalUrl.split('?')[0]!.replace(/^\/[^/]+/, '');
  res.locals['pathIn'] = (code: string) => `/${code}${rest || '/'}`;
}

/** Language for pages outside /{lang}/ (errors on unknown paths): the browser's preference. */
export function languageFromHeader(req: Request, res: Response, next: NextFunction): void {
  if (!res.locals['lang']) setLanguage(res, pickLanguage(req.headers['accept-language']), '/' + DEFAULT_LANG + '/');
  next();
}

export const redirectToLanguage: RequestHandler = (req, res) => {
  res.setHeader('Vary', 'Accept-Language');
  res.redirect(302, `/${pickLanguage(req.headers['accept-language'])}/`);
};
