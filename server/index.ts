import { createServer } from 'node:http';
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDb, dbTargetFromConfig, embeddedDatabase, migrateToLatest, type Db } from './db/index.js';
import { DiskGuard } from './db/disk.js';
import { DataDirLockedError, lockDataDir } from './db/lock.js';
import { listenForBackups } from './backup/socket.js';
import { createAlertWorker } from './alerts/worker.js';
import { startHousekeeping } from './housekeeping.js';
import { createLogger, type Logger } from './logger.js';
import { getInstallation } from './setup/service.js';
import { notSetUpHint } from './setup/hint.js';
import { listenForOnion } from './web/onion.js';

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}

/**
 * Opens the database and migrates it. Migrations run without the request
 * time limits (an index on a large table may take minutes); the app's own
 * connections have them. The embedded database is locked to this process
 * first: a second process on one data directory is refused at once.
 */
async function openDatabase(config: Config, logger: Logger): Promise<{ db: Db; release: () => Promise<void> }> {
  let release = async () => {};
  if (!config.databaseUrl) {
    release = await lockDataDir(config.dataDir, 'server', (err) => {
      // Another process took the directory (only possible if this one stalled
      // past the lock's staleness): stop before two writers corrupt it.
      logger.fatal({ err }, 'lost the lock on the data directory; stopping');
      process.exit(1);
    });
    logger.info({ dataDir: config.dataDir }, 'using the embedded PostgreSQL (PGlite)');
    const db = await createDb(
      dbTargetFromConfig(config, {
        timeouts: true,
        onEvent: (event, detail) =>
          logger[event === 'restarted' ? 'info' : 'error']({ event, err: detail }, `embedded database: ${event.replace('_', ' ')}`),
      }),
    );
    const embedded = embeddedDatabase(db)!;
    const limit = embedded.queryTimeoutMs;
    embedded.queryTimeoutMs = 0;
    const applied = await migrateToLatest(db);
    embedded.queryTimeoutMs = limit;
    if (applied.length) logger.info({ migrations: applied }, 'database migrated');
    // `harbour backup` beside the running server asks it over a socket in the data directory (backup/socket.ts).
    const stopBackups = await listenForBackups(db, config.dataDir, (msg, err) => logger.error({ err }, msg));
    return { db, release: () => stopBackups().then(release) };
  }
  const migrator = await createDb(dbTargetFromConfig(config));
  try {
    const applied = await migrateToLatest(migrator);
    if (applied.length) logger.info({ migrations: applied }, 'database migrated');
  } finally {
    await migrator.destroy();
  }
  const db = await createDb(
    dbTargetFromConfig(config, {
      timeouts: true,
      onError: (err) => logger.warn({ err }, 'database connection lost; it is replaced on the next request'),
    }),
  );
  return { db, release };
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  let opened: { db: Db; release: () => Promise<void> };
  try {
    opened = await openDatabase(config, logger);
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      process.stderr.write(
        `Harbour cannot start: ${err.message}.\nOnly one process may use an embedded data directory. Stop the other one first, or set DATA_DIR to another directory.\n`,
      );
      process.exit(75); // EX_TEMPFAIL
    }
    throw err;
  }
  const { db, release } = opened;

  const disk = config.databaseUrl ? null : new DiskGuard(config.dataDir, config.minFreeDiskBytes, logger);
  await disk?.start();
  const { app, ctx } = await createApp({ config, db, logger, disk });
  const server = createServer(app);
  // Against slow clients: headers must arrive quickly; a whole request (an
  // upload over Tor included) has REQUEST_TIMEOUT_SECONDS.
  server.headersTimeout = 20_000;
  server.requestTimeout = config.requestTimeoutMs;
  server.keepAliveTimeout = 5_000;
  server.timeout = 120_000; // socket idle
  const stopHousekeeping = startHousekeeping(db, config, logger);
  // E-mail alerts (issue 11): every instance sends; each row is claimed by one of them.
  const alerts = config.mail ? createAlertWorker(db, config, logger) : null;
  if (alerts) {
    alerts.start();
    logger.info({ host: config.mail!.url.hostname, tls: config.mail!.tls }, 'e-mail alerts are on');
  }

  server.on('error', (err: NodeJS.ErrnoException) => {
    const where = `${config.host}:${config.port}`;
    const line =
      err.code === 'EADDRINUSE'
        ? `Harbour cannot start: ${where} is already in use (another Harbour, or another program). Stop it, or set PORT to a free port.`
        : err.code === 'EACCES'
          ? `Harbour cannot start: no permission to listen on ${where}. Use a port above 1023, or put Harbour behind a reverse proxy.`
          : err.code === 'EADDRNOTAVAIL'
            ? `Harbour cannot start: ${config.host} is not an address of this machine. Check HOST.`
            : null;
    if (!line) throw err;
    process.stderr.write(`${line}\n`);
    void release().finally(() => process.exit(1));
  });

  const onion = config.onion
    ? listenForOnion(server, config.onion.host, config.onion.port, () =>
        logger.warn('a connection to the onion port without a PROXY header was closed (check HiddenServiceExportCircuitID haproxy)'),
      )
    : null;
  onion?.on('error', (err) => server.emit('error', err));
  onion?.on('listening', () =>
    logger.info({ host: config.onion!.host, port: config.onion!.port }, 'listening for the onion service (PROXY protocol)'),
  );

  server.listen(config.port, config.host, async () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    logger.info({ host: config.host, port }, 'Harbour is listening');
    if (!(await getInstallation(db).catch(() => null))) logger.warn(notSetUpHint(config));
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stopHousekeeping();
    disk?.stop();
    // A send in flight is finished and marked (bounded), so it is not sent again after the restart.
    const alertsStopped = alerts?.stop(Math.min(5000, config.shutdownGraceMs / 2)) ?? Promise.resolve();
    // Uploads still arriving are answered with a "try again" page and what
    // they wrote is discarded (multipart.ts); nothing is acknowledged that
    // the stop then loses. Whatever is left when the grace period ends is cut.
    ctx.shutdown.abort();
    const force = setTimeout(() => {
      logger.warn('grace period over; stopping now');
      process.exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    onion?.close();
    server.close(async () => {
      await alertsStopped;
      await db.destroy().catch((err: unknown) => logger.warn({ err }, 'closing the database failed'));
      await release().catch(() => undefined);
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
