import type { RequestHandler, Response } from 'express';
import type { TFunction } from 'i18next';
import { constantTimeEqual, formatReceipt, normalizeReceipt } from '../crypto/index.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { HttpError, databaseUnavailable } from '../errors.js';
import { currentTeamKey, type Installation } from '../setup/service.js';
import { emptyMap } from '../own.js';
import { requireInstallation, type AppContext } from '../web/context.js';
import { parseMultipart } from '../web/multipart.js';
import { setSessionCookie } from '../web/session-store.js';
import { storeReporterEvidence } from './evidence.js';
import { reportFormView } from './form-view.js';
import { createReporterSession, reporterOf } from './session.js';
import { loadLists, type Lists } from '../settings/lists.js';
import { claimForm, newFormKey, parseFormKey, type Claim, type FormKey } from './form-claims.js';
import { discardUnfiled, fileReport, receiptTypedBack, reopenFiled } from './intake.js';
import { createPendingReport, type OpenReport } from './service.js';
import { validateReport, type FieldErrors, type FormFields } from './validation.js';

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
      await discardUnfiled(ctx.db, ctx.logger, open as OpenReport | null, formKey as FormKey | null, (claim as Claim | null)?.kind === 'mine');
    };

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
          const { meta } = await storeReporterEvidence(ctx.db, limits, report, remaining, { filename: info.filename, source: stream });
          evidenceBytes += meta.originalSize;
        },
        { stopping: ctx.shutdown.signal, deadlineMs: ctx.config.requestTimeoutMs },
      );
      const filesSent = parsed.files;
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
      const session = await fileReport(ctx.db, ctx.config, inst, report, formKey, result.value.urgent);
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
 * A repeat of a form that was already filed: the same receipt page (a new
 * session for the same report, from the receipt copy), or, once the receipt
 * was typed back, a page that says the report was sent.
 */
async function showRepeat(ctx: AppContext, inst: Installation, res: Response, claim: Extract<Claim, { kind: 'sent' }>): Promise<void> {
  const payload = claim.receipt ? await reopenFiled(ctx.db, inst, claim.receipt) : null;
  if (!payload) throw new HttpError(409, 'already_sent'); // the receipt was typed back, or the report withdrawn since
  await createReporterSession(ctx.db, ctx.config, res, payload);
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
    await receiptTypedBack(ctx.db, session);
    res.redirect(303, `/${res.locals['lang']}/status?confirmed=1`);
  };
}
