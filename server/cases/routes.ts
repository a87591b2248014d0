import { Router } from 'express';
import { requireRole } from '../staff/session.js';
import type { AppContext } from '../web/context.js';
import { urlencodedForm } from '../web/forms.js';
import {
  postAssignee,
  postLabels,
  postLink,
  postMessage,
  postNote,
  postReferral,
  postRetention,
  postSpam,
  postStatus,
  postUnlink,
  postUrgency,
  showCase,
} from './case.js';
import { downloadBundle, downloadEvidence, showPack } from './files.js';

/**
 * The case page and its actions. Read each line as a permission: only the
 * caseworker role (an administrator who is not one gets 403, P6); inside,
 * every handler opens the case by id with the user's own team keys and
 * answers 404 for anything it cannot open (P11). Every POST checks CSRF.
 */
export function caseRoutes(ctx: AppContext): Router {
  const form = urlencodedForm({ limit: '64kb', parameterLimit: 1000 });
  const r = Router();

  r.get('/staff/cases/:id', requireRole('caseworker'), showCase(ctx));
  r.get('/staff/cases/:id/evidence/:eid', requireRole('caseworker'), downloadEvidence(ctx));
  r.post('/staff/cases/:id/status', requireRole('caseworker'), form, postStatus(ctx));
  r.post('/staff/cases/:id/urgency', requireRole('caseworker'), form, postUrgency(ctx));
  r.post('/staff/cases/:id/assignee', requireRole('caseworker'), form, postAssignee(ctx));
  r.post('/staff/cases/:id/labels', requireRole('caseworker'), form, postLabels(ctx));
  r.post('/staff/cases/:id/links', requireRole('caseworker'), form, postLink(ctx));
  r.post('/staff/cases/:id/links/:other/delete', requireRole('caseworker'), form, postUnlink(ctx));
  r.post('/staff/cases/:id/notes', requireRole('caseworker'), form, postNote(ctx));
  r.post('/staff/cases/:id/messages', requireRole('caseworker'), form, postMessage(ctx));
  r.post('/staff/cases/:id/referrals', requireRole('caseworker'), form, postReferral(ctx));
  r.post('/staff/cases/:id/retention', requireRole('caseworker'), form, postRetention(ctx));
  r.post('/staff/cases/:id/spam', requireRole('caseworker'), form, postSpam(ctx));
  r.get('/staff/cases/:id/referrals/:rid/pack', requireRole('caseworker'), showPack(ctx));
  r.get('/staff/cases/:id/referrals/:rid/bundle', requireRole('caseworker'), downloadBundle(ctx));

  return r;
}
