import { alertStatus, type MailErrorClass } from '../alerts/status.js';
import { formatDateTime } from '../i18n/dates.js';
import { staffTranslator } from '../i18n/index.js';
import { ALERT_KINDS, loadSettings } from '../settings/settings.js';
import { ALERT_KIND_LABELS } from '../staff/alert-choices.js';
import type { AppContext } from '../web/context.js';

/**
 * The Alerts section of /admin/settings: whether e-mail alerts are on (the
 * mail configuration, from the environment), how delivery is going
 * (alerts/status.ts), and which kinds of alert are allowed at all (the
 * `alert_kinds` setting, saved by its own form: alert-settings.ts).
 */

/** What each class of failure means to the administrator who has to fix it: the setting to check, never a server's answer. */
const FAILURES: Record<MailErrorClass, () => string> = {
  dns: () => staffTranslator()('settings.alerts.failures.dns'),
  tls: () => staffTranslator()('settings.alerts.failures.tls'),
  auth: () => staffTranslator()('settings.alerts.failures.auth'),
  refused: () => staffTranslator()('settings.alerts.failures.refused'),
  timeout: () => staffTranslator()('settings.alerts.failures.timeout'),
  connection: () => staffTranslator()('settings.alerts.failures.connection'),
  encryption: () => staffTranslator()('settings.alerts.failures.encryption'),
  other: () => staffTranslator()('settings.alerts.failures.other'),
};

/** The notices of the alerts form, shown in its section (#alerts), not at the top of the page. */
export const ALERT_SETTINGS_NOTICES = ['alerts_saved', 'alerts_unchanged'] as const;
export const alertNoticeText = (code: (typeof ALERT_SETTINGS_NOTICES)[number]) =>
  code === 'alerts_saved' ? staffTranslator()('settings.alerts.notices.saved') : staffTranslator()('settings.alerts.notices.unchanged');

export type AlertKindsForm = { kinds: readonly string[]; error: string };

export async function alertSettingsSection(ctx: AppContext, notice: string | null, form: AlertKindsForm | null) {
  const [status, settings] = await Promise.all([alertStatus(ctx.db, ctx.config), loadSettings(ctx.db, ctx.config)]);
  const mail = ctx.config.mail;
  const ticked = new Set<string>(form ? form.kinds : settings.alertKinds);
  return {
    enabled: status.enabled,
    // Where mail goes and whom it is from; the URL's user name and password are not shown.
    server: mail ? `${mail.url.protocol}//${mail.url.host}` : null,
    from: mail?.from ?? null,
    tlsOff: mail ? !mail.tls : false,
    digestHour: mail ? String(mail.digestHour).padStart(2, '0') : null,
    waiting: status.waiting,
    lastSent: status.lastSentAt ? { text: formatDateTime(status.lastSentAt), iso: status.lastSentAt.toISOString() } : null,
    failure: status.lastFailure ? { text: FAILURES[status.lastFailure.error](), gaveUp: status.lastFailure.gaveUp } : null,
    kinds: ALERT_KINDS.map((kind) => ({ kind, label: ALERT_KIND_LABELS[kind](), checked: ticked.has(kind) })),
    error: form?.error ?? null,
    notice,
  };
}
