import type { Response } from 'express';
import type { KeyPair } from '../crypto/index.js';
import type { Role } from '../db/schema.js';

/** The signed-in staff member, as routes see it (set by the staff session middleware). */
export type StaffUser = Readonly<{ id: string; email: string; displayName: string; roles: readonly Role[] }>;

export type StaffLocals = Readonly<{
  user: StaffUser;
  /** The user's unlocked private key (from the session payload, P9). */
  privateKey: Uint8Array;
  /**
   * Team key pairs this user holds, by team key id (empty for an
   * administrator who is not a caseworker, P6). Unsealed per request.
   */
  teamKeys(): Promise<Map<number, KeyPair>>;
}>;

export function staffOf(res: Response): StaffLocals {
  const staff = res.locals['staff'] as StaffLocals | undefined;
  if (!staff) throw new Error('staff route without the staff guard');
  return staff;
}
