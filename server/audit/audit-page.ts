import type { Request, RequestHandler } from 'express';
import { badRequest } from '../errors.js';
import type { AppContext } from '../web/context.js';
import { staffTranslator } from '../i18n/index.js';
import { AUDIT_ACTIONS, type AuditAction } from './log.js';
import { listAuditActors, listAuditEntries, type AuditFilter, type AuditListRow } from './queries.js';
import { isUuid } from '../ids.js';

export const AUDIT_PAGE_SIZE = 50;

/** The filter's option groups, by the part of an action before its dot. */
export const AUDIT_GROUPS = ['staff', 'keys', 'case', 'stats', 'settings', 'retention', 'alert'] as const;
// Fails to compile when log.ts gains an action whose group is not listed (it could not be filtered for).
type ActionGroup = AuditAction extends `${infer G}.${string}` ? G : never;
const allGroupsListed: [Exclude<ActionGroup, (typeof AUDIT_GROUPS)[number]>] extends [never] ? true : false = true;
void allGroupsListed;

const ACTIONS: ReadonlySet<string> = new Set(AUDIT_ACTIONS);

/** One query parameter: absent or empty → null; repeated (?a=1&a=2) → 400. */
function param(req: Request, name: string): string | null {
  const v: unknown = req.query[name];
  if (v === undefined) return null;
  if (typeof v !== 'string') throw badRequest();
  const s = v.trim();
  return s === '' ? null : s;
}

/**
 * Parameters only a crafted URL can get wrong (selects, the pager link) are
 * a 400; the case id is typed by hand, so a bad one is shown as a field error.
 */
function parseFilter(req: Request): { filter: AuditFilter; caseInput: string; caseError: string | null } {
  const actor = param(req, 'actor');
  if (actor !== null && !isUuid(actor)) throw badRequest();
  const action = param(req, 'action');
  if (action !== null && !ACTIONS.has(action)) throw badRequest();
  const before = param(req, 'before');
  if (before !== null && !/^[1-9]\d{0,14}$/.test(before)) throw badRequest();
  const caseInput = param(req, 'case') ?? '';
  const caseError = caseInput && !isUuid(caseInput) ? staffTranslator()('audit.errors.case_id') : null;
  return {
    filter: {
      actorId: actor?.toLowerCase() ?? null,
      caseId: caseInput && !caseError ? caseInput.toLowerCase() : null,
      action,
      before: before === null ? null : Number(before),
    },
    caseInput,
    caseError,
  };
}

const NO_FILTER: AuditFilter = { actorId: null, caseId: null, action: null, before: null };

function auditUrl(filter: AuditFilter, before: number | null): string {
  const q = new URLSearchParams();
  if (filter.actorId) q.set('actor', filter.actorId);
  if (filter.caseId) q.set('case', filter.caseId);
  if (filter.action) q.set('action', filter.action);
  if (before !== null) q.set('before', String(before));
  const s = q.toString();
  return s ? `/admin/audit?${s}` : '/admin/audit';
}

const userLabel = (id: string, name: string | null, email: string | null) =>
  name !== null ? staffTranslator()('audit.user', { name, email }) : staffTranslator()('audit.unknown_user', { id });

function entryView(row: AuditListRow) {
  const details = row.details && typeof row.details === 'object' && !Array.isArray(row.details) ? Object.entries(row.details) : [];
  return {
    seq: row.seq,
    at: row.at.toISOString(),
    atText: row.at
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC'),
    action: row.action,
    actor: row.actor_id
      ? { label: userLabel(row.actor_id, row.actor_name, row.actor_email), url: auditUrl({ ...NO_FILTER, actorId: row.actor_id }, null) }
      : null,
    case: row.case_id ? { id: row.case_id, url: auditUrl({ ...NO_FILTER, caseId: row.case_id }, null) } : null,
    subject: row.subject_user_id ? userLabel(row.subject_user_id, row.subject_name, row.subject_email) : null,
    details: details.map(([k, v]) => ({ key: k, value: typeof v === 'string' ? v : JSON.stringify(v) })),
  };
}

/**
 * GET /admin/audit: the log, newest first, 50 a page, filtered by actor,
 * case and action. Mounted behind the administrator guard. Viewing it is not
 * itself audited (reading the log would otherwise grow it on every page).
 */
export function auditPage(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { filter, caseInput, caseError } = parseFilter(req);
    const actors = await listAuditActors(ctx.db);
    const rows = caseError ? [] : await listAuditEntries(ctx.db, filter, AUDIT_PAGE_SIZE);
    const page = rows.slice(0, AUDIT_PAGE_SIZE);
    const st = staffTranslator();
    const actorOptions = actors.map((u) => ({
      id: u.id,
      label:
        u.status === 'deactivated'
          ? st('audit.user_deactivated', { name: u.display_name, email: u.email })
          : st('audit.user', { name: u.display_name, email: u.email }),
    }));
    if (filter.actorId && !actors.some((u) => u.id === filter.actorId)) {
      actorOptions.push({ id: filter.actorId, label: st('audit.unknown_user', { id: filter.actorId }) });
    }
    res.status(caseError ? 400 : 200).render('admin/audit', {
      st, // from the staff router too; passed so the handler also renders when mounted on its own
      title: caseError ? st('common.error_title', { title: st('audit.title') }) : st('audit.title'),
      filter: { actor: filter.actorId ?? '', case: caseInput, action: filter.action ?? '' },
      filtered: Boolean(filter.actorId || filter.caseId || filter.action),
      caseError,
      actorOptions,
      actionGroups: AUDIT_GROUPS.map((group) => ({
        group,
        label: st(`audit.groups.${group}`),
        actions: AUDIT_ACTIONS.filter((a) => a.startsWith(`${group}.`)),
      })),
      entries: page.map(entryView),
      newerUrl: filter.before !== null ? auditUrl(filter, null) : null,
      olderUrl: rows.length > AUDIT_PAGE_SIZE ? auditUrl(filter, page[page.length - 1]!.seq) : null,
    });
  };
}
