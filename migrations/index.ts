import type { Migration } from 'kysely';
import * as foundation from './2026_11_23_120000_foundation.js';
import * as staffAndCases from './2026_11_24_090000_staff_and_cases.js';
import * as statsArchive from './2026_11_24_150000_stats_archive.js';
import * as settings from './2026_11_24_200000_settings.js';
import * as statsIndexes from './2026_11_24_220000_stats_indexes.js';
import * as reportsAutovacuum from './2026_11_25_090000_reports_autovacuum.js';
import * as reportsReferred from './2026_11_25_100000_reports_referred.js';
import * as staffOriginInvitations from './2026_12_01_100000_staff_origin_invitations.js';
import * as staffAccessRequests from './2026_12_01_100100_staff_access_requests.js';
import * as evidenceBytes from './2026_12_01_110000_evidence_bytes.js';
import * as labelList from './2026_12_01_110100_label_list.js';
import * as formSubmissions from './2026_12_01_120000_form_submissions.js';
import * as dropIpHashKeys from './2026_12_01_130000_drop_ip_hash_keys.js';
import * as alerts from './2026_12_01_200000_alerts.js';
import * as queueTriageOrder from './2026_12_01_210000_queue_triage_order.js';

/**
 * Every migration, by name, in order. Listed explicitly (rather than read
 * from the folder at run time) so the same code runs compiled and under the
 * test runner; a new migration is one new file and one line here.
 */
export const migrations: Record<string, Migration> = {
  '2026_11_23_120000_foundation': foundation,
  '2026_11_24_090000_staff_and_cases': staffAndCases,
  '2026_11_24_150000_stats_archive': statsArchive,
  '2026_11_24_200000_settings': settings,
  '2026_11_24_220000_stats_indexes': statsIndexes,
  '2026_11_25_090000_reports_autovacuum': reportsAutovacuum,
  '2026_11_25_100000_reports_referred': reportsReferred,
  '2026_12_01_100000_staff_origin_invitations': staffOriginInvitations,
  '2026_12_01_100100_staff_access_requests': staffAccessRequests,
  '2026_12_01_110000_evidence_bytes': evidenceBytes,
  '2026_12_01_110100_label_list': labelList,
  '2026_12_01_120000_form_submissions': formSubmissions,
  '2026_12_01_130000_drop_ip_hash_keys': dropIpHashKeys,
  '2026_12_01_200000_alerts': alerts,
  '2026_12_01_210000_queue_triage_order': queueTriageOrder,
};
