import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../server/cli.js';
import { lockDataDir } from '../../server/db/lock.js';
import { parse, startSmtp, type TestSmtp } from '../helpers/smtp.js';

/** `harbour mail test --to ADDRESS` (issue 11): sent, or one sentence saying which class of failure and what to check. */

let smtp: TestSmtp;
let auth: TestSmtp;
let dir: string;
let saved: NodeJS.ProcessEnv;
let out: string[];
let err: string[];

beforeAll(async () => {
  smtp = await startSmtp({ tls: 'starttls' });
  auth = await startSmtp({ tls: 'starttls', auth: { user: 'harbour', pass: 'the-right-one' } });
});
afterAll(async () => {
  await smtp.close();
  await auth.close();
});
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'harbour-mail-cli-'));
  saved = { ...process.env };
  delete process.env['DATABASE_URL'];
  for (const k of Object.keys(process.env)) if (/^(SMTP_|MAIL_FROM|ALERT_)/.test(k)) delete process.env[k];
  process.env['DATA_DIR'] = dir;
  out = [];
  err = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (err.push(String(chunk)), true));
  smtp.received.length = 0;
  smtp.refuseWith = null;
});
afterEach(() => {
  vi.restoreAllMocks();
  process.env = saved;
  rmSync(dir, { recursive: true, force: true });
});

const run = (env: Record<string, string>, args: string[]) => {
  Object.assign(process.env, env);
  return runCli(['mail', 'test', ...args]);
};

describe('harbour mail test', () => {
  it('sends the fixed test message and says so, beside a server that holds the embedded database', async () => {
    const release = await lockDataDir(dir, 'server', () => undefined);
    try {
      expect(await run(smtp.env(), ['--to', 'someone@example.org'])).toBe(0);
    } finally {
      await release();
    }
    expect(out.join('')).toBe(`sent: the SMTP server at 127.0.0.1:${smtp.port} accepted the test message for someone@example.org.\n`);
    const [mail] = await smtp.waitFor(1);
    expect(mail!.to).toEqual(['someone@example.org']);
    const parsed = await parse(mail!);
    expect(parsed.subject).toBe('Harbour test message for Harbour');
    expect(parsed.text).toContain('sent with harbour mail test');
    expect(parsed.text).toContain('http://localhost:3000/staff/sign-in');
  });

  it('refuses without SMTP_URL, and without one plain address', async () => {
    expect(await run({}, ['--to', 'someone@example.org'])).toBe(78);
    expect(err.join('')).toContain('e-mail alerts are off: SMTP_URL is not set');
    for (const bad of [[], ['--to', 'someone'], ['--to', 'A <a@example.org>'], ['--to', 'a@example.org,b@example.org']]) {
      err.length = 0;
      expect(await run(smtp.env(), bad)).toBe(64);
      expect(err.join('')).toMatch(/Usage: harbour mail test --to/);
    }
    await expect(run(smtp.env(), ['--too', 'x'])).rejects.toThrow(/--too/);
    expect(smtp.received).toEqual([]);
  });

  it('says clearly what went wrong, naming what to check, with a non-zero exit and never the password', async () => {
    const closed = await startSmtp({ tls: 'none' });
    await closed.down();
    const cases: [Record<string, string>, RegExp][] = [
      [
        { ...auth.env(), SMTP_URL: `smtp://harbour:wrong-one@127.0.0.1:${auth.port}` },
        /not sent \(auth, EAUTH\): the SMTP server refused the user name or password: check the user in SMTP_URL/,
      ],
      [{ ...smtp.env(), SMTP_CA_FILE: '' }, /not sent \(tls, ESOCKET\): TLS failed: .*SMTP_CA_FILE/],
      [
        { SMTP_URL: 'smtp://no-such-host.invalid', MAIL_FROM: 'a@harbour.test' },
        /not sent \(dns, EDNS\): the SMTP server's name does not resolve: check the host in SMTP_URL/,
      ],
      [{ ...closed.env() }, /not sent \(connection, ESOCKET\): could not connect to the SMTP server.*check the host and port in SMTP_URL/],
    ];
    for (const [env, said] of cases) {
      err.length = 0;
      expect(await run(env, ['--to', 'someone@example.org'])).toBe(1);
      expect(err.join('')).toMatch(said);
      expect(err.join('')).not.toContain('wrong-one');
    }
    smtp.refuseWith = 550;
    err.length = 0;
    expect(await run(smtp.env(), ['--to', 'someone@example.org'])).toBe(1);
    expect(err.join('')).toMatch(/not sent \(refused, EENVELOPE\): the SMTP server refused the message: check that MAIL_FROM/);
    expect(smtp.received).toEqual([]);
  });
});
