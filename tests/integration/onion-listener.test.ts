import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ONION_CIRCUIT, circuitOf, listenForOnion, parseProxyHeader } from '../../server/web/onion.js';

/**
 * The onion service's listener: each connection from Tor begins with a PROXY
 * protocol line whose source address carries the circuit
 * (HiddenServiceExportCircuitID haproxy), which the rate limits use to tell
 * visitors apart (they all arrive from 127.0.0.1).
 */
let http: Server;
let onion: net.Server;
let port: number;
let badHeaders = 0;

beforeAll(async () => {
  const app = express();
  app.get('/who', (req, res) => {
    res.json({ circuit: (req.socket as net.Socket & Record<symbol, unknown>)[ONION_CIRCUIT] ?? null });
  });
  http = createServer(app);
  onion = listenForOnion(http, '127.0.0.1', 0, () => badHeaders++);
  await once(onion, 'listening');
  port = (onion.address() as net.AddressInfo).port;
});
afterAll(() => {
  onion.close();
  http.close();
});

/** One raw HTTP exchange over the onion port, prefixed by `header`. */
async function exchange(header: string, requests = 1): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let out = '';
  socket.on('data', (c: Buffer) => (out += c.toString()));
  socket.write(header);
  for (let i = 0; i < requests; i++)
    socket.write(`GET /who HTTP/1.1\r\nHost: example.onion\r\n${i === requests - 1 ? 'Connection: close\r\n' : ''}\r\n`);
  await once(socket, 'close');
  return out;
}

describe('PROXY protocol v1 from Tor', () => {
  it('reads the circuit id from the header of each connection', async () => {
    const a = await exchange('PROXY TCP6 fc00:dead:beef:4dad::0:1 ::1 65535 80\r\n');
    const b = await exchange('PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 65535 80\r\n');
    expect(a).toContain('{"circuit":"1"}');
    expect(b).toContain(`{"circuit":"${65536 + 2}"}`);
  });

  it('keeps the circuit for every request on a kept-alive connection', async () => {
    const out = await exchange('PROXY TCP6 fc00:dead:beef:4dad::ab:cd ::1 65535 80\r\n', 3);
    expect(out.match(/"circuit":"11206861"/g)).toHaveLength(3);
  });

  it('closes a connection without a valid header, and counts it', async () => {
    const before = badHeaders;
    for (const bad of ['GET /who HTTP/1.1\r\n\r\n', 'PROXY TCP6 not-an-address ::1 1 2\r\n', `PROXY ${'x'.repeat(200)}`]) {
      expect(await exchange(bad)).toBe('');
    }
    expect(badHeaders).toBe(before + 3);
  });

  it('parses only well-formed lines', () => {
    expect(parseProxyHeader('PROXY TCP4 127.0.0.1 127.0.0.1 5000 80\r\n')).toEqual({ source: '127.0.0.1', circuit: '127.0.0.1' });
    expect(parseProxyHeader('PROXY TCP6 fc00:dead:beef:4dad::0:7 ::1 1 80\r\n')?.circuit).toBe('7');
    expect(parseProxyHeader('PROXY UNKNOWN\r\n')).toBeNull();
    expect(parseProxyHeader('PROXY TCP4 999.1.1.1 127.0.0.1 1 2\r\n')).toBeNull();
    expect(circuitOf('FC00:DEAD:BEEF:4DAD::FFFF:FFFF')).toBe(String(0xffffffff));
  });
});
