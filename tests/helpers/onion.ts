import express, { type Express } from 'express';
import { ONION_CIRCUIT } from '../../server/web/client.js';

/** The header a test sends to say which onion circuit a request came over (the real onion listener reads Tor's PROXY header). */
export const CIRCUIT_HEADER = 'x-test-onion-circuit';

/**
 * The app behind a stand-in for the onion listener: a request carrying
 * CIRCUIT_HEADER arrives as if over that Tor circuit (its socket marked as
 * the listener marks it); one without, as a direct connection.
 */
export function overOnion(app: Express): Express {
  const outer = express();
  outer.set('trust proxy', app.get('trust proxy'));
  outer.use((req, _res, next) => {
    const socket = req.socket as unknown as Record<symbol, unknown>;
    const circuit = req.headers[CIRCUIT_HEADER];
    if (typeof circuit === 'string') socket[ONION_CIRCUIT] = circuit;
    else delete socket[ONION_CIRCUIT];
    next();
  });
  outer.use(app);
  return outer;
}
