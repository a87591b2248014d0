import { randomUUID } from 'node:crypto';
import {
  DecryptionError,
  decryptField,
  decryptJson,
  decryptText,
  deriveReceiptKeys,
  encryptField,
  encryptJson,
  generateReceipt,
  newDataKey,
  sealTo,
  type FieldContext,
} from '../crypto/index.js';
import { alertReporterActivity } from '../alerts/enqueue.js';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import type { Installation, TeamPublicKey } from '../setup/service.js';
import { readEvidenceMeta, type EvidenceMeta } from './evidence.js';
import * as q from './queries.js';
import type { ReportInput } from './validation.js';

const field = (id: string, name: string): FieldContext => ({ table: 'reports', id, field: name });
const messageBody = (id: string): FieldContext => ({ table: 'messages', id, field: 'body' });

/** The encrypted part of a report other than the narrative and contact. */
export type ReportDetails = Omit<
  ReportInput,
  'narrative' | 'contact' | 'categories' | 'urgent' | 'region' | 'community' | 'suspectedState' | 'incidentFrom' | 'incidentTo'
>;

export type OpenReport = { reportId: string; dataKey: Uint8Array };

/**
 * Stores the report, encrypted under a fresh data key sealed to the team
 * public key (no staff session needed, P2), in the 'pending' state while its
 * evidence streams in.
 */
export async function createPendingReport(db: Db, teamKey: TeamPublicKey, input: ReportInput): Promise<OpenReport> {
  const id = randomUUID();
  const dataKey = newDataKey();
  const details: ReportDetails = {
    ongoing: input.ongoing,
    targeted: input.targeted,
    stateReason: input.stateReason,
    perpetrator: input.perpetrator,
    channels: input.channels,
    links: input.links,
    consent: input.consent,
    followUp: input.followUp,
  };
  await q.insertPendingReport(db, {
    id,
    categories: input.categories,
    urgent: input.urgent,
    community: input.community,
    region: input.region,
    suspected_state: input.suspectedState,
    incident_from: input.incidentFrom,
    incident_to: input.incidentTo,
    team_key_id: teamKey.id,
    data_key_sealed: sealTo(dataKey, teamKey.publicKey),
    receipt_lookup: null,
    data_key_wrapped: null,
    narrative: encryptField(dataKey, input.narrative, field(id, 'narrative')),
    details: encryptJson(dataKey, details, field(id, 'details')),
    contact: input.contact ? encryptJson(dataKey, input.contact, field(id, 'contact')) : null,
  });
  return { reportId: id, dataKey };
}

export type IssuedReceipt = { receipt: string; lookup: Uint8Array; wrapped: Uint8Array };

/**
 * A new receipt for a report: its Argon2id-derived lookup hash and the data
 * key wrapped under the receipt-derived key (P5). Slow (Argon2id), so it is
 * done before the transaction that stores it. The receipt itself is shown
 * once and never stored in the clear.
 */
export async function issueReceipt(inst: Installation, report: OpenReport): Promise<IssuedReceipt> {
  const receipt = generateReceipt();
  const keys = await deriveReceiptKeys(receipt, inst.receiptSalt);
  return { receipt, lookup: keys.lookup, wrapped: encryptField(keys.wrapKey, report.dataKey, field(report.reportId, 'data_key_wrapped')) };
}

/** Marks the pending report submitted under the receipt; false if the lookup collided (astronomically unlikely) or it is gone. */
export function markSubmitted(db: Db, report: OpenReport, issued: IssuedReceipt): Promise<boolean> {
  return q.markSubmitted(db, report.reportId, issued.lookup, issued.wrapped);
}

/** Whether a submitted report is marked urgent; null if it is gone. */
export async function reportUrgency(db: Db, reportId: string): Promise<boolean | null> {
  return (await q.getReport(db, reportId))?.urgent ?? null;
}

export async function discardPendingReport(db: Db, reportId: string): Promise<void> {
  await q.deletePendingReport(db, reportId);
}

/** Opens a report with its receipt alone; null for a wrong receipt (indistinguishable from no report). */
export async function openWithReceipt(db: Db, inst: Installation, receipt: string): Promise<OpenReport | null> {
  const keys = await deriveReceiptKeys(receipt, inst.receiptSalt);
  const row = await q.findByReceiptLookup(db, keys.lookup);
  if (!row?.data_key_wrapped) return null;
  try {
    const dataKey = decryptField(keys.wrapKey, row.data_key_wrapped, field(row.id, 'data_key_wrapped'));
    return { reportId: row.id, dataKey };
  } catch (err) {
    // A wrapped key that does not open under this receipt for this row (tampering, P8): no access.
    if (err instanceof DecryptionError) return null;
    throw err;
  }
}

export type ReporterView = {
  id: string;
  status: string;
  submittedAt: Date | null;
  categories: string[];
  urgent: boolean;
  region: string;
  community: string;
  suspectedState: string;
  incidentFrom: string | null;
  incidentTo: string | null;
  narrative: string;
  details: ReportDetails;
  contact: ReportInput['contact'];
  messages: { id: string; author: 'reporter' | 'staff'; body: string; createdAt: Date }[];
  evidence: ({ id: string; addedBy: string; createdAt: Date } & EvidenceMeta)[];
};

/** Decrypts everything the reporter may see; null if the report no longer exists. */
export async function loadReport(db: Db, open: OpenReport): Promise<ReporterView | null> {
  const row = await q.getReport(db, open.reportId);
  if (!row) return null;
  const k = open.dataKey;
  const id = row.id;
  const [messages, evidence] = await Promise.all([q.listMessages(db, id), q.listEvidence(db, id)]);
  return {
    id,
    status: row.status,
    submittedAt: row.submitted_at,
    categories: row.categories,
    urgent: row.urgent,
    region: row.region,
    community: row.community,
    suspectedState: row.suspected_state,
    incidentFrom: row.incident_from,
    incidentTo: row.incident_to,
    narrative: decryptText(k, row.narrative, field(id, 'narrative')),
    details: decryptJson<ReportDetails>(k, row.details, field(id, 'details')),
    contact: row.contact ? decryptJson(k, row.contact, field(id, 'contact')) : null,
    messages: messages.map((m) => ({
      id: m.id,
      author: m.author,
      body: decryptText(k, m.body, messageBody(m.id)),
      createdAt: m.created_at,
    })),
    evidence: evidence.map((e) => ({
      id: e.id,
      addedBy: e.added_by,
      createdAt: e.created_at,
      ...readEvidenceMeta(k, e.id, e.meta!),
    })),
  };
}

/** A message on the report; the reporter's also alert the case's assignee (issue 11), in the same transaction. */
export async function addMessage(db: Db, open: OpenReport, author: 'staff', body: string): Promise<string>;
export async function addMessage(db: Db, open: OpenReport, author: 'reporter', body: string, config: Config): Promise<string>;
export async function addMessage(db: Db, open: OpenReport, author: 'reporter' | 'staff', body: string, config?: Config): Promise<string> {
  const id = randomUUID();
  await db.transaction().execute(async (trx) => {
    await q.insertMessage(trx, { id, report_id: open.reportId, author, body: encryptField(open.dataKey, body, messageBody(id)) });
    if (author === 'reporter') {
      await q.touchReporterActivity(trx, open.reportId);
      await alertReporterActivity(trx, config!, open.reportId);
    }
  });
  return id;
}

/** The reporter sent files from the status page (each stored on its own): their activity, and the assignee's alert, together. */
export async function reporterAddedEvidence(db: Db, config: Config, reportId: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await q.touchReporterActivity(trx, reportId);
    await alertReporterActivity(trx, config, reportId);
  });
}

/** Withdrawal deletes the report, its keys, messages, evidence and sessions (cascade). */
export async function withdrawReport(db: Db, reportId: string): Promise<boolean> {
  return q.deleteReport(db, reportId);
}

/**
 * What is left of the report's evidence allowance now: for the upload's early
 * cut-off only. The limit itself is kept by storeEvidence, which reserves
 * each batch's bytes atomically; parallel uploads can all read the same value here.
 */
export async function remainingEvidenceBytes(db: Db, reportId: string, reportLimit: number): Promise<number> {
  return Math.max(0, reportLimit - (await q.evidenceBytes(db, reportId)));
}
