import { randomUUID } from 'node:crypto';
import type { TestApp } from './app.js';

export type ReportFacts = {
  categories?: string[];
  community?: string;
  region?: string;
  state?: string;
  /** submitted_at, ISO; now by default. */
  at?: string;
  status?: string;
  outcome?: string;
  closedDaysAgo?: number;
};

/**
 * Submitted reports with hand-set triage fields and placeholder ciphertext,
 * inserted directly: for tests of aggregates (statistics, settings) that
 * need many rows and never decrypt them. Returns their ids.
 */
export async function insertReports(t: TestApp, n: number, f: ReportFacts = {}): Promise<string[]> {
  const rows = Array.from({ length: n }, () => ({
    id: randomUUID(),
    state: 'submitted' as const,
    status: f.status ?? 'new',
    categories: f.categories ?? ['threats'],
    urgent: false,
    community: f.community ?? 'uyghur',
    region: f.region ?? 'london',
    suspected_state: f.state ?? 'china',
    incident_from: null,
    incident_to: null,
    team_key_id: t.team!.id,
    data_key_sealed: new Uint8Array(80),
    receipt_lookup: null,
    data_key_wrapped: null,
    narrative: new Uint8Array(40),
    details: new Uint8Array(40),
    contact: null,
    submitted_at: f.at ?? new Date().toISOString(),
    closing_outcome: f.outcome ?? null,
    closed_at: f.closedDaysAgo === undefined ? null : new Date(Date.now() - f.closedDaysAgo * 86_400_000),
  }));
  await t.testDb.db.insertInto('reports').values(rows).execute();
  return rows.map((r) => r.id);
}
