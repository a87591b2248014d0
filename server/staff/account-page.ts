import type { RequestHandler, Response } from 'express';
import { staffTranslator } from '../i18n/index.js';
import { ALERT_KINDS, loadSettings } from '../settings/settings.js';
import type { AppContext } from '../web/context.js';
import { noticeFrom } from '../web/notice.js';
import { staffOf } from './context.js';
import * as q from './alert-queries.js';
import {
  ALERT_KIND_LABELS,
  BATCH_MINUTES,
  checkPastedKey,
  groupFingerprint,
  parseTiming,
  removeKey,
  saveKey,
  saveTiming,
  type TimingErrors,
} from './alert-choices.js';

/**
 * /staff/account: who you are, your e-mail alerts (timing and an optional
 * OpenPGP key), your password, and signing out everywhere. Every signed-in
 * staff member (the route guard). The password form's handlers live with
 * signing in (sign-in-page.ts) and render this page through renderAccount.
 */

/**
 * The ?notice= codes the page shows, each next to the form it confirms. The
 * redirect names the notice as its #fragment, so the browser moves focus to
 * it (autofocus alone is ignored when the address has a fragment).
 */
export const ACCOUNT_NOTICES = ['alerts_saved', 'alerts_unchanged', 'key_set', 'key_removed'] as const;
type AccountNotice = (typeof ACCOUNT_NOTICES)[number];

const NOTICE_TEXT: Record<AccountNotice, () => string> = {
  alerts_saved: () => staffTranslator()('account.alerts.notices.saved'),
  alerts_unchanged: () => staffTranslator()('account.alerts.notices.unchanged'),
  key_set: () => staffTranslator()('account.alerts.notices.key_set'),
  key_removed: () => staffTranslator()('account.alerts.notices.key_removed'),
};

type AlertsForm = {
  /** What the timing form shows: the stored choices, or what was sent when it was refused. */
  values?: Record<string, string>;
  errors?: TimingErrors;
  keyPaste?: string;
  keyError?: string | null;
  notice?: { text: string; at: 'timing' | 'key' } | null;
};

/** The page, with the alert section built from the database; `passwordError` is the password form's refusal. */
export async function renderAccount(
  ctx: AppContext,
  res: Response,
  status: number,
  extra: { passwordError?: string | null; alerts?: AlertsForm } = {},
) {
  const { user } = staffOf(res);
  const [choices, settings] = await Promise.all([q.selectAlertChoices(ctx.db, user.id), loadSettings(ctx.db, ctx.config)]);
  const enabled = ctx.config.mail !== null;
  const form = extra.alerts ?? {};
  const allowed = new Set<string>(settings.alertKinds);
  res.status(status).render('staff/account', {
    title: staffTranslator()('account.title'),
    error: extra.passwordError ?? null,
    alerts: {
      enabled,
      email: user.email,
      orgName: settings.orgName,
      admins: enabled ? [] : await q.activeAdminNames(ctx.db),
      digestHour: ctx.config.mail ? String(ctx.config.mail.digestHour).padStart(2, '0') : null,
      kinds: ALERT_KINDS.map((kind) => ({ kind, label: ALERT_KIND_LABELS[kind](), allowed: allowed.has(kind) })),
      urgentAllowed: allowed.has('urgent_report'),
      digestAllowed: allowed.has('digest'),
      values: form.values ?? {
        alert_urgent: choices.alert_urgent,
        alert_others: choices.alert_others,
        alert_batch_minutes: String(choices.alert_batch_minutes),
      },
      errors: form.errors ?? {},
      minutes: BATCH_MINUTES,
      fingerprint: choices.alert_pgp_fingerprint ? groupFingerprint(choices.alert_pgp_fingerprint) : null,
      keyPaste: form.keyPaste ?? '',
      keyError: form.keyError ?? null,
      notice: form.notice ?? null,
    },
  });
}

export function showAccount(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const text = noticeFrom(req.query, ACCOUNT_NOTICES, (code) => NOTICE_TEXT[code]());
    const at = String(req.query['notice']).startsWith('key_') ? ('key' as const) : ('timing' as const);
    const notice = text ? { text, at } : null;
    await renderAccount(ctx, res, 200, { alerts: { notice } });
  };
}

const bodyOf = (req: { body?: unknown }) => (req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {});

/** POST /staff/account/alerts: when alerts are sent. Refused choices come back with their messages (422), nothing stored. */
export function postAlertTiming(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { user } = staffOf(res);
    const body = bodyOf(req);
    const current = await q.selectAlertChoices(ctx.db, user.id);
    const parsed = parseTiming(body, current);
    if ('errors' in parsed) {
      const sent = (name: string) => (Object.hasOwn(body, name) && typeof body[name] === 'string' ? (body[name] as string) : '');
      const values = { alert_urgent: sent('alert_urgent'), alert_others: sent('alert_others'), alert_batch_minutes: sent('alert_batch_minutes') };
      return renderAccount(ctx, res, 422, { alerts: { values, errors: parsed.errors } });
    }
    const changed = await saveTiming(ctx.db, user.id, parsed.value);
    res.redirect(303, `/staff/account?notice=${changed ? 'alerts_saved' : 'alerts_unchanged'}#alerts-notice`);
  };
}

/** POST /staff/account/alert-key: a pasted OpenPGP public key, checked before it is stored. */
export function postAlertKey(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { user } = staffOf(res);
    const body = bodyOf(req);
    const checked = await checkPastedKey(body);
    if ('error' in checked) {
      const pasted = checked.keepPaste && typeof body['alert_pgp_key'] === 'string' ? body['alert_pgp_key'] : '';
      return renderAccount(ctx, res, 422, { alerts: { keyPaste: pasted, keyError: checked.error } });
    }
    await saveKey(ctx.db, user.id, checked.key);
    res.redirect(303, '/staff/account?notice=key_set#alert-key-notice');
  };
}

/** POST /staff/account/alert-key/remove: stop encrypting alerts. */
export function postRemoveAlertKey(ctx: AppContext): RequestHandler {
  return async (_req, res) => {
    const { user } = staffOf(res);
    await removeKey(ctx.db, user.id);
    res.redirect(303, '/staff/account?notice=key_removed#alert-key-notice');
  };
}
