import type { Request, RequestHandler, Response } from 'express';
import type { TFunction } from 'i18next';
import { constantTimeEqual, formatReceipt, normalizeReceipt } from '../crypto/index.js';
import { HttpError, notReady } from '../errors.js';
import { currentTeamKey, type Installation } from '../setup/service.js';
import { emptyMap } from '../own.js';
import type { AppContext } from '../web/context.js';
import { csrfOnFirstPart, parseMultipart } from '../web/multipart.js';
import { createReporterSession, loadReporterSession, updateReporterSession } from '../web/sessions.js';
import { storeEvidence } from './evidence.js';
import { reportFormView } from './form-view.js';
import { loadLists, type Lists } from './lists.js';
import { createPendingReport, discardPendingReport, finalizeReport, type OpenReport } from './service.js';
import { validateReport, type FieldErrors, type FormFields } from './validation.js';

export async function requireInstallation(ctx: AppContext): Promise<Installation> {
  const inst = await ctx.installation();
  if (!inst) throw notReady();
  return inst;
}

function renderForm(
  ctx: AppContext,
  res: Response,
  status: number,
  lists: Lists,
  state: { values?: FormFields; errors?: FieldErrors; formError?: string | null; filesDropped?: boolean; languageSwitched?: boolean } = {},
) {
  const t = res.locals['t'] as TFunction;
  res.status(status).render('reporter/report', {
    // The language list submits this form to the chosen language (see switchLanguage).
    languageForm: 'report-form',
    languageAction: 'report/language',
    form: reportFormView(t, res.locals['lang'] as string, lists, state.values ?? {}, state.errors ?? {}),
    formError: state.formError ?? null,
    filesDropped: state.filesDropped ?? false,
    languageSwitched: state.languageSwitched ?? false,
    limits: {
      files: ctx.config.limits.filesPerUpload,
      fileMb: Math.floor(ctx.config.limits.fileBytes / 1024 / 1024),
      reportMb: Math.floor(ctx.config.limits.reportBytes / 1024 / 1024),
    },
  });
}

export function showForm(ctx: AppContext): RequestHandler {
  return async (_req, res) => {
    await requireInstallation(ctx);
    renderForm(ctx, res, 200, await loadLists(ctx.db));
  };
}

/**
 * The language list on the report form submits the form here, to
 * /{new language}/report/language: the form comes back in the new language
 * with every answer kept, and nothing is stored. Files are read and thrown
 * away (a browser cannot re-fill a file input; the page says so). Works
 * without JavaScript: the buttons use the form and formaction attributes.
 */
export function switchLanguage(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    await requireInstallation(ctx);
    const lists = await loadLists(ctx.db);
    const { limits } = ctx.config;
    const fields: FormFields = emptyMap();
    const checkCsrf = csrfOnFirstPart(ctx.csrf, req, fields);
    const parsed = await parseMultipart(
      req,
      { fieldBytes: limits.fieldBytes, fields: 200, files: limits.filesPerUpload, totalBytes: limits.reportBytes + limits.formBytes },
      fields,
      async () => checkCsrf(), // the file itself is drained by parseMultipart, never stored
    );
    checkCsrf();
    renderForm(ctx, res, 200, lists, { values: fields, filesDropped: parsed.files > 0, languageSwitched: true });
  };
}

/**
 * Receives the report form in one streamed request. The form's fields come
 * first; at the first file (or the end) they are validated and, if valid,
 * the report is stored encrypted in the 'pending' state; each file then
 * streams into encrypted evidence. Only when everything has arrived is the
 * receipt issued and the report marked submitted; on any failure the pending
 * report is deleted and the form comes back with everything the reporter
 * typed (files must be chosen again: browsers cannot re-fill a file input).
 */
export function submitReport(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const inst = await requireInstallation(ctx);
    const lists = await loadLists(ctx.db);
    const { limits } = ctx.config;
    const fields: FormFields = emptyMap();
    let validation: ReturnType<typeof validateReport> | null = null;
    let open: OpenReport | null = null;
    let evidenceBytes = 0;

    const checkCsrf = csrfOnFirstPart(ctx.csrf, req, fields);
    const prepare = async () => {
      if (validation) return;
      validation = validateReport(fields, lists);
      if (!validation.ok) return;
      await ctx.rateLimits.consume('submit', req);
      open = await createPendingReport(ctx.db, await currentTeamKey(ctx.db), validation.value);
    };

    let filesSent = 0;
    try {
      const parsed = await parseMultipart(
        req,
        { fieldBytes: limits.fieldBytes, fields: 200, files: limits.filesPerUpload, totalBytes: limits.reportBytes + limits.formBytes },
        fields,
        async (stream, info) => {
          checkCsrf();
          await prepare();
          const report = open as OpenReport | null;
          if (!report) return; // invalid form: the file is drained and must be chosen again
          const remaining = limits.reportBytes - evidenceBytes;
          const { meta } = await storeEvidence(ctx.db, {
            reportId: report.reportId,
            dataKey: report.dataKey,
            addedBy: 'reporter',
            filename: info.filename,
            source: stream,
            maxBytes: Math.min(limits.fileBytes, remaining),
            limitCode: limits.fileBytes <= remaining ? 'evidence_file_too_large' : 'evidence_report_too_large',
            reportLimit: limits.reportBytes,
          });
          evidenceBytes += meta.originalSize;
        },
      );
      filesSent = parsed.files;
      checkCsrf();
      await prepare();
      const result = validation as ReturnType<typeof validateReport> | null;
      if (!result?.ok) {
        renderForm(ctx, res, 422, lists, { values: fields, errors: result?.errors ?? {}, filesDropped: filesSent > 0 });
        return;
      }
      const report = open as OpenReport | null;
      if (!report) throw new Error('valid report without a pending row');
      const receipt = await finalizeReport(ctx.db, inst, report);
      open = null;
      await createReporterSession(ctx.db, ctx.config, res, {
        reportId: report.reportId,
        dataKey: Buffer.from(report.dataKey).toString('base64'),
        receipt,
        urgent: result.value.urgent,
      });
      res.redirect(303, `/${res.locals['lang']}/report/receipt`);
    } catch (err) {
      const pending = open as OpenReport | null;
      if (pending) await discardPendingReport(ctx.db, pending.reportId);
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      if (err.retryAfterSeconds) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      const result = validation as ReturnType<typeof validateReport> | null;
      renderForm(ctx, res, err.status, lists, {
        values: fields,
        errors: result && !result.ok ? result.errors : {},
        formError: err.code,
        filesDropped: true,
      });
    }
  };
}

async function sessionWithReceipt(ctx: AppContext, req: Request) {
  const session = await loadReporterSession(ctx.db, ctx.config, req);
  return session?.payload.receipt ? session : null;
}

function renderReceipt(res: Response, status: number, receipt: string, urgent: boolean, error: string | null) {
  res.status(status).render('reporter/receipt', { receipt: formatReceipt(receipt), urgent, error });
}

/** The receipt, shown from the reporter's own session until they type it back. */
export function showReceipt(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const session = await sessionWithReceipt(ctx, req);
    if (!session) return res.redirect(303, `/${res.locals['lang']}/status`);
    renderReceipt(res, 200, session.payload.receipt!, Boolean(session.payload.urgent), null);
  };
}

export function confirmReceipt(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    ctx.csrf.check(req);
    const session = await sessionWithReceipt(ctx, req);
    if (!session) return res.redirect(303, `/${res.locals['lang']}/status`);
    const typed = normalizeReceipt(String(req.body?.receipt ?? ''));
    const expected = session.payload.receipt!;
    if (!typed || !constantTimeEqual(Buffer.from(typed), Buffer.from(expected))) {
      return renderReceipt(res, 422, expected, Boolean(session.payload.urgent), typed ? 'receipt_mismatch' : 'receipt_format');
    }
    delete session.payload.receipt;
    delete session.payload.urgent;
    await updateReporterSession(ctx.db, session);
    res.redirect(303, `/${res.locals['lang']}/status?confirmed=1`);
  };
}
