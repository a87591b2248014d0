import type { Db } from '../../server/db/index.js';
import { decryptJson, decryptText, unsealWith, type KeyPair } from '../../server/crypto/index.js';
import { openTeamKeyWithRecovery } from '../../server/setup/service.js';

/**
 * Reads a report the way a caseworker's session will: team key (here opened
 * with the recovery key) → the report's sealed data key → fields. Until the
 * staff issue lands, this is how tests prove the team can read reports (P2).
 */
export async function teamKey(db: Db, recoveryKey: string): Promise<KeyPair> {
  return openTeamKeyWithRecovery(db, recoveryKey);
}

export async function readAsTeam(db: Db, team: KeyPair, reportId: string) {
  const row = await db.selectFrom('reports').selectAll().where('id', '=', reportId).executeTakeFirstOrThrow();
  const dataKey = unsealWith(row.data_key_sealed, team);
  const ctx = (field: string) => ({ table: 'reports', id: reportId, field });
  return {
    dataKey,
    narrative: decryptText(dataKey, row.narrative, ctx('narrative')),
    details: decryptJson<Record<string, unknown>>(dataKey, row.details, ctx('details')),
    contact: row.contact ? decryptJson<Record<string, string>>(dataKey, row.contact, ctx('contact')) : null,
  };
}
