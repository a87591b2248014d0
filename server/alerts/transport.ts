import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import nodemailer from 'nodemailer';
import { mailFromAddress, type MailConfig } from '../config.js';
import type { MailErrorClass } from './status.js';

/**
 * The one SMTP connection code: nodemailer, configured from MailConfig, with
 * time limits well under the worker's lease, and failures sorted into the
 * classes an administrator acts on. Nothing here logs: the worker and the
 * CLI say what went wrong, by class, without the server's answer (it can
 * quote addresses).
 */

export type MailTimeouts = { connectMs: number; greetingMs: number; socketMs: number; dnsMs: number };

// Reaching and greeting a server is quick or broken, so those limits are short. The socket limit also
// covers the wait for the answer to the message's final dot, which RFC 5321 (4.5.3.2.6) allows to
// take minutes (content filters): giving up sooner on a server that then queues the message anyway
// would send it again on every retry. 150 s is a compromise with a worker that sends one at a time.
export const DEFAULT_TIMEOUTS: MailTimeouts = { connectMs: 10_000, greetingMs: 10_000, socketMs: 150_000, dnsMs: 10_000 };

export type Mailer = {
  /** Sends one message as built by compose.ts (its bytes exactly, headers included) to one address. */
  send(to: string, raw: Buffer, signal?: AbortSignal): Promise<void>;
  close(): void;
};

export function createMailer(mail: MailConfig, timeouts: MailTimeouts = DEFAULT_TIMEOUTS): Mailer {
  const implicitTls = mail.url.protocol === 'smtps:';
  const host = mail.url.hostname.replace(/^\[(.*)\]$/, '$1');
  const from = mailFromAddress(mail.from)!; // checked when the configuration was read
  const user = mail.url.username ? decodeURIComponent(mail.url.username) : null;
  const transport = nodemailer.createTransport({
    host,
    port: mail.url.port ? Number(mail.url.port) : implicitTls ? 465 : 587,
    secure: implicitTls,
    // STARTTLS is required on smtp:// unless SMTP_TLS=off (a relay on this
    // machine), which then does not try it at all: a local relay's
    // certificate is usually one nobody can check.
    requireTLS: mail.tls && !implicitTls,
    ignoreTLS: !mail.tls,
    ...(user ? { auth: { user, pass: mail.password ?? '' } } : {}),
    // The name the certificate is checked against is the host in SMTP_URL (SNI only for a name, as TLS allows).
    tls: { minVersion: 'TLSv1.2', ...(isIP(host) ? {} : { servername: host }), ...(mail.ca ? { ca: mail.ca } : {}) },
    // The EHLO name: the sender's domain, not this machine's host name (which
    // would otherwise appear in every Received header).
    name: from.split('@')[1]!,
    connectionTimeout: timeouts.connectMs,
    greetingTimeout: timeouts.greetingMs,
    socketTimeout: timeouts.socketMs,
    dnsTimeout: timeouts.dnsMs,
    socketCloseTimeout: 1000,
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
    debug: false,
  });
  return {
    async send(to, raw, signal) {
      await transport.sendMail({ envelope: { from, to: [to] }, raw, ...(signal ? { signal } : {}) });
    },
    close: () => transport.close(),
  };
}

type SmtpError = { code?: unknown; originalCode?: unknown; responseCode?: unknown; message?: unknown; reason?: unknown };

// Node's and OpenSSL's names for a certificate or handshake that failed.
const TLS_CODES = /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|ERR_TLS_|ERR_SSL_|EPROTO$|HOSTNAME_MISMATCH)/;
const TLS_WORDS = /certificate|self[- ]signed|\bssl\b|\btls\b|handshake|wrong version number|unable to verify/i;
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'ENODATA', 'ESERVFAIL', 'ENONAME']);

/** The class of a failed delivery, from nodemailer's error codes (and Node's beneath them). */
export function classifyMailError(err: unknown): MailErrorClass {
  const e = (err ?? {}) as SmtpError;
  const code = typeof e.code === 'string' ? e.code : '';
  const original = typeof e.originalCode === 'string' ? e.originalCode : '';
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : 0;
  const message = typeof e.message === 'string' ? e.message : '';
  if (code === 'EDNS' || DNS_CODES.has(code) || DNS_CODES.has(original)) return 'dns';
  if (code === 'ETLS' || code === 'EREQUIRETLS' || TLS_CODES.test(code) || TLS_CODES.test(original)) return 'tls';
  if (code === 'EAUTH' || code === 'ENOAUTH') return 'auth';
  if (code === 'ETIMEDOUT' || original === 'ETIMEDOUT' || code === 'EABORT') return 'timeout';
  if (code === 'EENVELOPE' || code === 'EMESSAGE' || responseCode >= 400) return 'refused';
  if (code === 'ECONNECTION' || code === 'ESOCKET' || code === 'EPROTOCOL') {
    // A TLS failure on an smtps:// connection arrives as a socket error.
    return TLS_WORDS.test(message) ? 'tls' : 'connection';
  }
  return 'other';
}

/** Failures of the connection itself: every other message in the same round would fail the same way. */
export const CONNECTION_CLASSES: ReadonlySet<MailErrorClass> = new Set(['dns', 'tls', 'auth', 'timeout', 'connection']);

/**
 * What to check, for each class: the log line and `harbour mail test` say
 * this, naming the variable. Never the server's answer or an address.
 */
export const MAIL_ERROR_HINTS: Readonly<Record<MailErrorClass, string>> = {
  dns: "the SMTP server's name does not resolve: check the host in SMTP_URL (and this machine's DNS)",
  tls: "TLS failed: check that SMTP_URL uses smtps:// for implicit TLS (usually port 465) or smtp:// with STARTTLS (usually 587), and that the server's certificate is valid for the host in SMTP_URL (for a private CA, set SMTP_CA_FILE)",
  auth: 'the SMTP server refused the user name or password: check the user in SMTP_URL and the password (in SMTP_URL or SMTP_PASSWORD_FILE)',
  refused: 'the SMTP server refused the message: check that MAIL_FROM is an address this server may send from, and the recipient address',
  timeout:
    'the SMTP server did not answer in time: check the host and port in SMTP_URL, any firewall between, and the scheme (smtps:// for a server that expects TLS at once, usually on port 465)',
  connection:
    'could not connect to the SMTP server, or it closed the connection: check the host and port in SMTP_URL, and that the server is running',
  encryption:
    "an alert could not be encrypted to a staff member's OpenPGP key (it is not sent in plaintext): they should paste a valid key on their account page, or remove it",
  other: 'delivery failed for an unexpected reason: run `harbour mail test --to ADDRESS` for details',
};

/**
 * `harbour mail test`: the fixed test message, straight to the SMTP server
 * (not through the outbox), and the class of the failure if it fails.
 */
export async function sendTestMessage(
  mail: MailConfig,
  to: string,
  compose: (id: string) => Promise<Buffer>,
  timeouts: MailTimeouts = DEFAULT_TIMEOUTS,
): Promise<{ error: MailErrorClass; code: string | null } | null> {
  const mailer = createMailer(mail, timeouts);
  try {
    await mailer.send(to, await compose(randomUUID()), AbortSignal.timeout(60_000));
    return null;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return { error: classifyMailError(err), code: typeof code === 'string' ? code : null };
  } finally {
    mailer.close();
  }
}
