import { z } from 'zod';
import type { Config } from '../config.js';
import { assertTransaction, type Db } from '../db/index.js';
import { staffTranslator } from '../i18n/index.js';
import * as q from './queries.js';

/**
 * Settings an administrator changes at /admin/settings. Each has a default
 * (from the environment where there is a variable for it); a row in
 * `settings` overrides it. Read from the database on every use, never cached
 * in memory, so a change takes effect at once in every instance.
 */

/** A v3 onion service address: 56 base32 characters, then .onion. */
const ONION = /^[a-z2-7]{56}\.onion$/;

// Messages are read from the staff locale file when a value is refused (never at import).
const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max, { error: () => staffTranslator()('settings.errors.too_long', { max }) })
    // Control characters would reach headers and pages; refuse them plainly.
    .refine((s) => !/\p{Cc}/u.test(s), { error: () => staffTranslator()('settings.errors.control_characters') });

/** A whole number's messages, one set per unit, so a translation can make each agree with its unit. */
type WholeMessages = { whole(): string; min(min: number): string; max(max: number): string };
const HOURS: WholeMessages = {
  whole: () => staffTranslator()('settings.errors.whole_hours'),
  min: (min) => staffTranslator()('settings.errors.min_hours', { min }),
  max: (max) => staffTranslator()('settings.errors.max_hours', { max }),
};
const DAYS: WholeMessages = {
  whole: () => staffTranslator()('settings.errors.whole_days'),
  min: (min) => staffTranslator()('settings.errors.min_days', { min }),
  max: (max) => staffTranslator()('settings.errors.max_days', { max }),
};
const REPORTS: WholeMessages = {
  whole: () => staffTranslator()('settings.errors.whole_reports'),
  min: (min) => staffTranslator()('settings.errors.min_reports', { min }),
  max: (max) => staffTranslator()('settings.errors.max_reports', { max }),
};

const whole = (min: number, max: number, messages: WholeMessages) =>
  z.coerce
    .number({ error: () => messages.whole() })
    .int({ error: () => messages.whole() })
    .min(min, { error: () => messages.min(min) })
    .max(max, { error: () => messages.max(max) });

/**
 * The lowest suppression threshold an administrator may set (statistics
 * disclosure control, docs/statistics.md); stats/disclosure.ts enforces it.
 */
export const MIN_THRESHOLD = 5;

/** The alerts an administrator may allow or forbid; 'batch' mails carry whichever of these a person batches. */
export const ALERT_KINDS = ['new_report', 'urgent_report', 'case_activity', 'case_overdue', 'digest'] as const;
export type AllowedAlertKind = (typeof ALERT_KINDS)[number];

export const SETTINGS_SCHEMA = {
  org_name: text(200).min(1, { error: () => staffTranslator()('settings.errors.org_name') }),
  org_contact: text(300),
  triage_target_hours: whole(1, 24 * 60, HOURS),
  urgent_triage_target_hours: whole(1, 48, HOURS),
  reply_target_days: whole(1, 90, DAYS),
  closed_retention_days: whole(30, 3650, DAYS),
  quick_exit_url: z
    .string()
    .trim()
    .refine(
      (s) => {
        try {
          const u = new URL(s);
          return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
        } catch {
          return false;
        }
      },
      { error: () => staffTranslator()('settings.errors.quick_exit_url') },
    ),
  onion_address: z
    .string()
    .trim()
    .toLowerCase()
    .transform((s) => s.replace(/^https?:\/\//, '').replace(/\/+$/, ''))
    .refine((s) => s === '' || ONION.test(s), { error: () => staffTranslator()('settings.errors.onion_address') }),
  stats_threshold: whole(MIN_THRESHOLD, 100, REPORTS),
  // The alert kinds an administrator allows at all (issue 11): ticked boxes, stored as a list.
  alert_kinds: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((k) => k.trim()).filter((k) => k !== ''))
    .refine((list) => list.every((k) => (ALERT_KINDS as readonly string[]).includes(k)), {
      error: () => staffTranslator()('settings.errors.alert_kinds'),
    })
    .transform((list) => ALERT_KINDS.filter((k) => list.includes(k))),
} as const;

export type SettingKey = keyof typeof SETTINGS_SCHEMA;
export const SETTING_KEYS = Object.keys(SETTINGS_SCHEMA) as SettingKey[];

export type Settings = {
  orgName: string;
  orgContact: string;
  targets: { triageHours: number; urgentTriageHours: number; replyDays: number };
  closedRetentionDays: number;
  quickExitUrl: string;
  /** Empty when there is none; otherwise a bare v3 address. */
  onionAddress: string;
  statsThreshold: number;
  /** Alert kinds allowed at all; every kind by default. */
  alertKinds: readonly AllowedAlertKind[];
};

type Values = { [K in SettingKey]: z.output<(typeof SETTINGS_SCHEMA)[K]> };

export function defaults(config: Config, orgName: string): Values {
  return {
    org_name: orgName,
    org_contact: '',
    triage_target_hours: config.targets.triageHours,
    urgent_triage_target_hours: config.targets.urgentTriageHours,
    reply_target_days: config.targets.replyDays,
    closed_retention_days: config.closedRetentionDays,
    quick_exit_url: config.quickExitUrl,
    onion_address: '',
    stats_threshold: 10,
    alert_kinds: [...ALERT_KINDS],
  };
}

async function storedValues(db: Db, config: Config): Promise<Values> {
  const [rows, orgName] = await Promise.all([q.selectSettingRows(db), q.setupOrgName(db)]);
  const values = defaults(config, orgName ?? 'Harbour');
  for (const row of rows) {
    if (!(SETTING_KEYS as string[]).includes(row.key)) continue;
    const key = row.key as SettingKey;
    // A stored value that no longer validates (a rule tightened since) falls back to the default.
    const parsed = SETTINGS_SCHEMA[key].safeParse(row.value);
    if (parsed.success) (values as Record<SettingKey, unknown>)[key] = parsed.data;
  }
  return values;
}

export async function loadSettings(db: Db, config: Config): Promise<Settings> {
  return toSettings(await storedValues(db, config));
}

function toSettings(v: Values): Settings {
  return {
    orgName: v.org_name,
    orgContact: v.org_contact,
    targets: { triageHours: v.triage_target_hours, urgentTriageHours: v.urgent_triage_target_hours, replyDays: v.reply_target_days },
    closedRetentionDays: v.closed_retention_days,
    quickExitUrl: v.quick_exit_url,
    onionAddress: v.onion_address,
    statsThreshold: v.stats_threshold,
    alertKinds: v.alert_kinds,
  };
}

/** The form's current values, as strings, for the settings page. */
export async function settingsForm(db: Db, config: Config): Promise<Record<SettingKey, string>> {
  const v = await storedValues(db, config);
  return Object.fromEntries(SETTING_KEYS.map((k) => [k, String(v[k])])) as Record<SettingKey, string>;
}

export type SettingsChange = { changed: SettingKey[]; errors: Partial<Record<SettingKey, string>> };

/**
 * Validates every submitted setting; if all are valid, stores those that
 * changed (inside the caller's transaction) and returns their keys. Nothing
 * is stored when any field is invalid.
 */
export async function saveSettings(db: Db, config: Config, input: Record<string, unknown>): Promise<SettingsChange> {
  assertTransaction(db);
  const current = await storedValues(db, config);
  const errors: Partial<Record<SettingKey, string>> = {};
  const next: Partial<Values> = {};
  for (const key of SETTING_KEYS) {
    if (!(key in input)) continue;
    const parsed = SETTINGS_SCHEMA[key].safeParse(input[key]);
    if (parsed.success) (next as Record<SettingKey, unknown>)[key] = parsed.data;
    else errors[key] = parsed.error.issues[0]?.message ?? staffTranslator()('settings.errors.check');
  }
  const urgent = next.urgent_triage_target_hours ?? current.urgent_triage_target_hours;
  const triage = next.triage_target_hours ?? current.triage_target_hours;
  if (!errors.urgent_triage_target_hours && !errors.triage_target_hours && urgent > triage) {
    errors.urgent_triage_target_hours = staffTranslator()('settings.errors.urgent_target');
  }
  if (Object.keys(errors).length > 0) return { changed: [], errors };

  const changed = SETTING_KEYS.filter((k) => k in next && String(next[k]) !== String(current[k]));
  for (const key of changed) await q.upsertSetting(db, key, next[key]);
  return { changed, errors };
}

/**
 * The onion address to offer: Tor's own `hostname` file (ONION_HOSTNAME_FILE,
 * read by web/onion.ts; null when unset, missing or not a v3 address) wins,
 * because Tor writes it from the service's key and it cannot be mistyped or
 * left behind after a new key; the setting is the fallback. '' for none.
 */
export function onionAddressOf(settings: Settings | null, fromFile: string | null): string {
  return fromFile ?? settings?.onionAddress ?? '';
}

/** The Onion-Location header value for a request path, or null (no onion address). */
export function onionLocation(settings: Settings | null, originalUrl: string, fromFile: string | null = null): string | null {
  const address = onionAddressOf(settings, fromFile);
  return address ? `http://${address}${originalUrl}` : null;
}
