import type { Request } from 'express';

/**
 * Who a request comes from, for rate limits only: one visitor, one key. The
 * key is hashed under the day's key before it is stored (P10) and never
 * logged.
 *
 * Over the onion service every visitor arrives from the same local address
 * (the Tor daemon), so the address would put all of them in one bucket: one
 * person's wrong receipts would lock out the next. The onion listener marks
 * such a connection with Tor's circuit id (HiddenServiceExportCircuitID,
 * sent in the PROXY protocol header) on the socket, and that separates
 * visitors without identifying them: a circuit id is a counter inside our
 * own Tor process, not anything about the visitor.
 */
export const ONION_CIRCUIT = Symbol.for('harbour.onionCircuit');

const CIRCUIT_ID = /^[0-9]{1,20}$/;

export function clientKey(req: Request): string {
  const socket = req.socket as unknown as Record<symbol, unknown> | undefined;
  if (socket && ONION_CIRCUIT in socket) {
    const circuit = socket[ONION_CIRCUIT];
    // A mark we cannot read still came over the onion service: never fall
    // back to the shared local address, keep such requests in one bucket.
    return typeof circuit === 'string' && CIRCUIT_ID.test(circuit) ? `onion:${circuit}` : 'onion:unreadable';
  }
  // req.ip honours TRUST_PROXY (the address the trusted proxy saw).
  return `ip:${req.ip ?? 'unknown'}`;
}
