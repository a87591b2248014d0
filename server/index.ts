import { createServer } from 'node:http';
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDb, dbTargetFromConfig, migrateToLatest } from './db/index.js';
import { startHousekeeping } from './housekeeping.js';
import { createLogger } from './logger.js';
import { getInstallation } from './setup/service.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const db = await createDb(dbTargetFromConfig(config));
  const applied = await migrateToLatest(db);
  if (applied.length) logger.info({ migrations: applied }, 'database migrated');
  if (!config.databaseUrl) logger.info({ dataDir: config.dataDir }, 'using the embedded PostgreSQL (PGlite)');

  const { app } = await createApp({ config, db, logger });
  const server = createServer(app);
  // Against slow clients: headers must arrive quickly; a whole request (an
  // upload over Tor included) has REQUEST_TIMEOUT_SECONDS.
  server.headersTimeout = 20_000;
  server.requestTimeout = config.requestTimeoutMs;
  server.keepAliveTimeout = 5_000;
  server.timeout = 120_000; // socket idle
  const stopHousekeeping = startHousekeeping(db, config, logger);

  server.listen(config.port, config.host, async () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    logger.info({ host: config.host, port }, 'Harbour is listening');
    if (!(await getInstallation(db))) {
      logger.warn('Not set up yet: run `npx harbour setup --org "Your organisation"` to create the keys.');
    }
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stopHousekeeping();
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    server.close(async () => {
      await db.destroy();
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`Harbour failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
