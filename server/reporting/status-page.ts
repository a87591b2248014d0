import type { RequestHandler, Response } from 'express';
import type { TFunction } from 'i18next';
import { normalizeReceipt } from '../crypto/index.js';
import { HttpError, notFound } from '../errors.js';
import { emptyMap } from '../own.js';
import { formatDateTimeIn } from '../i18n/dates.js';
import { requireInstallation, type AppContext } from '../web/context.js';
import { fileHeaders } from '../web/download.js';
import { sendChunks } from '../web/stream.js';
import { parseMultipart } from '../web/multipart.js';
import type { Attempt } from '../web/rate-limit.js';
import { decryptEvidence, readEvidenceMeta, storeReporterEvidence } from './evidence.js';
import { evidenceFileName } from './evidence-names.js';
import {
  createReporterSession,
  dropReporterSession,
  endReporterSession,
  loadReporterSession,
  openReportOf,
  reporterOf,
  signedInPayload,
  type ReporterSession,
} from './session.js';
import { listItem, listLabel, loadLists, type ListName } from '../settings/lists.js';
import * as q from './queries.js';
import { addMessage, loadReport, openWithReceipt, remainingEvidenceBytes, reporterAddedEvidence, withdrawReport } from './service.js';
import { LIMITS, checkText, type FormFields } from './validation.js';

function renderSignIn(res: Response, status: number, error: string | null) {
  res.status(status).render('reporter/status-sign-in', { error });
}

async function renderStatus(
  ctx: AppContext,
  res: Response,
  session: ReporterSession,
  status = 200,
  extra: { messageError?: string | null; messageDraft?: string; evidenceError?: string | null; notice?: string | null } = {},
) {
  const view = await loadReport(ctx.db, openReportOf(session));
  if (!view) {
    // Withdrawn or deleted by retention while signed in.
    await dropReporterSession(ctx.db, session);
    return renderSignIn(res, 410, 'report_gone');
  }
  const lists = await loadLists(ctx.db);
  const lang = res.locals['lang'] as string;
  const t = res.locals['t'] as TFunction;
  res.status(status).render('reporter/status', {
    formatDateTimeIn,
    report: view,
    labelFor: (list: ListName, code: string) => listLabel(t, lang, list, listItem(lists, list, code)),
    messageError: extra.messageError ?? null,
    messageDraft: extra.messageDraft ?? '',
    evidenceError: extra.evidenceError ?? null,
    notice: extra.notice ?? null,
    maxFileMb: Math.floor(ctx.config.limits.fileBytes / 1024 / 1024),
    maxReportMb: Math.floor(ctx.config.limits.reportBytes / 1024 / 1024),
    maxFiles: ctx.config.limits.filesPerUpload,
    // The language list submits the message box to the chosen language (see switchStatusLanguage).
    languageForm: 'message-form',
    languageAction: 'status/language',
  });
}

export function showStatus(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    await requireInstallation(ctx);
    // A session still waiting for its receipt to be typed back (just filed) is not signed in yet.
    const session = await loadReporterSession(ctx.db, ctx.config, req);
    if (session?.payload.stage !== 'signed_in') return renderSignIn(res, 200, null);
    await renderStatus(ctx, res, session, 200, { notice: req.query['confirmed'] === '1' ? 'receipt_confirmed' : null });
  };
}

/**
 * Receipt sign-in. A wrong receipt and a missing report look the same. The
 * attempt's point (per visitor and globally) is taken before the receipt is
 * tried and given back when it opens a report: only failures count, so a
 * reporter is never refused for having signed in before, and one visitor's
 * wrong receipts do not lock out another (see clientKey).
 */
export function signIn(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const inst = await requireInstallation(ctx);
    // Checking the format costs nothing and tries no receipt, so it takes no point.
    const receipt = normalizeReceipt(String(req.body?.receipt ?? ''));
    if (!receipt) return renderSignIn(res, 422, 'receipt_format');
    let attempt: Attempt;
    try {
      attempt = await ctx.rateLimits.receiptAttempt(req);
    } catch (err) {
      if (!(err instanceof HttpError) || err.status !== 429) throw err;
      if (err.retryAfterSeconds) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      return renderSignIn(res, 429, 'too_many_requests');
    }
    const open = await openWithReceipt(ctx.db, inst, receipt);
    if (!open) return renderSignIn(res, 422, 'receipt_unknown');
    await attempt.succeeded();
    await endReporterSession(ctx.db, ctx.config, req, res);
    await createReporterSession(ctx.db, ctx.config, res, signedInPayload(open));
    res.redirect(303, `/${res.locals['lang']}/status`);
  };
}

export function postMessage(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const session = reporterOf(res);
    const body = String(req.body?.message ?? '').trim();
    ctx.disk?.ensureSpace();
    const problem = checkText(body, LIMITS.message, true);
    if (problem) return renderStatus(ctx, res, session, 422, { messageError: problem.key, messageDraft: body });
    await addMessage(ctx.db, openReportOf(session), 'reporter', body, ctx.config);
    res.redirect(303, `/${res.locals['lang']}/status#messages`);
  };
}

/**
 * The language list on the status page submits the message box here, to
 * /{new language}/status/language: the page comes back in the new language
 * with the half-written message kept, and nothing is stored.
 */
export function switchStatusLanguage(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const session = reporterOf(res);
    // Kept as typed: the form's body limit bounds it, and sending it checks it.
    await renderStatus(ctx, res, session, 200, { messageDraft: String(req.body?.message ?? '') });
  };
}

export function postEvidence(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const { limits } = ctx.config;
    const session = reporterOf(res);
    const open = openReportOf(session);
    let remaining = await remainingEvidenceBytes(ctx.db, open.reportId, limits.reportBytes);
    const fields: FormFields = emptyMap();
    let stored = 0;
    try {
      const { files } = await parseMultipart(
        req,
        { fieldBytes: 1024, fields: 5, files: limits.filesPerUpload, totalBytes: remaining + limits.formBytes },
        fields,
        async (stream, info) => {
          ctx.disk?.ensureSpace();
          const { meta } = await storeReporterEvidence(ctx.db, limits, open, remaining, { filename: info.filename, source: stream });
          remaining -= meta.originalSize;
          stored++;
        },
        { stopping: ctx.shutdown.signal, deadlineMs: ctx.config.requestTimeoutMs },
      );
      if (files === 0) return renderStatus(ctx, res, session, 422, { evidenceError: 'evidence_none' });
      await reporterAddedEvidence(ctx.db, ctx.config, open.reportId);
      res.redirect(303, `/${res.locals['lang']}/status#evidence`);
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      if (err.code === 'csrf') throw err;
      // Files stored before the failing one are kept: each is complete on its own, and the assignee hears of them.
      if (stored > 0) await reporterAddedEvidence(ctx.db, ctx.config, open.reportId);
      await renderStatus(ctx, res, session, err.status, { evidenceError: err.code });
    }
  };
}

/**
 * Streams one of the reporter's own files, decrypting chunk by chunk, under
 * our name for it (evidence-2.txt), never the name it was uploaded with:
 * the same file must not become runnable on the reporter's device either.
 */
export function downloadEvidence(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const session = reporterOf(res);
    const open = openReportOf(session);
    const id = String(req.params['id'] ?? '');
    if (!/^[0-9a-f-]{36}$/.test(id)) throw notFound();
    const row = await q.getEvidence(ctx.db, open.reportId, id);
    if (!row?.meta) throw notFound();
    const meta = readEvidenceMeta(open.dataKey, row.id, row.meta);
    fileHeaders(res, { name: evidenceFileName(row.n, meta), size: meta.size });
    await sendChunks(res, decryptEvidence(ctx.db, open.dataKey, row));
  };
}

export function showWithdraw(_ctx: AppContext): RequestHandler {
  return async (_req, res) => {
    res.render('reporter/withdraw', {});
  };
}

export function withdraw(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const session = reporterOf(res);
    if (req.body?.confirm !== 'yes') return res.status(422).render('reporter/withdraw', { error: 'withdraw_confirm' });
    await withdrawReport(ctx.db, session.payload.reportId);
    await endReporterSession(ctx.db, ctx.config, req, res);
    res.render('reporter/withdrawn', {});
  };
}

export function leave(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    await endReporterSession(ctx.db, ctx.config, req, res);
    res.redirect(303, `/${res.locals['lang']}/`);
  };
}
