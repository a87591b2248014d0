import { Writable } from 'node:stream';
import type { Express } from 'express';
import { createApp } from '../../server/app.js';
import type { DiskGuard } from '../../server/db/disk.js';
import { loadConfig, type Config } from '../../server/config.js';
import { readySodium, type KeyPair } from '../../server/crypto/index.js';
import { createLogger } from '../../server/logger.js';
import { setupOrganisation } from '../../server/setup/service.js';
import type { AppContext } from '../../server/web/context.js';
import { createTestDb, type TestDb } from './db.js';

export type TestApp = {
  app: Express;
  ctx: AppContext;
  config: Config;
  testDb: TestDb;
  /** Every log line the app wrote, as raw JSON text. */
  logs: string[];
  recoveryKey: string | null;
  /** The team key pair from set-up (in memory only, as `harbour setup` has it), for granting test caseworkers. */
  team: { keyPair: KeyPair; id: number } | null;
  close(): Promise<void>;
};

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'debug', RATE_LIMITS: 'false', ...env });
}

/** Builds the app on a fresh database; set up for an organisation unless `setup: false`. */
export async function createTestApp(
  opts: { env?: Record<string, string>; setup?: boolean; onDisk?: boolean; testDb?: TestDb; disk?: DiskGuard } = {},
): Promise<TestApp> {
  await readySodium();
  const testDb = opts.testDb ?? (await createTestDb({ onDisk: opts.onDisk ?? false }));
  const config = testConfig(opts.env);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  const setup = opts.setup === false ? null : await setupOrganisation(testDb.db, { orgName: 'Test Community Aid' });
  const { app, ctx } = await createApp({ config, db: testDb.db, logger, disk: opts.disk ?? null });
  return {
    app,
    ctx,
    config,
    testDb,
    logs,
    recoveryKey: setup?.recoveryKey ?? null,
    team: setup ? { keyPair: setup.team, id: setup.teamKeyId } : null,
    close: () => (opts.testDb ? Promise.resolve() : testDb.close()),
  };
}
