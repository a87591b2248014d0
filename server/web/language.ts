import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { notFound } from '../errors.js';
import { own } from '../own.js';
import { FONT_STYLESHEETS } from './fonts.js';
import { DEFAULT_LANG, LANGUAGES, dirOf, isLang, pickLanguage, translator, type Lang } from '../i18n/index.js';

/** Sets lang, dir and t for views from the /{lang}/ path prefix; an unknown prefix is a 404. */
export const languageFromPath: RequestHandler = (req, res, next) => {
  const lang = String(req.params['lang'] ?? '');
  if (!isLang(lang)) return next(notFound());
  setLanguage(res, lang, req.originalUrl, req.method);
  next();
};

/**
 * A page drawn in answer to a form (a POST) has no address of its own to
 * switch language on: the language links go to the page a reporter would
 * reach next by GET (after withdrawing or leaving, the start page).
 */
const PAGE_AFTER_POST: Record<string, string> = {
  '/report': '/report',
  '/report/language': '/report',
  '/report/receipt': '/report/receipt',
  '/status': '/status',
  '/status/messages': '/status',
  '/status/language': '/status',
  '/status/evidence': '/status',
};

export function setLanguage(res: Response, lang: Lang, originalUrl: string, method = 'GET'): void {
  res.locals['lang'] = lang;
  res.locals['dir'] = dirOf(lang);
  res.locals['t'] = translator(lang);
  res.locals['languages'] = LANGUAGES;
  res.locals['fontStylesheet'] = FONT_STYLESHEETS[lang] ?? null;
  // For the language switcher: the same page in another language.
  const rest = originalUrl.split('?')[0]!.replace(/^\/[^/]+/, '') || '/';
  const page = method === 'GET' || method === 'HEAD' ? rest : (own(PAGE_AFTER_POST, rest) ?? '/');
  res.locals['pathIn'] = (code: string) => `/${code}${page}`;
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
