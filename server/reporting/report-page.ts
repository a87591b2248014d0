import type { RequestHandler, Response } from 'express';
import type { TFunction } from 'i18next';
import { constantTimeEqual, formatReceipt, normalizeReceipt, type SessionToken } from '../crypto/index.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { HttpError, databaseUnavailable, notReady } from '../errors.js';
import { currentTeamKey, type Installation } from '../setup/service.js';
import { emptyMap } from '../own.js';
import type { AppContext } from '../web/context.js';
import { parseMultipart } from '../web/multipart.js';
import { setSessionCookie } from '../web/session-store.js';
import { storeEvidence } from './evidence.js';
import { reportFormView } from './form-view.js';
import { confirmReporterSession, createReporterSession, insertReporterSession, reporterOf } from './session.js';
import { loadLists, type Lists } from '../settings/lists.js';
import { claimForm, newFormKey, parseFormKey, sealReceiptForForm, type Claim, type FormKey } from './form-claims.js';
import { completeFormClaim, forgetClaimReceipt, releaseFormClaim } from './queries.js';
import { createPendingReport, discardPendingReport, issueReceipt, markSubmitted, openWithReceipt, reportUrgency, type OpenReport } from './service.js';
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
    // The form's one submission (form-claims.ts): kept across a language
    // switch and a refused attempt, new for each fresh form.
    formKey: parseFormKey(state.values?.['form_key']?.[0])?.cookieValue ?? newFormKey(),
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
    const parsed = await parseMultipart(
      req,
      { fieldBytes: limits.fieldBytes, fields: 200, files: limits.filesPerUpload, totalBytes: limits.reportBytes + limits.formBytes },
      fields,
      async () => {}, // the file itself is drained by parseMultipart, never stored
    );
    renderForm(ctx, res, 200, lists, { values: fields, filesDropped: parsed.files > 0, languageSwitched: true });
  };
}

/**
 * Receives the report form in one streamed request. The form's fields come
 * first; at the first file (or the end) they are validated and, if valid,
 * the form's one submission is claimed and the report stored encrypted in
 * the 'pending' state; each file then streams into encrypted evidence. Only
 * when everything has arrived are the receipt, the report's 'submitted' state
 * and the reporter's session written, in one transaction. On any failure —
 * bad input, a limit, the client gone, the request timing out, the process
 * stopping, the database away — what this request wrote is deleted at once
 * and the form comes back with everything the reporter typed (files must be
 * chosen again: browsers cannot re-fill a file input).
 */
export function submitReport(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const inst = await requireInstallation(ctx);
    const lists = await loadLists(ctx.db);
    const { limits } = ctx.config;
    const fields: FormFields = emptyMap();
    let validation: ReturnType<typeof validateReport> | null = null;
    let formKey: FormKey | null = null;
    let claim: Claim | null = null;
    let open: OpenReport | null = null;
    let filed = false;
    let evidenceBytes = 0;

    const prepare = async () => {
      if (validation) return;
      validation = validateReport(fields, lists);
      if (!validation.ok) return;
      ctx.disk?.ensureSpace();
      // Every form the server draws has a key; a post without one (a script)
      // is filed without the double-submission guard, which protects people, not the server.
      formKey = parseFormKey(fields['form_key']?.[0]);
      if (formKey) {
        claim = await claimForm(ctx.db, formKey, {
          maxWaitMs: ctx.config.requestTimeoutMs,
          gone: () => req.socket.destroyed,
          stopping: ctx.shutdown.signal,
        });
        if (claim.kind === 'sent') return; // a repeat: nothing more is stored
      }
      await ctx.rateLimits.consume('submit', req);
      open = await createPendingReport(ctx.db, await currentTeamKey(ctx.db), validation.value);
    };

    // Whatever did not end in a receipt is removed as the request ends, not
    // left for the hourly sweep (which only catches what a crash leaves).
    let discarded = false;
    const discard = async () => {
      if (filed || discarded) return;
      discarded = true;
      await discardUnfiled(ctx, open as OpenReport | null, formKey as FormKey | null, (claim as Claim | null)?.kind === 'mine');
    };

    let filesSent = 0;
    try {
      const parsed = await parseMultipart(
        req,
        { fieldBytes: limits.fieldBytes, fields: 200, files: limits.filesPerUpload, totalBytes: limits.reportBytes + limits.formBytes },
        fields,
        async (stream, info) => {
          await prepare();
          const report = open as OpenReport | null;
          if (!report) return; // invalid form, or a repeat: the file is drained, never stored
          ctx.disk?.ensureSpace();
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
        { stopping: ctx.shutdown.signal, deadlineMs: ctx.config.requestTimeoutMs },
      );
      filesSent = parsed.files;
      await prepare();
      const result = validation as ReturnType<typeof validateReport> | null;
      if (!result?.ok) {
        renderForm(ctx, res, 422, lists, { values: fields, errors: result?.errors ?? {}, filesDropped: filesSent > 0 });
        return;
      }
      const repeat = claim as Claim | null;
      if (repeat?.kind === 'sent') return await showRepeat(ctx, inst, res, repeat);
      const report = open as OpenReport | null;
      if (!report) throw new Error('valid report without a pending row');
      const session = await fileReport(ctx, inst, report, formKey, result.value.urgent);
      filed = true;
      setSessionCookie(ctx.config, res, 'reporter', session);
      res.redirect(303, `/${res.locals['lang']}/report/receipt`);
    } catch (err) {
      await discard(); // before answering: the page never comes before the clean-up
      const known = err instanceof HttpError ? err : isDatabaseUnavailable(err) ? databaseUnavailable() : null;
      if (!known) throw err;
      if (req.socket.destroyed) return; // nobody left to answer
      if (known.retryAfterSeconds) res.setHeader('Retry-After', String(known.retryAfterSeconds));
      // The body was not read to its end: this answer ends the connection.
      if (known.code === 'shutting_down' || known.code === 'upload_timeout') res.setHeader('Connection', 'close');
      const result = validation as ReturnType<typeof validateReport> | null;
      renderForm(ctx, res, known.status, lists, {
        values: fields,
        errors: result && !result.ok ? result.errors : {},
        formError: known.code,
        filesDropped: true,
      });
    } finally {
      await discard();
    }
  };
}

/**
 * The receipt, the report's 'submitted' state, the reporter's session and the
 * form's "sent" mark in one transaction: a report is never stored without a
 * session that opens it, nor a session for a report that is not there.
 */
async function fileReport(ctx: AppContext, inst: Installation, report: OpenReport, formKey: FormKey | null, urgent: boolean): Promise<SessionToken> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const issued = await issueReceipt(inst, report);
    const session = await ctx.db.transaction().execute(async (trx) => {
      if (!(await markSubmitted(trx, report, issued))) return null;
      const token = await insertReporterSession(trx, {
        stage: 'receipt_pending',
        reportId: report.reportId,
        dataKey: Buffer.from(report.dataKey).toString('base64'),
        receipt: issued.receipt,
        urgent,
      });
      if (formKey) await completeFormClaim(trx, formKey.idHash, report.reportId, sealReceiptForForm(formKey, issued.receipt));
      return token;
    });
    if (session) return session;
  }
  throw new Error('could not issue a unique receipt');
}

/** Removes a pending report (its evidence cascades) and gives the form back; logs, never throws. */
async function discardUnfiled(ctx: AppContext, open: OpenReport | null, formKey: FormKey | null, claimed: boolean): Promise<void> {
  try {
    if (open) await discardPendingReport(ctx.db, open.reportId);
    if (claimed && formKey) await releaseFormClaim(ctx.db, formKey.idHash);
  } catch (err) {
    ctx.logger.warn({ err }, 'could not discard an unfinished report; housekeeping will');
  }
}

/**
 * A repeat of a form that was already filed: the same receipt page (a new
 * session for the same report, from the receipt copy), or, once the receipt
 * was typed back, a page that says the report was sent.
 */
async function showRepeat(ctx: AppContext, inst: Installation, res: Response, claim: Extract<Claim, { kind: 'sent' }>): Promise<void> {
  if (!claim.receipt) throw new HttpError(409, 'already_sent');
  const opened = await openWithReceipt(ctx.db, inst, claim.receipt);
  if (!opened) throw new HttpError(409, 'already_sent'); // withdrawn since
  const urgent = (await reportUrgency(ctx.db, opened.reportId)) ?? false;
  await createReporterSession(ctx.db, ctx.config, res, {
    stage: 'receipt_pending',
    reportId: opened.reportId,
    dataKey: Buffer.from(opened.dataKey).toString('base64'),
    receipt: claim.receipt,
    urgent,
  });
  res.redirect(303, `/${res.locals['lang']}/report/receipt`);
}

function renderReceipt(res: Response, status: number, receipt: string, urgent: boolean, error: string | null) {
  res.status(status).render('reporter/receipt', { receipt: formatReceipt(receipt), urgent, error });
}

/** The receipt, shown from the reporter's own session until they type it back. */
export function showReceipt(_ctx: AppContext): RequestHandler {
  return async (_req, res) => {
    const { payload } = reporterOf(res, 'receipt_pending');
    renderReceipt(res, 200, payload.receipt, payload.urgent, null);
  };
}

export function confirmReceipt(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const session = reporterOf(res, 'receipt_pending');
    const typed = normalizeReceipt(String(req.body?.receipt ?? ''));
    const expected = session.payload.receipt;
    if (!typed || !constantTimeEqual(Buffer.from(typed), Buffer.from(expected))) {
      return renderReceipt(res, 422, expected, session.payload.urgent, typed ? 'receipt_mismatch' : 'receipt_format');
    }
    await confirmReporterSession(ctx.db, session);
    await forgetClaimReceipt(ctx.db, session.payload.reportId); // a repeat of the form now only says "already sent"
    res.redirect(303, `/${res.locals['lang']}/status?confirmed=1`);
  };
}
