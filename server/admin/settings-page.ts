import type { Request, RequestHandler, Response } from 'express';
import { audit } from '../audit/log.js';
import { ALERT_SETTINGS_NOTICES, alertNoticeText, alertSettingsSection, type AlertKindsForm } from './alert-settings-view.js';
import { notFound } from '../errors.js';
import { LIST_NAMES, isStaffList, listLabel, loadLists, type ListName } from '../settings/lists.js';
import {
  addListItem,
  findListItem,
  isDefaultValue,
  isListName,
  parseLabels,
  relabelListItem,
  setRetired,
  usageCounts,
  type LabelErrors,
  type LabelInput,
} from '../settings/list-editing.js';
import { SETTING_KEYS, saveSettings, settingsForm, type SettingKey } from '../settings/settings.js';
import { staffOf } from '../staff/context.js';
import { noticeFrom } from '../web/notice.js';
import type { AppContext } from '../web/context.js';
import { LANGUAGES, staffTranslator, translator } from '../i18n/index.js';

/**
 * /admin/settings: the organisation, targets, retention, the reporter-page
 * settings, the statistics threshold, the three lists of the report form and
 * the case labels. Administrators only (the route guard); every change is
 * audited with what changed.
 */

/** A list's title on the settings pages ('Regions' …). */
export function listTitle(list: ListName): string {
  return staffTranslator()(`settings.lists.titles.${list}`);
}

/** The ?notice= codes the settings pages show after a change. */
export const SETTINGS_NOTICES = ['saved', 'unchanged', 'added', 'renamed', 'retired', 'restored'] as const;
/** Those worded differently for case labels, which are offered to caseworkers, not reporters. */
export const LABEL_NOTICES = ['added', 'retired', 'restored'] as const;

function noticeFor(query: Record<string, unknown>, list: ListName | null = null): string | null {
  const st = staffTranslator();
  const labels = list !== null && isStaffList(list);
  return noticeFrom(query, SETTINGS_NOTICES, (code) =>
    labels && (LABEL_NOTICES as readonly string[]).includes(code) ? st(`settings.notices.label_${code}`) : st(`settings.notices.${code}`),
  );
}

/** The languages a list is labelled in: every reporter language, or English alone for a list only staff see. */
const languagesOf = (list: ListName) => (isStaffList(list) ? LANGUAGES.filter((l) => l.code === 'en') : LANGUAGES);

/** The settings page; `alerts` is the Alerts section's own notice, or its refused form (alert-settings.ts). */
export async function renderSettings(
  ctx: AppContext,
  res: Response,
  status: number,
  extra: {
    values?: Record<string, string>;
    errors?: Partial<Record<SettingKey, string>>;
    notice?: string | null;
    alerts?: { notice?: string | null; form?: AlertKindsForm };
  },
) {
  const values = extra.values ?? (await settingsForm(ctx.db, ctx.config));
  const lists = await loadLists(ctx.db);
  res.status(status).render('admin/settings', {
    title: staffTranslator()('settings.title'),
    values,
    errors: extra.errors ?? {},
    notice: extra.notice ?? null,
    alerts: await alertSettingsSection(ctx, extra.alerts?.notice ?? null, extra.alerts?.form ?? null),
    lists: LIST_NAMES.map((name) => ({
      name,
      title: listTitle(name),
      active: lists[name].filter((i) => !i.retired).length,
      retired: lists[name].filter((i) => i.retired).length,
    })),
  });
}

export function showSettings(ctx: AppContext): RequestHandler {
  return async (req, res) =>
    renderSettings(ctx, res, 200, {
      notice: noticeFor(req.query),
      alerts: { notice: noticeFrom(req.query, ALERT_SETTINGS_NOTICES, alertNoticeText) },
    });
}

export function updateSettings(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { user } = staffOf(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    // The alert kinds have their own form (alert-settings.ts): its ticked boxes, not this form, say which are allowed.
    const own = SETTING_KEYS.filter((k) => k !== 'alert_kinds');
    const input = Object.fromEntries(own.filter((k) => typeof body[k] === 'string').map((k) => [k, body[k]]));
    const before = await settingsForm(ctx.db, ctx.config);
    const result = await ctx.db.transaction().execute(async (trx) => {
      const change = await saveSettings(trx, ctx.config, input);
      for (const key of change.changed) {
        // Settings are the organisation's own public facts and numbers, never reporter content.
        await audit(trx, {
          action: 'settings.changed',
          actorId: user.id,
          details: { setting: key, from: before[key], to: String(input[key]).trim() },
        });
      }
      return change;
    });
    if (Object.keys(result.errors).length > 0) {
      const values = { ...before, ...Object.fromEntries(Object.entries(input).map(([k, v]) => [k, String(v)])) };
      return renderSettings(ctx, res, 422, { values, errors: result.errors });
    }
    res.redirect(303, `/admin/settings?notice=${result.changed.length ? 'saved' : 'unchanged'}`);
  };
}

function listOf(req: Request): ListName {
  const list = String(req.params['list'] ?? '');
  if (!isListName(list)) throw notFound();
  return list;
}

async function renderList(
  ctx: AppContext,
  res: Response,
  list: ListName,
  status: number,
  extra: { notice?: string | null; error?: string; add?: { labels: Record<string, unknown>; errors: LabelErrors } },
) {
  const [lists, usage] = await Promise.all([loadLists(ctx.db), usageCounts(ctx.db, list)]);
  const t = translator('en');
  res.status(status).render('admin/settings-list', {
    title: listTitle(list),
    list,
    staffOnly: isStaffList(list),
    languages: languagesOf(list),
    items: lists[list].map((item) => ({
      code: item.code,
      label: listLabel(t, 'en', list, item),
      translated: LANGUAGES.filter((l) => l.code !== 'en' && (item.labels[l.code] || isDefaultValue(list, item.code))).length,
      retired: item.retired,
      reports: usage.get(item.code) ?? 0,
    })),
    notice: extra.notice ?? null,
    error: extra.error ?? null,
    add: extra.add ?? { labels: {}, errors: {} },
  });
}

export function showList(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const list = listOf(req);
    await renderList(ctx, res, list, 200, { notice: noticeFor(req.query, list) });
  };
}

export function addToList(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const list = listOf(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const { labels, errors } = parseLabels(body, { englishRequired: true, languages: languagesOf(list) });
    if (Object.keys(errors).length > 0) return renderList(ctx, res, list, 422, { add: { labels: body, errors } });
    let code: string;
    try {
      code = await ctx.db.transaction().execute((trx) => addListItem(trx, list, labels));
    } catch (err) {
      if (err instanceof RangeError)
        return renderList(ctx, res, list, 409, { add: { labels: body, errors: { en: staffTranslator()('settings.lists.errors.full') } } });
      throw err;
    }
    await audit(ctx.db, {
      action: 'settings.changed',
      actorId: staffOf(res).user.id,
      details: { list, code, change: 'added', label: labels['en'] ?? '' },
    });
    res.redirect(303, `/admin/settings/lists/${list}?notice=added`);
  };
}

async function itemOf(ctx: AppContext, req: Request) {
  const list = listOf(req);
  const code = String(req.params['code'] ?? '');
  const item = /^[a-z0-9_]{1,60}$/.test(code) ? await findListItem(ctx.db, list, code) : undefined;
  if (!item) throw notFound();
  return { list, item };
}

async function renderItem(
  ctx: AppContext,
  res: Response,
  list: ListName,
  item: { code: string; labels: Record<string, string>; retired_at: Date | null },
  status: number,
  form?: { labels: Record<string, unknown>; errors: LabelErrors },
) {
  const t = translator('en');
  res.status(status).render('admin/settings-item', {
    title: staffTranslator()('settings.item.title', { label: listLabel(t, 'en', list, { code: item.code, labels: item.labels, retired: false }) }),
    list,
    listTitle: listTitle(list),
    staffOnly: isStaffList(list),
    code: item.code,
    retired: item.retired_at !== null,
    languages: languagesOf(list).map((l) => ({
      ...l,
      // What reporters see when this language's box is left empty.
      fallback: isDefaultValue(list, item.code) ? translator(l.code)(`lists.${list}.${item.code}`) : (item.labels['en'] ?? item.code),
    })),
    values: form?.labels ?? Object.fromEntries(Object.entries(item.labels).map(([k, v]) => [`label_${k}`, v])),
    errors: form?.errors ?? {},
    englishRequired: !isDefaultValue(list, item.code),
  });
}

export function showItem(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { list, item } = await itemOf(ctx, req);
    await renderItem(ctx, res, list, item, 200);
  };
}

export function relabelItem(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { list, item } = await itemOf(ctx, req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    // A value the administrator added has no label in the locale files: it must keep an English one.
    const { labels, errors } = parseLabels(body, { englishRequired: !isDefaultValue(list, item.code), languages: languagesOf(list) });
    if (Object.keys(errors).length > 0) return renderItem(ctx, res, list, item, 422, { labels: body, errors });
    await relabelListItem(ctx.db, list, item.code, labels);
    await audit(ctx.db, {
      action: 'settings.changed',
      actorId: staffOf(res).user.id,
      details: { list, code: item.code, change: 'renamed', ...labelDetails(labels) },
    });
    res.redirect(303, `/admin/settings/lists/${list}?notice=renamed`);
  };
}

const labelDetails = (labels: LabelInput) => Object.fromEntries(Object.entries(labels).map(([lang, v]) => [`label_${lang}`, v]));

export function retireItem(ctx: AppContext, retired: boolean): RequestHandler {
  return async (req, res) => {
    const { list, item } = await itemOf(ctx, req);
    // The report form needs one value in each list; a case needs no label at all.
    if (retired && item.retired_at === null && !isStaffList(list)) {
      const lists = await loadLists(ctx.db);
      if (lists[list].filter((i) => !i.retired).length <= 1) {
        return renderList(ctx, res, list, 409, { error: staffTranslator()('settings.lists.errors.last_offered') });
      }
    }
    if ((item.retired_at !== null) !== retired) {
      await setRetired(ctx.db, list, item.code, retired);
      await audit(ctx.db, {
        action: 'settings.changed',
        actorId: staffOf(res).user.id,
        details: { list, code: item.code, change: retired ? 'retired' : 'restored' },
      });
    }
    res.redirect(303, `/admin/settings/lists/${list}?notice=${retired ? 'retired' : 'restored'}`);
  };
}
