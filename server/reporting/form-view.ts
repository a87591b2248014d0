import type { TFunction } from 'i18next';
import { listLabel, type ListName, type Lists } from '../settings/lists.js';
import { CATEGORIES, CHANNELS, CONSENT, CONTACT_METHODS, FOLLOW_UP, ONGOING, PERPETRATORS, TARGETED } from './taxonomy.js';
import { CONTACT_LANGUAGES, LIMITS, type FieldErrors, type FormFields } from './validation.js';

export type Option = { value: string; label: string; checked: boolean };

/** Builds what the report form template shows: options with labels and the reporter's previous choices. */
export function reportFormView(t: TFunction, lang: string, lists: Lists, values: FormFields, errors: FieldErrors) {
  const chosen = (name: string) => new Set(values[name] ?? []);
  const opts = (name: string, codes: readonly string[], labelKey: string, fallback?: string): Option[] => {
    const picked = chosen(name);
    if (picked.size === 0 && fallback) picked.add(fallback);
    return codes.map((value) => ({ value, label: t(`${labelKey}.${value}`), checked: picked.has(value) }));
  };
  const listOpts = (name: string, list: ListName, fallback?: string): Option[] => {
    const picked = chosen(name);
    if (picked.size === 0 && fallback) picked.add(fallback);
    return lists[list]
      .filter((item) => !item.retired)
      .map((item) => ({ value: item.code, label: listLabel(t, lang, list, item), checked: picked.has(item.code) }));
  };
  const value = (name: string) => values[name]?.[0] ?? '';
  const year = new Date().getUTCFullYear();
  return {
    value,
    errors,
    errorList: Object.entries(errors).map(([field, e]) => ({
      field,
      message: t(`validation.${e.key}`, e.params ?? {}),
      label: t(`form.${field}.label`),
    })),
    errorFor: (field: string) => (errors[field] ? t(`validation.${errors[field]!.key}`, errors[field]!.params ?? {}) : null),
    categories: CATEGORIES.map((value) => ({
      value,
      label: t(`categories.${value}.label`),
      hint: t(`categories.${value}.hint`, { defaultValue: '' }),
      checked: chosen('categories').has(value),
    })),
    months: Array.from({ length: 12 }, (_, i) => ({ value: String(i + 1), label: t(`months.${i + 1}`) })),
    years: Array.from({ length: 30 }, (_, i) => String(year - i)),
    ongoing: opts('ongoing', ONGOING, 'form.ongoing.options', 'not_sure'),
    regions: listOpts('region', 'region'),
    targeted: opts('targeted', TARGETED, 'form.targeted.options'),
    communities: listOpts('community', 'community'),
    states: listOpts('suspected_state', 'state', 'not_sure'),
    perpetrators: opts('perpetrator', PERPETRATORS, 'form.perpetrator.options', 'unknown'),
    channels: opts('channels', CHANNELS, 'form.channels.options'),
    consent: opts('consent', CONSENT, 'form.consent.options'),
    followUp: opts('follow_up', FOLLOW_UP, 'form.follow_up.options', 'portal'),
    contactMethods: opts('contact_method', CONTACT_METHODS, 'form.contact_method.options'),
    contactLanguages: opts('contact_language', CONTACT_LANGUAGES, 'form.contact_language.options', lang),
    dangerNow: chosen('danger_now').has('yes'),
    limits: LIMITS,
  };
}
