import { authenticator } from 'otplib';

/**
 * TOTP (RFC 6238: SHA-1, 6 digits, 30 s) through otplib. A code is accepted
 * one step either side of now, and never twice: the caller stores the last
 * accepted time step and passes it in (replay protection).
 */
authenticator.options = { window: 1, step: 30, digits: 6 };

export function newTotpSecret(): string {
  return authenticator.generateSecret(20);
}

export function totpUri(secret: string, account: string, issuer: string): string {
  return authenticator.keyuri(account, issuer, secret);
}

/** The time step of a valid code, or null if the code is wrong or was already used. */
export function checkTotp(code: string, secret: string, lastStep: number | null, now = Date.now()): number | null {
  const clean = code.replace(/\s/g, '');
  if (!/^\d{6}$/.test(clean)) return null;
  const delta = authenticator.checkDelta(clean, secret);
  if (delta === null) return null;
  const step = Math.floor(now / 1000 / 30) + delta;
  if (lastStep !== null && step <= lastStep) return null;
  return step;
}

/** For tests and the benchmark: the current code for a secret. */
export function currentTotp(secret: string): string {
  return authenticator.generate(secret);
}
