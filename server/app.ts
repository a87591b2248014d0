import { setMaxListeners } from 'node:events';
import express, { type Express } from 'express';
import cookieParser from 'cookie-parser';
import type { Config } from './config.js';
import { readySodium } from './crypto/index.js';
import { testArgon2Costs } from './crypto/argon.js';
import type { DiskGuard } from './db/disk.js';
import { ping, type Db } from './db/index.js';
import type { Logger } from './logger.js';
import { publicDir, viewsDir } from './paths.js';
import { reporterRoutes } from './routes/reporter.js';
import { staffRoutes } from './routes/staff.js';
import { loadSettings } from './settings/settings.js';
import { installationLoader, type AppContext } from './web/context.js';
import { createCsrf } from './web/csrf.js';
import { serveFont } from './web/fonts.js';
import { errorHandler, notFoundHandler, requestDeadline, requestLogger } from './web/error-handler.js';
import { initI18n } from './i18n/index.js';
import { languageFromHeader, redirectToLanguage } from './web/language.js';
import { RateLimits } from './web/rate-limit.js';
import { noStore, securityHeaders } from './web/security.js';

export type AppDeps = { config: Config; db: Db; logger: Logger; disk?: DiskGuard | null };

/** Builds the Express app around the given database; no listening, no side effects. */
export async function createApp({ config, db, logger, disk = null }: AppDeps): Promise<{ app: Express; ctx: AppContext }> {
  if (config.env === 'production' && testArgon2Costs()) throw new Error('test Argon2 parameters are installed: refusing to build a production app');
  await readySodium();
  await initI18n();
  const ctx: AppContext = {
    config,
    db,
    logger,
    csrf: createCsrf(config),
    rateLimits: new RateLimits(db, config),
    installation: installationLoader(db),
    settings: () => loadSettings(db, config),
    shutdown: new AbortController(),
    disk,
  };

  // Every upload in flight listens for the stop (multipart.ts): no warning at ten.
  setMaxListeners(Infinity, ctx.shutdown.signal);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // dynamic pages are no-store; static files keep their own ETags
  app.set('trust proxy', config.trustProxy);
  app.set('env', config.env);
  // Compiled templates are kept except while developing (edits show at once).
  app.set('view cache', config.env !== 'development');
  app.set('view engine', 'ejs');
  app.set('views', viewsDir);
  app.set('query parser', 'simple');
  app.locals['assetVersion'] = '1';
  app.locals['orgName'] = null;

  app.use(requestLogger(logger));
  app.use(requestDeadline(config.requestTimeoutMs + 5000));
  app.use(securityHeaders({ https: config.secureCookies }));
  app.use('/static/fonts', serveFont);
  app.use('/static', express.static(publicDir, { index: false, maxAge: '1d', fallthrough: false }));
  app.use(noStore);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const status = ctx.shutdown.signal.aborted ? 'stopping' : !(await ping(db)) ? 'database unreachable' : disk?.low ? 'disk nearly full' : 'ready';
    res.status(status === 'ready' ? 200 : 503).json({ status });
  });

  app.use(cookieParser());
  app.get('/', redirectToLanguage);
  app.use(staffRoutes(ctx)); // /staff/… and /admin/…, before the /{lang}/ catch-all
  app.use('/:lang', reporterRoutes(ctx));

  app.use(languageFromHeader, notFoundHandler);
  app.use(errorHandler(logger));
  return { app, ctx };
}
