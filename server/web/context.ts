import type { Config } from '../config.js';
import { notReady } from '../errors.js';
import type { Db } from '../db/index.js';
import type { DiskGuard } from '../db/disk.js';
import type { Logger } from '../logger.js';
import type { Settings } from '../settings/settings.js';
import { getInstallation, type Installation } from '../setup/service.js';
import type { Csrf } from './csrf.js';
import type { RateLimits } from './rate-limit.js';

/** What every route needs, built once by createApp. */
export type AppContext = {
  config: Config;
  db: Db;
  logger: Logger;
  csrf: Csrf;
  rateLimits: RateLimits;
  installation(): Promise<Installation | null>;
  /** The administrator's settings, read from the database each time (no cross-instance staleness). */
  settings(): Promise<Settings>;
  /** Free space under the embedded database (null with PostgreSQL, whose server guards its own disk). */
  disk: DiskGuard | null;
  /** Aborted when the process begins to stop: uploads in flight answer "try again" and discard what they wrote. */
  shutdown: AbortController;
};

/**
 * The installation row never changes once written, so it is cached after it
 * is found; until then every request looks again (set-up may happen from the
 * command line while the server runs).
 */
export function installationLoader(db: Db): () => Promise<Installation | null> {
  let cached: Installation | null = null;
  return async () => (cached ??= await getInstallation(db));
}

/** The installation, or the "not set up yet" page (503) for a route that cannot work without it. */
export async function requireInstallation(ctx: AppContext): Promise<Installation> {
  const inst = await ctx.installation();
  if (!inst) throw notReady();
  return inst;
}
