import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHarbour, startServer, type Proc } from '../helpers/process.js';
import { VALID_REPORT, csrfFrom, postReport } from '../helpers/reporter.js';
import { parse, startSmtp, type TestSmtp } from '../helpers/smtp.js';

/**
 * The real server (dist/server/index.js, production settings) with SMTP_URL:
 * its worker starts with it, the day's digest and an urgent report's alert
 * reach the SMTP server within the target (under 5 s with a 1 s poll), and
 * SIGTERM stops it cleanly.
 */

let dir: string;
let smtp: TestSmtp;
let server: Proc | null = null;

beforeAll(async () => {
  smtp = await startSmtp({ tls: 'starttls' });
  dir = mkdtempSync(path.join(os.tmpdir(), 'harbour-alerts-proc-'));
  const pw = path.join(dir, 'pw.txt');
  writeFileSync(pw, 'harbour first admin passphrase\n');
  const out = await runHarbour(
    ['setup', '--org', 'Alert Proc Org', '--admin-email', 'lead@example.org', '--admin-name', 'Lead', '--password-file', pw],
    { DATA_DIR: path.join(dir, 'data') },
  );
  expect(out.code, out.output).toBe(0);
}, 240_000);
afterAll(async () => {
  await server?.stop('SIGKILL');
  await smtp.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the server with SMTP_URL', () => {
  it('sends the digest and an urgent report’s alert within seconds, and stops cleanly', async () => {
    server = await startServer({ DATA_DIR: path.join(dir, 'data'), ...smtp.env(), ALERT_POLL_SECONDS: '1', ALERT_DIGEST_HOUR: '0' });
    expect(server.output()).toContain('e-mail alerts are on');
    // The digest hour (0) has passed today: the day's digest goes out once the worker starts.
    const [digest] = await smtp.waitFor(1, 20_000);
    expect((await parse(digest!)).subject).toBe('Harbour daily message for Alert Proc Org');

    const agent = request.agent(server.base);
    const res = await postReport(agent, await csrfFrom(agent, '/en/report'), { ...VALID_REPORT, danger_now: 'yes' });
    expect(res.status).toBe(303);
    const filed = Date.now();
    const mails = await smtp.waitFor(2, 10_000);
    const urgent = mails[1]!;
    expect(urgent.to).toEqual(['lead@example.org']);
    expect((await parse(urgent)).subject).toBe('Urgent report for Alert Proc Org');
    expect(urgent.at - filed).toBeLessThan(5000);

    const { code } = await server.stop('SIGTERM');
    expect(code).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');
    expect(server.output()).not.toContain('lead@example.org');
    server = null;
  }, 120_000);
});
