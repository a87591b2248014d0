import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import { selectDeliveryStatus } from './status-queries.js';

/**
 * The classes a failed delivery is sorted into (transport.ts), each with its
 * own message in the log and on the settings page. Never a server's full
 * answer: it can quote addresses, and a class is what an administrator acts on.
 */
export const MAIL_ERROR_CLASSES = ['dns', 'tls', 'auth', 'refused', 'timeout', 'connection', 'encryption', 'other'] as const;
export type MailErrorClass = (typeof MAIL_ERROR_CLASSES)[number];

export type AlertStatus = {
  /** SMTP_URL is set: alerts are written and sent. */
  enabled: boolean;
  /** Alerts waiting to be sent (including those waiting for a retry). */
  waiting: number;
  lastSentAt: Date | null;
  /** The most recent failure still relevant: a row waiting for its retry, or one given up. */
  lastFailure: { error: MailErrorClass; gaveUp: boolean } | null;
};

export async function alertStatus(db: Db, config: Config): Promise<AlertStatus> {
  const s = await selectDeliveryStatus(db);
  const error = s.failure?.last_error;
  const known = (MAIL_ERROR_CLASSES as readonly string[]).includes(error ?? '') ? (error as MailErrorClass) : 'other';
  return {
    enabled: config.mail !== null,
    waiting: s.waiting,
    lastSentAt: s.lastSentAt,
    lastFailure: s.failure ? { error: known, gaveUp: s.failure.state === 'failed' } : null,
  };
}
