import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';

function errorOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('applies the defaults to an empty environment', () => {
    const c = loadConfig({});
    expect(c.env).toBe('development');
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(3000);
    expect(c.publicUrl.href).toBe('http://localhost:3000/');
    expect(c.secureCookies).toBe(false);
    expect(c.databaseUrl).toBeNull();
    expect(c.databasePoolSize).toBe(10);
    expect(c.dataDir).toBe(path.resolve('data'));
    expect(path.isAbsolute(c.dataDir)).toBe(true);
    expect(c.logLevel).toBe('info');
    expect(c.trustProxy).toBe(0);
    expect(c.limits.fileBytes).toBe(30 * 1024 * 1024);
    expect(c.limits.reportBytes).toBe(100 * 1024 * 1024);
    expect(c.limits.filesPerUpload).toBe(10);
    expect(c.rateLimits.enabled).toBe(true);
    expect(c.reporterSessionMinutes).toBe(30);
    expect(c.requestTimeoutMs).toBe(900_000);
    expect(c.quickExitUrl).toBe('https://www.bbc.co.uk/weather');
  });

  it('does not read process.env when given an environment', () => {
    const saved = process.env['PORT'];
    process.env['PORT'] = '4567';
    try {
      expect(loadConfig({}).port).toBe(3000);
    } finally {
      if (saved === undefined) delete process.env['PORT'];
      else process.env['PORT'] = saved;
    }
  });

  it('reads and converts the variables it is given', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      HOST: '0.0.0.0',
      PORT: '8080',
      PUBLIC_URL: 'https://report.example.org',
      DATABASE_URL: 'postgres://harbour@db/harbour',
      DATA_DIR: '/var/lib/harbour',
      MAX_FILE_MB: '5',
      MAX_REPORT_MB: '20',
      RATE_LIMITS: 'false',
      REQUEST_TIMEOUT_SECONDS: '60',
    });
    expect(c.env).toBe('production');
    expect(c.host).toBe('0.0.0.0');
    expect(c.port).toBe(8080);
    expect(c.publicUrl.origin).toBe('https://report.example.org');
    expect(c.databaseUrl).toBe('postgres://harbour@db/harbour');
    expect(c.dataDir).toBe(path.resolve('/var/lib/harbour'));
    expect(c.limits.fileBytes).toBe(5 * 1024 * 1024);
    expect(c.limits.reportBytes).toBe(20 * 1024 * 1024);
    expect(c.rateLimits.enabled).toBe(false);
    expect(c.requestTimeoutMs).toBe(60_000);
  });

  it('resolves a relative DATA_DIR to an absolute path', () => {
    expect(loadConfig({ DATA_DIR: 'var/files' }).dataDir).toBe(path.join(process.cwd(), 'var', 'files'));
  });

  it('accepts postgresql:// as well as postgres://', () => {
    expect(loadConfig({ DATABASE_URL: 'postgresql://u@h/d' }).databaseUrl).toBe('postgresql://u@h/d');
  });

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['0', false],
    ['no', false],
  ])('reads RATE_LIMITS=%s as %s', (value, enabled) => {
    expect(loadConfig({ RATE_LIMITS: value }).rateLimits.enabled).toBe(enabled);
  });

  it('sets secureCookies only for an https PUBLIC_URL', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://harbour.example.org' }).secureCookies).toBe(true);
    expect(loadConfig({ PUBLIC_URL: 'http://harbour.example.org' }).secureCookies).toBe(false);
    expect(loadConfig({}).secureCookies).toBe(false);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'x postgres://y'],
    ['PUBLIC_URL', 'ftp://x'],
    ['PUBLIC_URL', 'not a url'],
    ['QUICK_EXIT_URL', 'javascript:alert(1)'],
    ['MAX_FILE_MB', '0'],
    ['MAX_FILE_MB', 'lots'],
    ['NODE_ENV', 'staging'],
    ['LOG_LEVEL', 'verbose'],
    ['RATE_LIMITS', 'maybe'],
    ['DATABASE_POOL_SIZE', '0'],
    ['REPORTER_SESSION_MINUTES', '1'],
  ])('refuses %s=%s and names the variable', (name, value) => {
    const err = errorOf({ [name]: value });
    expect(err.message).toMatch(new RegExp(`(^|\\s)${name}:`, 'm'));
  });

  it('names every bad variable at once', () => {
    const err = errorOf({ PORT: 'abc', MAX_FILE_MB: '0', PUBLIC_URL: 'ftp://x' });
    expect(err.message).toContain('PORT');
    expect(err.message).toContain('MAX_FILE_MB');
    expect(err.message).toContain('PUBLIC_URL');
  });

  it('does not echo the bad value of DATABASE_URL (it may carry a password)', () => {
    const err = errorOf({ DATABASE_URL: 'mysql://admin:hunter2@db/x' });
    expect(err.message).not.toContain('hunter2');
  });

  it('treats empty strings as unset', () => {
    const c = loadConfig({
      PORT: '',
      DATABASE_URL: '',
      PUBLIC_URL: '',
      DATA_DIR: '',
      MAX_FILE_MB: '',
      RATE_LIMITS: '',
      NODE_ENV: '',
    });
    expect(c.port).toBe(3000);
    expect(c.databaseUrl).toBeNull();
    expect(c.publicUrl.href).toBe('http://localhost:3000/');
    expect(c.dataDir).toBe(path.resolve('data'));
    expect(c.limits.fileBytes).toBe(30 * 1024 * 1024);
    expect(c.rateLimits.enabled).toBe(true);
    expect(c.env).toBe('development');
  });

  it('returns a frozen configuration, nested objects included', () => {
    const c = loadConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.limits)).toBe(true);
    expect(Object.isFrozen(c.rateLimits)).toBe(true);
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (c.limits as { fileBytes: number }).fileBytes = 1;
    }).toThrow(TypeError);
    expect(c.port).toBe(3000);
  });
});
