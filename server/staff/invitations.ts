import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../db/index.js';
import type { Role } from '../db/schema.js';
import * as q from './queries.js';

/** Invitation links carry a random token (32 bytes, base64url); the database keeps only its SHA-256. */
export function hashToken(token: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(token).digest());
}

/** Creates a one-time invitation and returns its token (shown once, in the link). */
export async function createInvitation(
  db: Db,
  i: { email: string; roles: Role[]; invitedBy: string | null; days: number },
): Promise<{ id: string; token: string }> {
  const token = randomBytes(32).toString('base64url');
  const id = randomUUID();
  await q.insertInvitation(db, {
    id,
    token_hash: hashToken(token),
    email: q.normaliseEmail(i.email),
    roles: i.roles,
    invited_by: i.invitedBy,
    expires_at: new Date(Date.now() + i.days * 24 * 3600 * 1000),
  });
  return { id, token };
}
