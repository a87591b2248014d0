import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenForOnion } from '../../server/web/onion.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { VALID_REPORT, fileReport } from '../helpers/reporter.js';

/**
 * The audit's onion scenario, through the real onion listener: every
 * visitor arrives from 127.0.0.1 (the Tor daemon), each on a Tor circuit
 * named in the PROXY header Tor sends (HiddenServiceExportCircuitID
 * haproxy). Before: 10 wrong receipts locked out the next visitor even with
 * a correct receipt, and 10 junk reports stopped the 11th visitor for an hour.
 */
let t: TestApp;
let http: Server;
let onion: net.Server;
let port: number;

beforeAll(async () => {
  t = await createTestApp({ env: { RATE_LIMITS: 'true', RECEIPT_ATTEMPTS_PER_HOUR_PER_IP: '10', SUBMISSIONS_PER_HOUR_PER_IP: '10' } });
  http = createServer(t.app);
  onion = listenForOnion(http, '127.0.0.1', 0, () => undefined);
  await once(onion, 'listening');
  port = (onion.address() as net.AddressInfo).port;
});
afterAll(async () => {
  onion.close();
  http.close();
  await t.close();
});

type Answer = { status: number; setCookie: string[]; body: string };

/** One request over the onion port, on circuit `circuit`, as Tor delivers it. */
async function overCircuit(
  circuit: number,
  method: string,
  path: string,
  opts: { cookie?: string; body?: Buffer; type?: string } = {},
): Promise<Answer> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const hi = Math.floor(circuit / 65536).toString(16);
  const lo = (circuit % 65536).toString(16);
  socket.write(`PROXY TCP6 fc00:dead:beef:4dad::${hi}:${lo} ::1 65535 80\r\n`);
  const headers = [`${method} ${path} HTTP/1.1`, 'Host: harbourxyz.onion', 'Connection: close'];
  if (opts.cookie) headers.push(`Cookie: ${opts.cookie}`);
  if (opts.body) headers.push(`Content-Type: ${opts.type}`, `Content-Length: ${opts.body.length}`);
  socket.write(headers.join('\r\n') + '\r\n\r\n');
  if (opts.body) socket.write(opts.body);
  await once(socket, 'close');
  const text = Buffer.concat(chunks).toString('utf8');
  const [head, ...rest] = text.split('\r\n\r\n');
  const lines = head!.split('\r\n');
  return {
    status: Number(lines[0]!.split(' ')[1]),
    setCookie: lines
      .filter((l) => /^set-cookie:/i.test(l))
      .map(
        (l) =>
          l
            .slice(l.indexOf(':') + 1)
            .trim()
            .split(';')[0]!,
      ),
    body: rest.join('\r\n\r\n'),
  };
}

/** A form page's cookies and token on this circuit. */
async function formOn(circuit: number, path: string) {
  const page = await overCircuit(circuit, 'GET', path);
  return { cookie: page.setCookie.join('; '), csrf: /name="_csrf" value="([^"]+)"/.exec(page.body)![1]! };
}

const urlencoded = (fields: Record<string, string>) => Buffer.from(new URLSearchParams(fields).toString());

function multipart(fields: Record<string, string | string[]>) {
  const boundary = `----onion${Math.random().toString(16).slice(2)}`;
  const parts = Object.entries(fields).flatMap(([k, v]) =>
    [v].flat().map((one) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${one}\r\n`),
  );
  return { body: Buffer.from(parts.join('') + `--${boundary}--\r\n`), type: `multipart/form-data; boundary=${boundary}` };
}

describe('visitors over the onion service, all from 127.0.0.1', () => {
  it('ten wrong receipts on one circuit do not stop another visitor’s correct receipt', async () => {
    const { receipt } = await fileReport(t.app);
    const guesser = await formOn(1001, '/en/status');
    const tries: number[] = [];
    for (let i = 0; i < 11; i++) {
      const wrong = String(10_000_000_000_000_000_000n + BigInt(i));
      tries.push(
        (
          await overCircuit(1001, 'POST', '/en/status', {
            cookie: guesser.cookie,
            body: urlencoded({ _csrf: guesser.csrf, receipt: wrong }),
            type: 'application/x-www-form-urlencoded',
          })
        ).status,
      );
    }
    expect(tries.slice(0, 10)).toEqual(Array(10).fill(422));
    expect(tries[10]).toBe(429); // the guesser's own circuit is limited

    const reporter = await formOn(2002, '/en/status');
    const signIn = await overCircuit(2002, 'POST', '/en/status', {
      cookie: reporter.cookie,
      body: urlencoded({ _csrf: reporter.csrf, receipt }),
      type: 'application/x-www-form-urlencoded',
    });
    expect(signIn.status).toBe(303);
  });

  it('ten reports on one circuit do not stop the eleventh visitor', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const form = await formOn(3003, '/en/report');
      const { body, type } = multipart({ _csrf: form.csrf, ...VALID_REPORT });
      statuses.push((await overCircuit(3003, 'POST', '/en/report', { cookie: form.cookie, body, type })).status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(303));
    expect(statuses[10]).toBe(429);
    const next = await formOn(4004, '/en/report');
    const { body, type } = multipart({ _csrf: next.csrf, ...VALID_REPORT });
    expect((await overCircuit(4004, 'POST', '/en/report', { cookie: next.cookie, body, type })).status).toBe(303);
  });
});
