import type { MailConfig } from '../../server/config.js';
import { createApp } from '../../server/app.js';
import type { TestApp } from './app.js';

/** A mail configuration as SMTP_URL and friends would give it; nothing listens there (these tests send nothing). */
export const TEST_MAIL: MailConfig = Object.freeze({
  url: new URL('smtp://harbour@mail.example.org:587'),
  password: null,
  from: 'harbour@example.org',
  tls: true,
  ca: null,
  pollMs: 3_600_000,
  digestHour: 7,
});

/**
 * The same installation (database, team key, logs) served by a second app
 * whose configuration has alerts on: the pages' "on" state, without a worker
 * (createApp starts none) and without a mail server.
 */
export async function withMail(t: TestApp, mail: MailConfig = TEST_MAIL): Promise<TestApp> {
  const config = { ...t.config, mail };
  const { app, ctx } = await createApp({ config, db: t.testDb.db, logger: t.ctx.logger, disk: null });
  return { ...t, app, ctx, config, close: () => Promise.resolve() };
}
