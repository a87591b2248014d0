import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

/**
 * Configuration is read once from the environment, validated and frozen.
 * A bad or missing variable stops start-up with a message naming it.
 */

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const MIN_SECRET = 32;

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: positiveInt(0, 65535).default(3000),
  // A second listener for the Tor onion service, speaking the PROXY protocol
  // (HiddenServiceExportCircuitID haproxy), so each Tor circuit is its own
  // client for the rate limits. Unset: no onion listener.
  ONION_PORT: positiveInt(1, 65535).optional(),
  ONION_HOST: z.string().min(1).default('127.0.0.1'),
  // The `hostname` file Tor writes in the onion service's HiddenServiceDir
  // (or systemd's copy of it, deploy/harbour.service): the address sent as
  // Onion-Location and shown on the landing page. It wins over the
  // onion_address setting while it holds a valid address.
  ONION_HOSTNAME_FILE: z.string().min(1).optional(),
  // Unset: derived from HOST and PORT (see publicUrlOf), so links printed at
  // set-up and in invitations point at the port the server really uses.
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_POOL_SIZE: positiveInt(1, 200).default(10),
  DATABASE_CONNECT_TIMEOUT_SECONDS: positiveInt(1, 120).default(5),
  DATABASE_STATEMENT_TIMEOUT_SECONDS: positiveInt(1, 3600).default(15),
  DATABASE_LOCK_TIMEOUT_SECONDS: positiveInt(1, 600).default(5),
  DATA_DIR: z.string().min(1).default('./data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'silent']).default('info'),
  TRUST_PROXY: positiveInt(0, 10).default(0),
  MAX_FILE_MB: positiveInt(1, 2048).default(30),
  MAX_REPORT_MB: positiveInt(1, 4096).default(100),
  MAX_FILES_PER_UPLOAD: positiveInt(1, 50).default(10),
  // Embedded database only: refuse new reports and files below this much free
  // disk. Unset: room for a WAL segment and the largest upload written twice.
  MIN_FREE_DISK_MB: positiveInt(1, 1_000_000).optional(),
  SUBMISSIONS_PER_HOUR_PER_IP: positiveInt(1, 100000).default(10),
  SUBMISSIONS_PER_HOUR_TOTAL: positiveInt(1, 10000000).default(1000),
  RECEIPT_ATTEMPTS_PER_HOUR_PER_IP: positiveInt(1, 100000).default(10),
  RECEIPT_ATTEMPTS_PER_HOUR_TOTAL: positiveInt(1, 10000000).default(2000),
  REPORTER_SESSION_MINUTES: positiveInt(5, 240).default(30),
  REQUEST_TIMEOUT_SECONDS: positiveInt(10, 3600).default(900),
  SHUTDOWN_GRACE_SECONDS: positiveInt(1, 600).default(10),
  QUICK_EXIT_URL: z.url({ protocol: /^https?$/ }).default('https://www.bbc.co.uk/weather'),
  RATE_LIMITS: bool.default(true),
  // The secret the day's key for client-address hashes is derived from (P10); never stored in the database.
  IP_HASH_SECRET: z.string().min(MIN_SECRET, `must be at least ${MIN_SECRET} characters (e.g. openssl rand -base64 32)`).optional(),
  IP_HASH_SECRET_FILE: z.string().min(1).optional(),
  TRIAGE_TARGET_HOURS: positiveInt(1, 24 * 60).default(48),
  URGENT_TRIAGE_TARGET_HOURS: positiveInt(1, 48).default(12),
  REPLY_TARGET_DAYS: positiveInt(1, 90).default(7),
  STAFF_IDLE_MINUTES: positiveInt(5, 240).default(30),
  STAFF_SESSION_HOURS: positiveInt(1, 24).default(12),
  SIGN_IN_FAILURES_PER_ACCOUNT: positiveInt(1, 1000).default(5),
  SIGN_IN_FAILURES_PER_IP: positiveInt(1, 10000).default(20),
  INVITATION_DAYS: positiveInt(1, 30).default(7),
  CLOSED_RETENTION_DAYS: positiveInt(1, 3650).default(365),
  // E-mail alerts to staff (issue 11): off unless SMTP_URL is set.
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^/?#\s]+\/?$/i, 'must be smtp://[user[:password]@]host[:port] or smtps://… (nothing after the host and port)')
    .optional(),
  SMTP_PASSWORD_FILE: z.string().min(1).optional(),
  MAIL_FROM: z.string().optional(),
  SMTP_TLS: z.enum(['on', 'off'], { error: () => 'must be on (the default) or off (only for a relay on this machine)' }).default('on'),
  SMTP_CA_FILE: z.string().min(1).optional(),
  ALERT_POLL_SECONDS: positiveInt(1, 300).default(2),
  ALERT_DIGEST_HOUR: positiveInt(0, 23).default(8),
});

export type Config = Readonly<{
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  /** The onion service's listener (PROXY protocol from Tor), or null. */
  onion: Readonly<{ host: string; port: number }> | null;
  /** Tor's `hostname` file for the onion service (absolute), re-read while running (web/onion.ts); null when unset. */
  onionHostnameFile: string | null;
  publicUrl: URL;
  /** Cookies get `Secure` and the `__Host-` prefix when served over HTTPS. */
  secureCookies: boolean;
  databaseUrl: string | null;
  databasePoolSize: number;
  /** Limits that turn a lost, locked or stuck database into an error page within seconds. */
  database: Readonly<{ acquireTimeoutMs: number; statementTimeoutMs: number; lockTimeoutMs: number }>;
  dataDir: string;
  /** Below this much free space under DATA_DIR, new reports and files are refused (embedded database). */
  minFreeDiskBytes: number;
  logLevel: string;
  trustProxy: number;
  limits: Readonly<{
    fileBytes: number;
    reportBytes: number;
    filesPerUpload: number;
    fieldBytes: number;
    formBytes: number;
  }>;
  rateLimits: Readonly<{
    enabled: boolean;
    submissionsPerIp: number;
    submissionsTotal: number;
    receiptAttemptsPerIp: number;
    receiptAttemptsTotal: number;
  }>;
  /**
   * The secret behind the day's key for hashing client addresses, from
   * IP_HASH_SECRET or IP_HASH_SECRET_FILE; null when neither is set (each
   * process then makes its own, in memory only).
   */
  ipHashSecret: string | null;
  reporterSessionMinutes: number;
  /** Overdue thresholds for the queue: untriaged past these, or the reporter waiting past the reply target. */
  targets: Readonly<{ triageHours: number; urgentTriageHours: number; replyDays: number }>;
  /** Closed cases are deleted this many days after closing (unless a caseworker extended them). */
  closedRetentionDays: number;
  staff: Readonly<{
    idleMinutes: number;
    sessionHours: number;
    failuresPerAccount: number;
    failuresPerIp: number;
    invitationDays: number;
  }>;
  requestTimeoutMs: number;
  /** How long a stop waits for requests in flight before it ends them. */
  shutdownGraceMs: number;
  quickExitUrl: string;
  /** E-mail alerts to staff (issue 11); null when SMTP_URL is unset (alerts off). */
  mail: MailConfig | null;
}>;

export type MailConfig = Readonly<{
  /** SMTP_URL without its password (which is in `password`, from the URL or SMTP_PASSWORD_FILE). */
  url: URL;
  password: string | null;
  from: string;
  /** STARTTLS (or smtps://) required; false only with SMTP_TLS=off, for a relay on this machine. */
  tls: boolean;
  /** PEM of a private CA the SMTP server's certificate is checked against (SMTP_CA_FILE), or null for the system's. */
  ca: string | null;
  /** How often each instance's worker looks for alerts that are due. */
  pollMs: number;
  /** The hour (UK time, 0-23) the daily digest goes out. */
  digestHour: number;
}>;

export class ConfigError extends Error {}

/**
 * localhost, or an IP address on this machine (127.0.0.0/8, ::1). The host of
 * an smtp:// URL is not normalised (not a special scheme), so a name such as
 * 127.mail.example.net must not pass for 127.x: only a real IP address is read as one.
 */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

const invalid = (variable: string, problem: string) => new ConfigError(`Invalid configuration:\n  ${variable}: ${problem}`);

/** The address a browser on this machine uses for HOST:PORT (loopback and wildcard addresses read as localhost). */
export function publicUrlOf(host: string, port: number): string {
  const local = ['127.0.0.1', '::1', '0.0.0.0', '::', 'localhost', ''].includes(host);
  const name = local ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

/** The secret itself, or the file that holds it (a container secret), never both. */
function ipHashSecret(value: string | undefined, file: string | undefined): string | null {
  if (value !== undefined && file !== undefined) {
    throw new ConfigError('Invalid configuration:\n  IP_HASH_SECRET_FILE: set either IP_HASH_SECRET or IP_HASH_SECRET_FILE, not both');
  }
  if (file === undefined) return value ?? null;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError('Invalid configuration:\n  IP_HASH_SECRET_FILE: cannot read the file');
  }
  const secret = text.trim(); // files usually end with a newline
  if (secret.length < MIN_SECRET) {
    throw new ConfigError(`Invalid configuration:\n  IP_HASH_SECRET_FILE: the file must hold at least ${MIN_SECRET} characters`);
  }
  return secret;
}

/** `alerts@example.org` or `Harbour <alerts@example.org>`: one address, nothing that could break a header. */
const ADDRESS = /^[^\s@<>"(),;:\\[\]]+@[^\s@<>"(),;:\\[\]]+\.[^\s@<>"(),;:\\[\]]+$/;
const NAMED_ADDRESS = /^([^<>"\p{Cc}]*?)\s*<([^<>]+)>$/u;

/** The bare address of a MAIL_FROM value (for the envelope), or null when it is not one address. */
export function mailFromAddress(from: string): string | null {
  if (/\p{Cc}/u.test(from)) return null;
  const named = NAMED_ADDRESS.exec(from.trim());
  const address = named ? named[2]!.trim() : from.trim();
  return ADDRESS.test(address) ? address : null;
}

/** Whether a string is one plain e-mail address (no name, nothing around it). */
export function isMailAddress(value: string): boolean {
  return ADDRESS.test(value) && !/\p{Cc}/u.test(value);
}

/** A v3 onion service address: 56 base32 characters, then .onion. */
export const ONION_V3 = /^[a-z2-7]{56}\.onion$/;

/**
 * ONION_HOSTNAME_FILE, resolved. Tor may not have written it yet when
 * Harbour starts (it is re-read while running), so a missing file is
 * accepted; one that exists must be readable and hold one v3 address.
 */
function onionHostnameFile(file: string | undefined): string | null {
  if (file === undefined) return null;
  const resolved = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(resolved, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return resolved;
    throw invalid('ONION_HOSTNAME_FILE', 'cannot read the file (Tor keeps its directory to itself: see docs/deploy.md, "Tor")');
  }
  if (!ONION_V3.test(text.trim().toLowerCase())) {
    throw invalid('ONION_HOSTNAME_FILE', "the file does not hold a v3 onion address (Tor's hostname file: 56 letters and digits, then .onion)");
  }
  return resolved;
}

type Env = z.output<typeof schema>;

/**
 * SMTP_URL and its companions, checked together. The password (from the URL
 * or SMTP_PASSWORD_FILE, never both) is kept apart from the URL, so nothing
 * that prints the URL prints it; no message here ever quotes either.
 */
function mailConfig(c: Env): MailConfig | null {
  if (!c.SMTP_URL) return null;
  let url: URL;
  try {
    url = new URL(c.SMTP_URL);
  } catch {
    throw invalid('SMTP_URL', 'is not a valid URL (a password with special characters must be percent-encoded, or use SMTP_PASSWORD_FILE)');
  }
  if (!url.hostname) throw invalid('SMTP_URL', 'names no host');
  let password: string | null;
  try {
    password = url.password ? decodeURIComponent(url.password) : null;
    decodeURIComponent(url.username);
  } catch {
    throw invalid('SMTP_URL', 'the user or password has a bad percent-encoding');
  }
  url.password = '';
  if (c.SMTP_PASSWORD_FILE !== undefined) {
    if (password !== null) throw invalid('SMTP_PASSWORD_FILE', 'set the password either in SMTP_URL or in SMTP_PASSWORD_FILE, not both');
    if (!url.username) throw invalid('SMTP_PASSWORD_FILE', 'SMTP_URL names no user to sign in as (smtp://user@host:587)');
    let text: string;
    try {
      text = readFileSync(c.SMTP_PASSWORD_FILE, 'utf8');
    } catch {
      throw invalid('SMTP_PASSWORD_FILE', 'cannot read the file');
    }
    password = text.replace(/\r?\n$/, ''); // files usually end with a newline; the rest is the password as written
    if (!password) throw invalid('SMTP_PASSWORD_FILE', 'the file is empty');
  }
  if (c.MAIL_FROM === undefined) throw invalid('MAIL_FROM', 'is required with SMTP_URL: the address alerts are sent from');
  if (!mailFromAddress(c.MAIL_FROM)) throw invalid('MAIL_FROM', 'must be one address, e.g. alerts@example.org or Harbour <alerts@example.org>');
  const tls = c.SMTP_TLS === 'on';
  if (!tls && url.protocol === 'smtps:') throw invalid('SMTP_TLS', 'smtps:// always uses TLS; for a relay without TLS use smtp://');
  if (!tls && !isLoopbackHost(url.hostname)) {
    throw invalid(
      'SMTP_TLS',
      'off is only for a relay on this machine (localhost, 127.0.0.1 or ::1): anywhere else, alerts and the password would cross the network in the clear',
    );
  }
  let ca: string | null = null;
  if (c.SMTP_CA_FILE !== undefined) {
    try {
      ca = readFileSync(c.SMTP_CA_FILE, 'utf8');
    } catch {
      throw invalid('SMTP_CA_FILE', 'cannot read the file');
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw invalid('SMTP_CA_FILE', 'the file holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  }
  return Object.freeze({
    url,
    password,
    from: c.MAIL_FROM.trim(),
    tls,
    ca,
    pollMs: c.ALERT_POLL_SECONDS * 1000,
    digestHour: c.ALERT_DIGEST_HOUR,
  });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, as in most .env loaders.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  const publicUrl = new URL(c.PUBLIC_URL ?? publicUrlOf(c.HOST, c.PORT));
  const mb = 1024 * 1024;
  return Object.freeze({
    env: c.NODE_ENV,
    host: c.HOST,
    port: c.PORT,
    onion: c.ONION_PORT ? Object.freeze({ host: c.ONION_HOST, port: c.ONION_PORT }) : null,
    onionHostnameFile: onionHostnameFile(c.ONION_HOSTNAME_FILE),
    publicUrl,
    secureCookies: publicUrl.protocol === 'https:',
    databaseUrl: c.DATABASE_URL ?? null,
    databasePoolSize: c.DATABASE_POOL_SIZE,
    database: Object.freeze({
      acquireTimeoutMs: c.DATABASE_CONNECT_TIMEOUT_SECONDS * 1000,
      statementTimeoutMs: c.DATABASE_STATEMENT_TIMEOUT_SECONDS * 1000,
      lockTimeoutMs: c.DATABASE_LOCK_TIMEOUT_SECONDS * 1000,
    }),
    dataDir: path.resolve(c.DATA_DIR),
    minFreeDiskBytes: (c.MIN_FREE_DISK_MB ?? 16 + 2 * c.MAX_REPORT_MB + 64) * mb,
    logLevel: c.LOG_LEVEL,
    trustProxy: c.TRUST_PROXY,
    limits: Object.freeze({
      fileBytes: c.MAX_FILE_MB * mb,
      reportBytes: c.MAX_REPORT_MB * mb,
      filesPerUpload: c.MAX_FILES_PER_UPLOAD,
      fieldBytes: 64 * 1024,
      formBytes: 256 * 1024,
    }),
    rateLimits: Object.freeze({
      enabled: c.RATE_LIMITS,
      submissionsPerIp: c.SUBMISSIONS_PER_HOUR_PER_IP,
      submissionsTotal: c.SUBMISSIONS_PER_HOUR_TOTAL,
      receiptAttemptsPerIp: c.RECEIPT_ATTEMPTS_PER_HOUR_PER_IP,
      receiptAttemptsTotal: c.RECEIPT_ATTEMPTS_PER_HOUR_TOTAL,
    }),
    ipHashSecret: ipHashSecret(c.IP_HASH_SECRET, c.IP_HASH_SECRET_FILE),
    reporterSessionMinutes: c.REPORTER_SESSION_MINUTES,
    targets: Object.freeze({
      triageHours: c.TRIAGE_TARGET_HOURS,
      urgentTriageHours: c.URGENT_TRIAGE_TARGET_HOURS,
      replyDays: c.REPLY_TARGET_DAYS,
    }),
    closedRetentionDays: c.CLOSED_RETENTION_DAYS,
    staff: Object.freeze({
      idleMinutes: c.STAFF_IDLE_MINUTES,
      sessionHours: c.STAFF_SESSION_HOURS,
      failuresPerAccount: c.SIGN_IN_FAILURES_PER_ACCOUNT,
      failuresPerIp: c.SIGN_IN_FAILURES_PER_IP,
      invitationDays: c.INVITATION_DAYS,
    }),
    requestTimeoutMs: c.REQUEST_TIMEOUT_SECONDS * 1000,
    shutdownGraceMs: c.SHUTDOWN_GRACE_SECONDS * 1000,
    quickExitUrl: c.QUICK_EXIT_URL,
    mail: mailConfig(c),
  });
}
