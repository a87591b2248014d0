import { Router } from 'express';
import type { AppContext } from '../web/context.js';

/** Case routes (/staff/cases/:id…). Placeholder until the case page lands. */
export function caseRoutes(_ctx: AppContext): Router {
  return Router();
}
