import type { Request, RequestHandler, Response } from 'express';
import { audit } from '../audit/log.js';
import { notFound } from '../errors.js';
import { decryptEvidence } from '../reporting/evidence.js';
import { evidenceFileName } from '../reporting/evidence-names.js';
import { staffOf } from '../staff/context.js';
import type { AppContext } from '../web/context.js';
import { contentDisposition, fileHeaders } from '../web/download.js';
import { sendChunks } from '../web/stream.js';
import { staffTranslator, translator } from '../i18n/index.js';
import { openCase, type OpenCase } from './access.js';
import { formatDateTime } from '../i18n/dates.js';
import { fileSize } from './case-view.js';
import { evidenceFile, evidenceList, reportView } from './reading.js';
import { ClientGone, writeBundle, type PackFacts } from './referral-bundle.js';
import { chosenNotes, openReferral } from './referral.js';

/**
 * What leaves the case page as a file or a printable page: an evidence file
 * (download or inline image), the referral pack and the referral bundle.
 * Each is a decrypted read, audited before the first byte is sent; each file
 * goes out under our name for it (evidence-3.txt), never the reporter's.
 */

const idParam = (req: Request, name = 'id') => String(req.params[name] ?? '');

async function load(ctx: AppContext, req: Request, res: Response): Promise<OpenCase> {
  return openCase(ctx.db, await staffOf(res).teamKeys(), idParam(req));
}

/** Only what the upload pipeline writes after re-encoding an image (never SVG or anything scriptable). */
const INLINE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif']);

export function downloadEvidence(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const c = await load(ctx, req, res);
    const file = await evidenceFile(ctx.db, c, idParam(req, 'eid'));
    if (!file) throw notFound();
    const inline = req.query['inline'] === '1' && INLINE_TYPES.has(file.meta.type);
    // Recorded before the first byte leaves, so an interrupted download is still on record.
    await audit(ctx.db, {
      action: 'case.evidence_downloaded',
      actorId: staffOf(res).user.id,
      caseId: c.id,
      details: { evidenceId: file.row.id, inline },
    });
    fileHeaders(res, { name: evidenceFileName(file.row.n, file.meta), size: file.meta.size, inlineType: inline ? file.meta.type : null });
    await sendChunks(res, decryptEvidence(ctx.db, c.dataKey, file.row));
  };
}

async function packFacts(ctx: AppContext, c: OpenCase, consent: string | null): Promise<PackFacts> {
  return {
    orgName: (await ctx.settings()).orgName,
    caseId: c.id,
    consentLabel: consent ? translator('en')(`form.consent.options.${consent}`) : staffTranslator()('case.report.consent_unknown'),
    generatedAt: new Date(),
    fmt: formatDateTime,
  };
}

export function showPack(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const c = await load(ctx, req, res);
    const referral = await openReferral(ctx.db, c, idParam(req, 'rid'));
    // Recorded before anything is decrypted for the page.
    await audit(ctx.db, { action: 'case.referral_pack_viewed', actorId: staffOf(res).user.id, caseId: c.id, details: { referralId: referral.id } });
    const [report, notes, evidence] = await Promise.all([reportView(ctx.db, c), chosenNotes(ctx.db, c, referral), evidenceList(ctx.db, c)]);
    res.render('staff/referral-pack', {
      title: staffTranslator()('referral.pack.title', { id: c.id.slice(0, 8) }),
      fmt: formatDateTime,
      size: fileSize,
      facts: await packFacts(ctx, c, report.consent),
      referral,
      report,
      notes,
      evidence: evidence.map((e) => e.item),
    });
  };
}

export function downloadBundle(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    const c = await load(ctx, req, res);
    const referral = await openReferral(ctx.db, c, idParam(req, 'rid'));
    await audit(ctx.db, {
      action: 'case.referral_bundle_downloaded',
      actorId: staffOf(res).user.id,
      caseId: c.id,
      details: { referralId: referral.id },
    });
    const [report, notes] = await Promise.all([reportView(ctx.db, c), chosenNotes(ctx.db, c, referral)]);
    res.setHeader('Content-Type', 'application/zip');
    res.setHeader('Content-Disposition', contentDisposition('attachment', `referral-${c.id.slice(0, 8)}-${referral.referredOn}.zip`));
    try {
      await writeBundle(ctx.db, c, await packFacts(ctx, c, report.consent), report, referral, notes, res);
    } catch (err) {
      if (!(err instanceof ClientGone)) throw err;
    }
  };
}
