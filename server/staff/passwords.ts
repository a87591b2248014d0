import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../crypto/index.js';

// zxcvbn-ts's list of ~49,000 common passwords, bundled with the package (no
// network); loaded when a password is first checked, not in every process.
let common: Promise<Set<string>> | null = null;
const commonPasswords = () =>
  (common ??= import('@zxcvbn-ts/language-common').then(
    ({ dictionary }) => new Set((dictionary as { passwords: string[] }).passwords.map((p) => p.toLowerCase())),
  ));

export type PasswordProblem = 'too_short' | 'too_long' | 'common' | 'contains_email' | 'mismatch';

/** Staff password policy (security.md): at least 12 characters, not a common password. */
export async function passwordProblem(password: string, email: string, confirm?: string): Promise<PasswordProblem | null> {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return 'too_short';
  if (length > PASSWORD_MAX_LENGTH) return 'too_long';
  const lower = password.toLowerCase();
  // A common password padded with digits or repeated characters is still common.
  const stripped = lower.replace(/[\d\W_]+$/u, '');
  const COMMON = await commonPasswords();
  if (COMMON.has(lower) || COMMON.has(stripped) || new Set(lower).size <= 2) return 'common';
  const local = email.toLowerCase().split('@')[0] ?? '';
  if (local.length >= 4 && lower.includes(local)) return 'contains_email';
  if (confirm !== undefined && confirm !== password) return 'mismatch';
  return null;
}

export const PASSWORD_MESSAGES: Record<PasswordProblem, string> = {
  too_short: `Use at least ${PASSWORD_MIN_LENGTH} characters. A few unrelated words make a strong, memorable password.`,
  too_long: `Use at most ${PASSWORD_MAX_LENGTH} characters.`,
  common: 'This password is on a list of commonly used passwords. Choose another.',
  contains_email: 'Do not use your email address in your password.',
  mismatch: 'The two passwords do not match.',
};
