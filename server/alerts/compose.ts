import { randomBytes } from 'node:crypto';
import MimeNode from 'nodemailer/lib/mime-node';
import { mailFromAddress } from '../config.js';
import { encryptToKey } from '../crypto/index.js';
import type { AlertKind } from '../db/schema.js';
import { staffTranslator } from '../i18n/index.js';

/**
 * The text of every alert: a fixed subject and body per kind, with the
 * organisation's name and the sign-in link, and nothing else. Nothing here
 * takes a report, a case or a count: an alert is built from its kind alone,
 * so nothing a reporter typed, no category, community, case id, label or
 * language can reach a mail server. The daily digest is word for word the
 * same every day.
 *
 * With an OpenPGP key on the recipient's account the whole message entity is
 * encrypted to it (PGP/MIME, RFC 3156); if that fails the alert is not sent
 * at all, never sent in plaintext instead.
 */

export type ComposeKind = AlertKind | 'test';

export type ComposeContext = {
  /** MAIL_FROM as configured ("Name <address>" or an address). */
  from: string;
  orgName: string;
  publicUrl: URL;
};

export type AlertRecipient = { email: string; pgpKey: string | null };

export class AlertEncryptionError extends Error {
  constructor(cause: unknown) {
    super('the alert could not be encrypted to the recipient’s key', { cause });
  }
}

/** Subject and body for each kind; literal keys, so the locale test sees every one. */
const TEXTS: Record<ComposeKind, (org: string) => { subject: string; body: string }> = {
  new_report: (org) => ({
    subject: staffTranslator()('alerts.new_report.subject', { org }),
    body: staffTranslator()('alerts.new_report.body', { org }),
  }),
  urgent_report: (org) => ({
    subject: staffTranslator()('alerts.urgent_report.subject', { org }),
    body: staffTranslator()('alerts.urgent_report.body', { org }),
  }),
  case_activity: (org) => ({
    subject: staffTranslator()('alerts.case_activity.subject', { org }),
    body: staffTranslator()('alerts.case_activity.body', { org }),
  }),
  case_overdue: (org) => ({
    subject: staffTranslator()('alerts.case_overdue.subject', { org }),
    body: staffTranslator()('alerts.case_overdue.body', { org }),
  }),
  batch: (org) => ({ subject: staffTranslator()('alerts.batch.subject', { org }), body: staffTranslator()('alerts.batch.body', { org }) }),
  digest: (org) => ({ subject: staffTranslator()('alerts.digest.subject', { org }), body: staffTranslator()('alerts.digest.body', { org }) }),
  test: (org) => ({ subject: staffTranslator()('alerts.test.subject', { org }), body: staffTranslator()('alerts.test.body', { org }) }),
};

/** The subject and plain text of one kind. */
export function alertText(kind: ComposeKind, ctx: Pick<ComposeContext, 'orgName' | 'publicUrl'>): { subject: string; text: string } {
  const { subject, body } = TEXTS[kind](ctx.orgName);
  const link = new URL('/staff/sign-in', ctx.publicUrl).href;
  const footer = kind === 'test' ? '' : `\n\n${staffTranslator()('alerts.footer')}`;
  return { subject, text: `${body}\n${link}${footer}\n` };
}

/**
 * The Message-ID of an outbox row: the same on every attempt, so a message
 * sent again after a crash is recognisably the same message. The row id is
 * random and says nothing.
 */
export function messageIdFor(id: string, from: string): string {
  const domain = (mailFromAddress(from) ?? 'harbour.invalid').split('@')[1]!;
  return `<${id}@${domain}>`;
}

/**
 * The whole message, headers included, as it is handed to the SMTP server.
 * Headers: From, To, Subject, Date, Message-ID, MIME-Version and the
 * content headers; no X-Mailer or anything else about the software.
 */
export async function composeAlert(kind: ComposeKind, id: string, to: AlertRecipient, ctx: ComposeContext, date = new Date()): Promise<Buffer> {
  const { subject, text } = alertText(kind, ctx);
  const headers = { From: ctx.from, To: to.email, Subject: subject, Date: date, 'Message-ID': messageIdFor(id, ctx.from) };
  if (!to.pgpKey) {
    const plain = new MimeNode('text/plain; charset=utf-8', { disableFileAccess: true, disableUrlAccess: true });
    plain.setHeader(headers);
    plain.setContent(text);
    return plain.build();
  }
  let armored: string;
  try {
    armored = await encryptToKey(to.pgpKey, (await innerEntity(text)).toString('utf8'));
  } catch (err) {
    throw new AlertEncryptionError(err);
  }
  const boundary = `enc-${randomBytes(12).toString('hex')}`;
  const root = new MimeNode(`multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${boundary}"`, {
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  root.setHeader(headers);
  const version = root.createChild('application/pgp-encrypted');
  version.setHeader({ 'Content-Description': 'PGP/MIME version identification', 'Content-Transfer-Encoding': '7bit' });
  version.setContent('Version: 1\r\n');
  const body = root.createChild('application/octet-stream; name="encrypted.asc"');
  body.setHeader({
    'Content-Description': 'OpenPGP encrypted message',
    'Content-Disposition': 'inline; filename="encrypted.asc"',
    'Content-Transfer-Encoding': '7bit',
  });
  body.setContent(armored.replace(/\r?\n/g, '\r\n'));
  return root.build();
}

/** The MIME entity inside the encryption: content headers and the text, as a mail client shows it once decrypted. */
async function innerEntity(text: string): Promise<Buffer> {
  const holder = new MimeNode('multipart/mixed');
  const inner = holder.createChild('text/plain; charset=utf-8');
  inner.setContent(text);
  return inner.build();
}
