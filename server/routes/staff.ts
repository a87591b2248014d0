import { Router } from 'express';
import { addToList, relabelItem, retireItem, showItem, showList, showSettings, updateSettings } from '../admin/settings-page.js';
import { confirmDeactivation, deactivate, invite, reactivate, requestAccess, resetTwoFactor, staffList } from '../admin/staff-page.js';
import { auditPage } from '../audit/audit-page.js';
import { statisticsExport, statisticsPage } from '../stats/statistics-page.js';
import { queuePage } from '../cases/queue-page.js';
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
} from '../cases/case-page.js';
import { downloadBundle, downloadEvidence, showPack } from '../cases/files-page.js';
import type { AppContext } from '../web/context.js';
import { csrfGuards, csrfLocals } from '../web/csrf.js';
import { urlencodedForm } from '../web/forms.js';
import { staffTranslator } from '../i18n/index.js';
import { updateAlertKinds } from '../admin/alert-settings.js';
import { postAlertKey, postAlertTiming, postRemoveAlertKey, showAccount } from '../staff/account-page.js';
import {
  acceptInvitation,
  showInvitation,
  showSignIn,
  showTwoFactor,
  signIn,
  signOut,
  signOutEverywhere,
  updatePassword,
  verifyTwoFactor,
} from '../staff/sign-in-page.js';
import { accessPage, approve } from '../team/access-page.js';
import { keysPage, rotate } from '../team/keys-page.js';
import { loadStaff, requireRole, requireSignedIn } from '../staff/session.js';

/**
 * Staff (/staff) and administrator (/admin) routes. Read each line as a
 * permission: the guard on the line is the whole rule, and every case route
 * also checks the case inside its handler (P11). Every POST carries
 * requireCsrf after its body parser; the role guard comes first, so a
 * signed-out POST is refused (401) before its token is looked at.
 */
export function staffRoutes(ctx: AppContext): Router {
  const { requireCsrf } = csrfGuards(ctx.csrf);
  const form = urlencodedForm({ limit: '64kb', parameterLimit: 100 });
  const r = Router();
  const area = ['/staff', '/admin'];
  r.use(area, (_req, res, next) => {
    // The staff pages' strings (locales/staff/en.json), as `st` in every staff view.
    res.locals['st'] = staffTranslator();
    next();
  });
  r.use(area, csrfLocals(ctx));
  r.use(area, loadStaff(ctx));

  // Signing in and out (no role needed to reach these).
  r.get('/staff/sign-in', showSignIn);
  r.post('/staff/sign-in', form, requireCsrf, signIn(ctx));
  r.get('/staff/two-factor', showTwoFactor(ctx));
  r.post('/staff/two-factor', form, requireCsrf, verifyTwoFactor(ctx));
  r.post('/staff/sign-out', form, requireCsrf, signOut(ctx));
  r.get('/staff/invitations/:token', showInvitation(ctx));
  r.post('/staff/invitations/:token', form, requireCsrf, acceptInvitation(ctx));

  // Any signed-in staff member.
  r.get('/staff', requireSignedIn, (_req, res) => res.redirect(302, '/staff/cases'));
  r.get('/staff/account', requireSignedIn, showAccount(ctx));
  r.post('/staff/account/password', requireSignedIn, form, requireCsrf, updatePassword(ctx));
  r.post('/staff/account/alerts', requireSignedIn, form, requireCsrf, postAlertTiming(ctx));
  r.post('/staff/account/alert-key', requireSignedIn, form, requireCsrf, postAlertKey(ctx));
  r.post('/staff/account/alert-key/remove', requireSignedIn, form, requireCsrf, postRemoveAlertKey(ctx));
  r.post('/staff/sign-out-everywhere', requireSignedIn, form, requireCsrf, signOutEverywhere(ctx));

  // Administrators.
  r.get('/admin', requireRole('admin'), (_req, res) => res.redirect(302, '/admin/staff'));
  r.get('/admin/staff', requireRole('admin'), staffList(ctx));
  r.post('/admin/staff/invitations', requireRole('admin'), form, requireCsrf, invite(ctx));
  r.get('/admin/staff/:id/deactivate', requireRole('admin'), confirmDeactivation(ctx));
  r.post('/admin/staff/:id/deactivate', requireRole('admin'), form, requireCsrf, deactivate(ctx));
  r.post('/admin/staff/:id/reactivate', requireRole('admin'), form, requireCsrf, reactivate(ctx));
  r.post('/admin/staff/:id/reset-2fa', requireRole('admin'), form, requireCsrf, resetTwoFactor(ctx));
  r.get('/admin/audit', requireRole('admin'), auditPage(ctx));
  r.get('/admin/settings', requireRole('admin'), showSettings(ctx));
  r.post('/admin/settings', requireRole('admin'), form, requireCsrf, updateSettings(ctx));
  r.post('/admin/settings/alerts', requireRole('admin'), form, requireCsrf, updateAlertKinds(ctx));
  r.get('/admin/settings/lists/:list', requireRole('admin'), showList(ctx));
  r.post('/admin/settings/lists/:list', requireRole('admin'), form, requireCsrf, addToList(ctx));
  r.get('/admin/settings/lists/:list/:code', requireRole('admin'), showItem(ctx));
  r.post('/admin/settings/lists/:list/:code', requireRole('admin'), form, requireCsrf, relabelItem(ctx));
  r.post('/admin/settings/lists/:list/:code/retire', requireRole('admin'), form, requireCsrf, retireItem(ctx, true));
  r.post('/admin/settings/lists/:list/:code/restore', requireRole('admin'), form, requireCsrf, retireItem(ctx, false));
  // Statistics need no decryption (P6): administrators only, every view and export audited.
  r.get('/admin/statistics', requireRole('admin'), statisticsPage(ctx));
  r.get('/admin/statistics.csv', requireRole('admin'), statisticsExport(ctx, 'csv'));
  r.get('/admin/statistics.json', requireRole('admin'), statisticsExport(ctx, 'json'));
  // An administrator asks for a caseworker's access; nothing is sealed (P6). A key holder confirms it below.
  r.post('/admin/staff/:id/approve', requireRole('admin'), form, requireCsrf, requestAccess(ctx));

  // Caseworkers: the queue.
  r.get('/staff/cases', requireRole('caseworker'), queuePage(ctx));

  // Caseworkers: team-key rotation (P4).
  r.get('/staff/keys', requireRole('caseworker'), keysPage(ctx));
  r.post('/staff/keys/rotate', requireRole('caseworker'), form, requireCsrf, rotate(ctx));

  // Caseworkers: case access (P3). One confirmed action by a key holder, for someone else (team/access.ts).
  r.get('/staff/access', requireRole('caseworker'), accessPage(ctx));
  r.post('/staff/access/:id/approve', requireRole('caseworker'), form, requireCsrf, approve(ctx));

  // Caseworkers: the case page and its actions. Only the caseworker role (an
  // administrator who is not one gets 403, P6); inside, every handler opens
  // the case by id with the user's own team keys and answers 404 for anything
  // it cannot open (P11).
  const caseForm = urlencodedForm({ limit: '64kb', parameterLimit: 1000 });
  r.get('/staff/cases/:id', requireRole('caseworker'), showCase(ctx));
  r.get('/staff/cases/:id/evidence/:eid', requireRole('caseworker'), downloadEvidence(ctx));
  r.post('/staff/cases/:id/status', requireRole('caseworker'), caseForm, requireCsrf, postStatus(ctx));
  r.post('/staff/cases/:id/urgency', requireRole('caseworker'), caseForm, requireCsrf, postUrgency(ctx));
  r.post('/staff/cases/:id/assignee', requireRole('caseworker'), caseForm, requireCsrf, postAssignee(ctx));
  r.post('/staff/cases/:id/labels', requireRole('caseworker'), caseForm, requireCsrf, postLabels(ctx));
  r.post('/staff/cases/:id/links', requireRole('caseworker'), caseForm, requireCsrf, postLink(ctx));
  r.post('/staff/cases/:id/links/:other/delete', requireRole('caseworker'), caseForm, requireCsrf, postUnlink(ctx));
  r.post('/staff/cases/:id/notes', requireRole('caseworker'), caseForm, requireCsrf, postNote(ctx));
  r.post('/staff/cases/:id/messages', requireRole('caseworker'), caseForm, requireCsrf, postMessage(ctx));
  r.post('/staff/cases/:id/referrals', requireRole('caseworker'), caseForm, requireCsrf, postReferral(ctx));
  r.post('/staff/cases/:id/retention', requireRole('caseworker'), caseForm, requireCsrf, postRetention(ctx));
  r.post('/staff/cases/:id/spam', requireRole('caseworker'), caseForm, requireCsrf, postSpam(ctx));
  r.get('/staff/cases/:id/referrals/:rid/pack', requireRole('caseworker'), showPack(ctx));
  r.get('/staff/cases/:id/referrals/:rid/bundle', requireRole('caseworker'), downloadBundle(ctx));

  return r;
}
