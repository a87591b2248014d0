import type { RequestHandler } from 'express';
import { audit } from '../audit/log.js';
import { saveSettings, settingsForm } from '../settings/settings.js';
import { staffOf } from '../staff/context.js';
import type { AppContext } from '../web/context.js';
import { renderSettings } from './settings-page.js';

/**
 * POST /admin/settings/alerts: which kinds of alert are allowed at all.
 * The form sends an empty `alert_kinds` field before its boxes, because an
 * unticked box sends nothing: "none allowed" is then an empty field, and a
 * request without the field at all (not this form) changes nothing. Saved
 * and audited like every other setting (settings.ts), in one transaction.
 */
export function updateAlertKinds(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { user } = staffOf(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!Object.hasOwn(body, 'alert_kinds')) return res.redirect(303, '/admin/settings?notice=alerts_unchanged#alerts-notice');
    const sent = body['alert_kinds'];
    const result = await ctx.db.transaction().execute(async (trx) => {
      const before = await settingsForm(trx, ctx.config);
      const change = await saveSettings(trx, ctx.config, { alert_kinds: sent });
      if (change.changed.includes('alert_kinds')) {
        const after = await settingsForm(trx, ctx.config);
        // The kinds are the organisation's own choice of alerts, never anything about a case.
        await audit(trx, {
          action: 'settings.changed',
          actorId: user.id,
          details: { setting: 'alert_kinds', from: before.alert_kinds, to: after.alert_kinds },
        });
      }
      return change;
    });
    const error = result.errors.alert_kinds;
    if (error) {
      const kinds = (Array.isArray(sent) ? sent : [sent]).filter((k): k is string => typeof k === 'string');
      return renderSettings(ctx, res, 422, { alerts: { form: { kinds, error } } });
    }
    res.redirect(303, `/admin/settings?notice=${result.changed.length ? 'alerts_saved' : 'alerts_unchanged'}#alerts-notice`);
  };
}
