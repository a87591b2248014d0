import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, isMailAddress, loadConfig, mailFromAddress } from '../../server/config.js';

/** SMTP_URL and its companions (issue 11): alerts off without it, every mistake named, the password never shown. */

const dir = mkdtempSync(path.join(os.tmpdir(), 'harbour-config-mail-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = { SMTP_URL: 'smtp://alerts%40example.org:s3cret-Pa55@mail.example.org:587', MAIL_FROM: 'Harbour <alerts@example.org>' };

function refusal(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('mail configuration', () => {
  it('is off (null) without SMTP_URL, whatever else is set', () => {
    expect(loadConfig({}).mail).toBeNull();
    expect(loadConfig({ MAIL_FROM: 'alerts@example.org', ALERT_DIGEST_HOUR: '6' }).mail).toBeNull();
  });

  it('reads the URL, keeps the password apart from it, and applies the defaults', () => {
    const mail = loadConfig(BASE).mail!;
    expect(mail.url.protocol).toBe('smtp:');
    expect(mail.url.hostname).toBe('mail.example.org');
    expect(mail.url.port).toBe('587');
    expect(decodeURIComponent(mail.url.username)).toBe('alerts@example.org');
    expect(mail.password).toBe('s3cret-Pa55');
    expect(mail.url.href).not.toContain('s3cret');
    expect(JSON.stringify(mail)).not.toContain('s3cret-Pa55@');
    expect(mail.from).toBe('Harbour <alerts@example.org>');
    expect(mail.tls).toBe(true);
    expect(mail.ca).toBeNull();
    expect(mail.pollMs).toBe(2000);
    expect(mail.digestHour).toBe(8);
    expect(Object.isFrozen(mail)).toBe(true);
  });

  it('takes smtps://, no user at all, ALERT_POLL_SECONDS and ALERT_DIGEST_HOUR', () => {
    const mail = loadConfig({
      SMTP_URL: 'smtps://mail.example.org',
      MAIL_FROM: 'alerts@example.org',
      ALERT_POLL_SECONDS: '5',
      ALERT_DIGEST_HOUR: '0',
    }).mail!;
    expect(mail.url.protocol).toBe('smtps:');
    expect(mail.url.username).toBe('');
    expect(mail.password).toBeNull();
    expect(mail.pollMs).toBe(5000);
    expect(mail.digestHour).toBe(0);
    expect(refusal({ ...BASE, ALERT_DIGEST_HOUR: '24' })).toContain('ALERT_DIGEST_HOUR');
    expect(refusal({ ...BASE, ALERT_POLL_SECONDS: '0' })).toContain('ALERT_POLL_SECONDS');
  });

  it('refuses another scheme, a path, or no host, never echoing the password', () => {
    for (const url of ['http://u:hunter2@mail.example.org', 'smtp://u:hunter2@mail.example.org:587/x', 'smtp://', 'mail.example.org:587']) {
      const message = refusal({ ...BASE, SMTP_URL: url });
      expect(message).toContain('SMTP_URL');
      expect(message).not.toContain('hunter2');
    }
  });

  it('requires MAIL_FROM with SMTP_URL, and one address in it', () => {
    expect(refusal({ SMTP_URL: BASE.SMTP_URL })).toMatch(/MAIL_FROM: is required/);
    for (const from of ['not an address', 'a@b.org, c@d.org', 'Evil\r\nBcc: x@y.org <a@b.org>', '<>']) {
      expect(refusal({ ...BASE, MAIL_FROM: from })).toContain('MAIL_FROM');
    }
    expect(loadConfig({ ...BASE, MAIL_FROM: 'alerts@example.org' }).mail!.from).toBe('alerts@example.org');
  });

  it('reads SMTP_PASSWORD_FILE (without its final newline), refusing it beside a password in the URL or without a user', () => {
    const file = path.join(dir, 'pw');
    writeFileSync(file, 'from the file \n');
    expect(loadConfig({ SMTP_URL: 'smtp://alerts@mail.example.org', MAIL_FROM: 'a@example.org', SMTP_PASSWORD_FILE: file }).mail!.password).toBe(
      'from the file ',
    );
    expect(refusal({ ...BASE, SMTP_PASSWORD_FILE: file })).toMatch(/SMTP_PASSWORD_FILE: .*not both/);
    expect(refusal({ SMTP_URL: 'smtp://mail.example.org', MAIL_FROM: 'a@example.org', SMTP_PASSWORD_FILE: file })).toMatch(
      /SMTP_PASSWORD_FILE: SMTP_URL names no user/,
    );
    expect(refusal({ SMTP_URL: 'smtp://u@mail.example.org', MAIL_FROM: 'a@example.org', SMTP_PASSWORD_FILE: path.join(dir, 'missing') })).toContain(
      'SMTP_PASSWORD_FILE: cannot read the file',
    );
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(refusal({ SMTP_URL: 'smtp://u@mail.example.org', MAIL_FROM: 'a@example.org', SMTP_PASSWORD_FILE: empty })).toContain('the file is empty');
    const message = refusal({ SMTP_URL: 'smtp://u:hunter2@mail.example.org', MAIL_FROM: 'a@example.org', SMTP_PASSWORD_FILE: file });
    expect(message).not.toContain('hunter2');
    expect(message).not.toContain('from the file');
  });

  it('SMTP_TLS=off only for a relay on this machine, and never with smtps://', () => {
    expect(loadConfig({ SMTP_URL: 'smtp://127.0.0.1:25', MAIL_FROM: 'a@example.org', SMTP_TLS: 'off' }).mail!.tls).toBe(false);
    expect(loadConfig({ SMTP_URL: 'smtp://localhost:25', MAIL_FROM: 'a@example.org', SMTP_TLS: 'off' }).mail!.tls).toBe(false);
    expect(loadConfig({ SMTP_URL: 'smtp://[::1]:25', MAIL_FROM: 'a@example.org', SMTP_TLS: 'off' }).mail!.tls).toBe(false);
    expect(refusal({ ...BASE, SMTP_TLS: 'off' })).toMatch(/SMTP_TLS: off is only for a relay on this machine/);
    // Names that only look like loopback addresses (smtp:// hosts are not normalised) are somewhere else.
    for (const host of ['127.mail.example.net', '127.0.0.1.example.net', 'localhost.example.net', '[::2]']) {
      expect(refusal({ SMTP_URL: `smtp://u:pw@${host}:25`, MAIL_FROM: 'a@example.org', SMTP_TLS: 'off' }), host).toMatch(/SMTP_TLS: off is only/);
    }
    expect(loadConfig({ SMTP_URL: 'smtp://127.1.2.3:25', MAIL_FROM: 'a@example.org', SMTP_TLS: 'off' }).mail!.tls).toBe(false);
    expect(refusal({ SMTP_URL: 'smtps://127.0.0.1', MAIL_FROM: 'a@example.org', SMTP_TLS: 'off' })).toMatch(/SMTP_TLS: smtps:\/\/ always uses TLS/);
    expect(refusal({ ...BASE, SMTP_TLS: 'no' })).toContain('SMTP_TLS');
  });

  it('reads SMTP_CA_FILE as PEM, and refuses a file that is not one', () => {
    const pem = path.join(dir, 'ca.pem');
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(loadConfig({ ...BASE, SMTP_CA_FILE: pem }).mail!.ca).toContain('BEGIN CERTIFICATE');
    const junk = path.join(dir, 'junk');
    writeFileSync(junk, 'hello');
    expect(refusal({ ...BASE, SMTP_CA_FILE: junk })).toContain('SMTP_CA_FILE: the file holds no PEM certificate');
    expect(refusal({ ...BASE, SMTP_CA_FILE: path.join(dir, 'none') })).toContain('SMTP_CA_FILE: cannot read the file');
  });

  it('tells one address from anything else', () => {
    expect(mailFromAddress('Harbour alerts <alerts@example.org>')).toBe('alerts@example.org');
    expect(mailFromAddress('alerts@example.org')).toBe('alerts@example.org');
    expect(mailFromAddress('Harbour <alerts@example.org>\r\nBcc: x@y.org')).toBeNull();
    expect(isMailAddress('someone@example.org')).toBe(true);
    for (const bad of ['someone', 'someone@', '@example.org', 'a b@example.org', 'a@example.org\n', 'A <a@example.org>', 'a@localhost']) {
      expect(isMailAddress(bad), bad).toBe(false);
    }
  });
});
