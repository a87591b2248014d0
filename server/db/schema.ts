import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Bytes = Uint8Array;

export interface InstallationTable {
  id: number;
  org_name: string;
  recovery_public_key: Bytes;
  receipt_salt: Bytes;
  csrf_secret: Bytes;
  created_at: Generated<Date>;
}

export interface TeamKeysTable {
  id: Generated<number>;
  public_key: Bytes;
  secret_sealed_to_recovery: Bytes;
  created_at: Generated<Date>;
  retired_at: Date | null;
}

export interface ListItemsTable {
  list: string;
  code: string;
  labels: ColumnType<Record<string, string>, string | undefined, string>;
  position: number;
  retired_at: Date | null;
}

export interface ReportsTable {
  id: string;
  state: 'pending' | 'submitted';
  status: Generated<string>;
  categories: string[];
  urgent: boolean;
  community: string;
  region: string;
  suspected_state: string;
  incident_from: ColumnType<string | null, string | null, string | null>;
  incident_to: ColumnType<string | null, string | null, string | null>;
  team_key_id: number;
  data_key_sealed: Bytes;
  receipt_lookup: Bytes | null;
  data_key_wrapped: Bytes | null;
  narrative: Bytes;
  details: Bytes;
  contact: Bytes | null;
  created_at: Generated<Date>;
  submitted_at: Timestamp | null;
  reporter_updated_at: Timestamp | null;
  assignee_id: string | null;
  /** Codes of the administrator-defined label list (list_items, list 'label'); never free text (migration 2026_12_01_110100). */
  labels: Generated<string[]>;
  closing_outcome: string | null;
  restricted: Generated<boolean>;
  triaged_at: Timestamp | null;
  closed_at: Timestamp | null;
  first_response_at: Timestamp | null;
  last_staff_message_at: Timestamp | null;
  staff_seen_at: Timestamp | null;
  retain_until: Timestamp | null;
  /** Whether a referral exists; kept by a trigger on referrals (migration 2026_11_25_100000), never written by the app. */
  referred: ColumnType<boolean, never, never>;
  /**
   * Ciphertext bytes of evidence this report holds: reserved by a conditional
   * UPDATE in the transaction that stores each batch of chunks, released with
   * a failed file's rows (reporting/queries.ts). (bigint, read as a number.)
   */
  evidence_bytes: ColumnType<number, never, never>;
}

export interface MessagesTable {
  id: string;
  report_id: string;
  author: 'reporter' | 'staff';
  author_id: string | null;
  body: Bytes;
  created_at: Generated<Date>;
}

export interface EvidenceTable {
  id: string;
  report_id: string;
  state: 'uploading' | 'complete';
  added_by: 'reporter' | 'staff';
  meta: Bytes | null;
  stream_header: Bytes;
  chunk_count: Generated<number>;
  created_at: Generated<Date>;
}

export interface EvidenceChunksTable {
  evidence_id: string;
  seq: number;
  data: Bytes;
}

export interface SessionsTable {
  id_hash: Bytes;
  kind: 'reporter' | 'staff';
  report_id: string | null;
  user_id: string | null;
  payload: Bytes;
  created_at: Generated<Date>;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
}

export interface FormSubmissionsTable {
  key_hash: Bytes;
  state: 'sending' | 'sent';
  report_id: string | null;
  receipt_sealed: Bytes | null;
  created_at: Generated<Date>;
}

export interface RateLimitsTable {
  key: string;
  points: number;
  expire: ColumnType<number | null, number | null, number | null>;
}

export type Role = 'caseworker' | 'admin';

export interface UsersTable {
  id: string;
  email: string;
  display_name: string;
  roles: Role[];
  status: 'active' | 'deactivated';
  password_salt: Bytes;
  password_verifier: Bytes;
  public_key: Bytes;
  private_key_wrapped: Bytes;
  totp_secret_wrapped: Bytes | null;
  totp_last_step: number | null;
  created_at: Generated<Date>;
  password_changed_at: Generated<Date>;
  deactivated_at: Timestamp | null;
  /** How the account came to exist (shown to whoever approves its access). */
  created_via: Generated<'setup' | 'cli' | 'invitation' | 'seed' | 'unknown'>;
  invited_by: ColumnType<string | null, string | null | undefined, string | null>;
  invited_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** An administrator's request that a caseworker confirm this person's access; nothing is sealed by it. */
  access_requested_by: ColumnType<string | null, string | null | undefined, string | null>;
  access_requested_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** Set at each completed sign-in; alerts of a kind stop until the person signs in after the last one (migration 2026_12_01_200000). */
  last_signed_in_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** Urgent reports: mailed at once, or treated like every other alert. */
  alert_urgent: Generated<AlertUrgent>;
  /** Every other alert: at once, batched (one mail per alert_batch_minutes at most), or only in the daily digest. */
  alert_others: Generated<AlertOthers>;
  alert_batch_minutes: Generated<number>;
  /** An armoured OpenPGP public key; when set, every alert to this person is encrypted to it. */
  alert_pgp_key: ColumnType<string | null, string | null | undefined, string | null>;
  alert_pgp_fingerprint: ColumnType<string | null, string | null | undefined, string | null>;
}

export type AlertUrgent = 'now' | 'with_others';
export type AlertOthers = 'now' | 'batched' | 'digest';
export type AlertKind = 'new_report' | 'urgent_report' | 'case_activity' | 'case_overdue' | 'digest' | 'batch';

/** One e-mail to one staff member: kind and delivery bookkeeping only, never anything a reporter typed. */
export interface MailOutboxTable {
  id: string;
  user_id: string;
  kind: AlertKind;
  state: Generated<'pending' | 'sending' | 'sent' | 'failed'>;
  due_at: ColumnType<Date, Date | string | undefined, Date | string>;
  /** When it was first due; retries give up 24 hours after it. */
  first_due_at: ColumnType<Date, Date | string | undefined, Date | string>;
  /** While 'sending': the claim expires then, and another worker may take the row. */
  lease_until: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  claim: string | null;
  attempts: Generated<number>;
  /** A short class of the last failure (alerts/status.ts MAIL_ERROR_CLASSES: dns, tls, auth, refused, timeout, connection, encryption, other), never a server's full answer. */
  last_error: string | null;
  created_at: Generated<Date>;
  sent_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

/** The day (UK) whose digest has been written to the outbox: the INSERT that wins makes it happen once. */
export interface MailDigestsTable {
  day: ColumnType<string, string, string>;
  created_at: Generated<Date>;
}

/** A case's overdue alert, once per wait (due_since: when the wait began). */
export interface MailOverdueTable {
  report_id: string;
  due_since: ColumnType<Date, Date | string, Date | string>;
  created_at: Generated<Date>;
}

/** A team private key sealed to one caseworker's public key: only ever written sealed (migration 2026_12_01_100100). */
export interface KeyGrantsTable {
  user_id: string;
  team_key_id: number;
  sealed_secret: Bytes;
  /** The caseworker who approved this person's access (kept across rotations); null for set-up, recovery and tests. */
  approved_by: string | null;
  approved_at: Generated<Date>;
  sealed_at: ColumnType<Date, Date | string, Date | string>;
}

export interface InvitationsTable {
  id: string;
  token_hash: Bytes;
  email: string;
  roles: Role[];
  invited_by: string | null;
  created_at: Generated<Date>;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  /** Set when a newer invitation to the same address replaces it, or its inviter is deactivated. */
  revoked_at: Timestamp | null;
}

export interface CaseNotesTable {
  id: string;
  report_id: string;
  author_id: string | null;
  body: Bytes;
  created_at: Generated<Date>;
}

export interface CaseLinksTable {
  report_id: string;
  linked_id: string;
  created_by: string | null;
  created_at: Generated<Date>;
}

export interface ReferralsTable {
  id: string;
  report_id: string;
  destination: string;
  referred_on: ColumnType<string, string, string>;
  consent_override: boolean;
  details: Bytes;
  created_by: string | null;
  created_at: Generated<Date>;
}

export interface AuditLogTable {
  seq: number;
  at: Timestamp;
  actor_id: string | null;
  action: string;
  case_id: string | null;
  subject_user_id: string | null;
  details: ColumnType<Record<string, unknown>, string, string>;
  prev_hash: Bytes;
  hash: Bytes;
}

export interface JobsTable {
  id: string;
  kind: string;
  state: 'running' | 'done' | 'failed';
  started_by: string | null;
  progress: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export interface StatsArchiveTable {
  id: Generated<number>;
  quarter: ColumnType<string, string, string>;
  categories: string[];
  community: string;
  region: string;
  suspected_state: string;
  urgent: boolean;
  status: string;
  closing_outcome: string | null;
  referred: boolean;
  first_response_days: number | null;
}

/** Administrator settings that override their defaults (see server/settings). */
export interface SettingsTable {
  key: string;
  value: ColumnType<unknown, string, string>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export interface Database {
  mail_outbox: MailOutboxTable;
  mail_digests: MailDigestsTable;
  mail_overdue: MailOverdueTable;
  settings: SettingsTable;
  stats_archive: StatsArchiveTable;
  users: UsersTable;
  key_grants: KeyGrantsTable;
  invitations: InvitationsTable;
  case_notes: CaseNotesTable;
  case_links: CaseLinksTable;
  referrals: ReferralsTable;
  audit_log: AuditLogTable;
  jobs: JobsTable;
  installation: InstallationTable;
  team_keys: TeamKeysTable;
  list_items: ListItemsTable;
  reports: ReportsTable;
  messages: MessagesTable;
  evidence: EvidenceTable;
  evidence_chunks: EvidenceChunksTable;
  sessions: SessionsTable;
  form_submissions: FormSubmissionsTable;
  rate_limits: RateLimitsTable;
}

export type ReportRow = Selectable<ReportsTable>;
export type NewReport = Insertable<ReportsTable>;
