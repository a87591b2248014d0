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
}

export interface MessagesTable {
  id: string;
  report_id: string;
  author: 'reporter' | 'staff';
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
  payload: Bytes;
  created_at: Generated<Date>;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
}

export interface RateLimitsTable {
  key: string;
  points: number;
  expire: ColumnType<number | null, number | null, number | null>;
}

export interface IpHashKeysTable {
  day: ColumnType<string, string, string>;
  key: Bytes;
}

export interface Database {
  installation: InstallationTable;
  team_keys: TeamKeysTable;
  list_items: ListItemsTable;
  reports: ReportsTable;
  messages: MessagesTable;
  evidence: EvidenceTable;
  evidence_chunks: EvidenceChunksTable;
  sessions: SessionsTable;
  rate_limits: RateLimitsTable;
  ip_hash_keys: IpHashKeysTable;
}

export type ReportRow = Selectable<ReportsTable>;
export type NewReport = Insertable<ReportsTable>;
