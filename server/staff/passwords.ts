import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../crypto/index.js';
import { staffTranslator } from '../i18n/index.js';

// zxcvbn-ts's list of ~49,000 common passwords, bundled with the package (no
// network); loaded when a password is first checked, not in every process.
let common: Promise<Set<string>> | null = null;
const commonPasswords = () =>
  (common ??= import('@zxcvbn-ts/language-common').then(
    ({ dictionary }) => new Set((dictionary as { passwords: string[] }).passwords.map((p) => p.toLowerCase())),
  ));

export type PasswordProblem = 'too_short' | 'too_long' | 'common' | 'contains_email' | 'mismatch';

/** Staff password policy (docs/security.md): at least 12 characters, not a common password. */
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

/** What to tell the person, from the staff locale file (read when a message is needed, so the CLI shares it). */
export const PASSWORD_MESSAGES: Readonly<Record<PasswordProblem, string>> = {
  get too_short() {
    return staffTranslator()('account.password_problems.too_short', { min: PASSWORD_MIN_LENGTH });
  },
  get too_long() {
    return staffTranslator()('account.password_problems.too_long', { max: PASSWORD_MAX_LENGTH });
  },
  get common() {
    return staffTranslator()('account.password_problems.common');
  },
  get contains_email() {
    return staffTranslator()('account.password_problems.contains_email');
  },
  get mismatch() {
    return staffTranslator()('account.password_problems.mismatch');
  },
};
