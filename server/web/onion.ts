import { readFile } from 'node:fs/promises';
import net from 'node:net';
import type { Server } from 'node:http';
import type { Request } from 'express';
import { ONION_V3 } from '../config.js';
import { ONION_CIRCUIT } from './client.js';

/**
 * The onion service's own listener. Tor connects to Harbour from loopback
 * for every visitor, so to Harbour they would all be one address: ten wrong
 * receipts from one visitor would lock out the next, ten reports from one
 * would stop everyone. With `HiddenServiceExportCircuitID haproxy` Tor starts
 * each connection with a PROXY protocol (v1) line whose source address
 * encodes the circuit, and circuits are per visitor (per site, per Tor
 * Browser session) without telling us anything about who they are. The
 * rate limits key onion requests by that circuit (client.ts).
 *
 * The PROXY v1 header is one ASCII line of at most 107 bytes; parsing it is
 * a regular expression, so no library is added for it. A connection without
 * a valid header is closed: this port must only ever be reached by Tor.
 */
export { ONION_CIRCUIT };

const MAX_HEADER = 107;
const HEADER_TIMEOUT_MS = 5000;
// "PROXY TCP6 fc00:dead:beef:4dad::ab:cd ::1 65535 80\r\n" (Tor's form); TCP4 accepted too.
const V1 = /^PROXY (TCP4|TCP6) ([0-9a-fA-F:.]{2,45}) ([0-9a-fA-F:.]{2,45}) (\d{1,5}) (\d{1,5})\r\n$/;

/** The circuit id a Tor PROXY header carries in the source address (fc00:dead:beef:4dad::hi:lo), or the address itself. */
export function circuitOf(source: string): string {
  const m = /^fc00:dead:beef:4dad::([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(source);
  if (!m) return source.toLowerCase();
  return String(parseInt(m[1]!, 16) * 65536 + parseInt(m[2]!, 16));
}

/** Parses one PROXY v1 line (with its CRLF); null if it is not one. */
export function parseProxyHeader(line: string): { source: string; circuit: string } | null {
  const m = V1.exec(line);
  if (!m) return null;
  if (!(net.isIP(m[2]!) && net.isIP(m[3]!))) return null;
  return { source: m[2]!, circuit: circuitOf(m[2]!) };
}

/**
 * Listens for Tor on host:port and hands each connection, once its PROXY
 * header is read and its circuit noted on the socket, to the same HTTP
 * server as every other request (its timeouts and routes apply).
 */
export function listenForOnion(http: Server, host: string, port: number, onBadHeader: () => void): net.Server {
  const server = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), HEADER_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n');
      if (end === -1) {
        if (buffered.length > MAX_HEADER) fail();
        return;
      }
      const header = parseProxyHeader(buffered.subarray(0, end + 2).toString('latin1'));
      if (!header) return fail();
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      (socket as net.Socket & Record<symbol, unknown>)[ONION_CIRCUIT] = header.circuit;
      const rest = buffered.subarray(end + 2);
      if (rest.length) socket.unshift(rest);
      http.emit('connection', socket);
      socket.resume();
    };
    const fail = () => {
      clearTimeout(timer);
      onBadHeader();
      socket.destroy();
    };
    socket.on('data', onData);
    socket.on('error', () => clearTimeout(timer));
  });
  server.listen(port, host);
  return server;
}

/** Whether a request came in over the onion listener (its connection carries Tor's circuit mark). */
export function arrivedOverOnion(req: Request): boolean {
  const socket = req.socket as unknown as Record<symbol, unknown> | undefined;
  return Boolean(socket && ONION_CIRCUIT in socket);
}

/** How long a read of Tor's hostname file is reused before the file is read again. */
export const ONION_HOSTNAME_REFRESH_MS = 30_000;
const hostnames = new Map<string, { readAt: number; address: Promise<string | null> }>();

/**
 * The onion address in Tor's `hostname` file (ONION_HOSTNAME_FILE), or null
 * while the file is missing, unreadable or holds no v3 address. Read again
 * at most every ONION_HOSTNAME_REFRESH_MS: every instance reads the file
 * itself, so a new key (and address) reaches each of them within that time,
 * and nothing lives only in one process's memory.
 */
export function onionHostnameFrom(file: string, now = Date.now()): Promise<string | null> {
  const cached = hostnames.get(file);
  if (cached && now - cached.readAt < ONION_HOSTNAME_REFRESH_MS && now >= cached.readAt) return cached.address;
  const address = readFile(file, 'utf8').then(
    (text) => {
      const candidate = text.trim().toLowerCase();
      return ONION_V3.test(candidate) ? candidate : null;
    },
    () => null,
  );
  hostnames.set(file, { readAt: now, address });
  return address;
}
