import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server on 127.0.0.1 (the smtp-server package) for the alert
 * tests: it keeps every message it accepts, byte for byte, and can refuse
 * (any reply code), go down and come back on the same port, require
 * STARTTLS or implicit TLS with a self-signed certificate made here by
 * openssl, and require a user name and password.
 */

export type ReceivedMail = { from: string; to: string[]; raw: Buffer; at: number };

export type SmtpOptions = {
  /** 'none': no STARTTLS offered; 'starttls' (the default): offered, with the test certificate; 'implicit': TLS from the first byte (smtps://). */
  tls?: 'none' | 'starttls' | 'implicit';
  auth?: { user: string; pass: string };
};

export type TestSmtp = {
  port: number;
  received: ReceivedMail[];
  /** null: accept; a code (451, 550 …): refuse every recipient with it. */
  refuseWith: number | null;
  /** While true, new connections are accepted and then never greeted (a server that hangs). */
  hang: boolean;
  /** Connections left hanging so far. */
  hung: number;
  /** The CA file that makes the test certificate valid (SMTP_CA_FILE). */
  caFile: string;
  /** SMTP_URL, MAIL_FROM and SMTP_CA_FILE for this server (the right scheme, the user and password when it needs them). */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Closes the listener (connections are refused) until up(). */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Resolves once at least `count` messages have arrived in all (not only new ones). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
};

let cert: { key: string; cert: string; file: string } | null = null;

/** A self-signed certificate for 127.0.0.1 and localhost, made once per test file. */
export function testCertificate(): { key: string; cert: string; file: string } {
  if (cert) return cert;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'harbour-smtp-cert-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  cert = { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), file: certFile };
  return cert;
}

export async function startSmtp(opts: SmtpOptions = {}): Promise<TestSmtp> {
  const tls = opts.tls ?? 'starttls';
  const { key, cert: certificate, file } = testCertificate();
  const received: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  let server: SMTPServer | null = null;
  let port = 0;

  const make = () =>
    new SMTPServer({
      secure: tls === 'implicit',
      key,
      cert: certificate,
      logger: false,
      banner: 'test',
      closeTimeout: 200,
      disableReverseLookup: true,
      authOptional: !opts.auth,
      allowInsecureAuth: tls === 'none',
      disabledCommands: [...(tls === 'none' ? ['STARTTLS'] : []), ...(opts.auth ? [] : ['AUTH'])],
      onConnect(_session, cb) {
        if (!smtp.hang) return cb();
        // Never answered: the client waits for a greeting that does not come (until down()).
        smtp.hung += 1;
      },
      onAuth(auth, _session, cb) {
        if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) return cb(null, { user: auth.username });
        const err = new Error('Invalid username or password') as Error & { responseCode: number };
        err.responseCode = 535;
        cb(err);
      },
      onRcptTo(_address, _session, cb) {
        if (smtp.refuseWith === null) return cb();
        const err = new Error(smtp.refuseWith >= 500 ? 'Mailbox unavailable' : 'Try again later') as Error & { responseCode: number };
        err.responseCode = smtp.refuseWith;
        cb(err);
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks),
            at: Date.now(),
          });
          for (const w of waiters) w();
          cb();
        });
      },
    });

  const listen = (s: SMTPServer, p: number) =>
    new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => {
        s.removeListener('error', reject);
        s.on('error', () => undefined); // a client that hangs up mid-command is not the test's failure
        resolve((s.server.address() as { port: number }).port);
      });
    });
  const closeServer = (s: SMTPServer) => new Promise<void>((resolve) => s.close(() => resolve()));

  server = make();
  port = await listen(server, 0);

  const smtp: TestSmtp = {
    port,
    received,
    refuseWith: null,
    hang: false,
    hung: 0,
    caFile: file,
    env(extra = {}) {
      const scheme = tls === 'implicit' ? 'smtps' : 'smtp';
      const user = opts.auth ? `${encodeURIComponent(opts.auth.user)}:${encodeURIComponent(opts.auth.pass)}@` : '';
      return {
        SMTP_URL: `${scheme}://${user}127.0.0.1:${port}`,
        MAIL_FROM: 'Harbour alerts <alerts@harbour.test>',
        ...(tls === 'none' ? { SMTP_TLS: 'off' } : { SMTP_CA_FILE: file }),
        ...extra,
      };
    },
    async down() {
      if (!server) return;
      const s = server;
      server = null;
      await closeServer(s);
    },
    async up() {
      if (server) return;
      server = make();
      await listen(server, port);
    },
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} messages, got ${received.length}`);
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            waiters.delete(done);
            resolve();
          };
          const timer = setTimeout(done, left);
          waiters.add(done);
        });
      }
      return received.slice();
    },
    async close() {
      await smtp.down();
    },
  };
  return smtp;
}

/** A received message, parsed (mailparser). */
export function parse(mail: ReceivedMail | Buffer | string): Promise<ParsedMail> {
  return simpleParser(Buffer.isBuffer(mail) || typeof mail === 'string' ? mail : mail.raw);
}
