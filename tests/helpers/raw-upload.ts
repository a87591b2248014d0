import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { createServer, type Server } from 'node:http';
import { VALID_REPORT, newFormKeyForTest } from './reporter.js';

/**
 * Uploads as a network sees them, for what supertest cannot do: a client
 * that stops halfway, one that sends slowly, and reading the answer while the
 * body is still being sent.
 */
export type Listening = { server: Server; base: string; port: number; close(): Promise<void> };

export async function listen(app: Express, opts: { requestTimeoutMs?: number } = {}): Promise<Listening> {
  // Node checks request time-outs every connectionsCheckingInterval (30 s by default).
  const server = createServer({ connectionsCheckingInterval: 250 }, app);
  if (opts.requestTimeoutMs) server.requestTimeout = opts.requestTimeoutMs;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A page's CSRF token and the cookies that go with it. */
export async function formSession(base: string, path = '/en/report'): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(base + path);
  const html = await res.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  return { cookie, csrf };
}

export type RawUpload = {
  socket: net.Socket;
  /** Everything the server has answered so far. */
  response(): string;
  /** Sends `bytes` more of the file. */
  send(bytes: number): void;
  /** Ends the file and the body. */
  finish(): void;
  closed: Promise<void>;
};

/**
 * Opens a multipart POST of a valid report (or `fields`) with one file of
 * `fileBytes` declared, and sends the fields and `initialFileBytes` of it.
 */
export async function startUpload(
  port: number,
  session: { cookie: string; csrf: string },
  opts: { path?: string; fileBytes: number; initialFileBytes: number; fields?: Record<string, string | string[]> },
): Promise<RawUpload> {
  const boundary = `----harbourtest${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  const field = (name: string, value: string) =>
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  field('_csrf', session.csrf);
  const fields = opts.fields ?? { ...VALID_REPORT, form_key: newFormKeyForTest() };
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) field(k, one);
  const head = Buffer.concat([
    ...parts,
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="evidence"; filename="notes.txt"\r\nContent-Type: text/plain\r\n\r\n`),
  ]);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const length = head.length + opts.fileBytes + tail.length;
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = once(socket, 'close').then(() => undefined);
  socket.write(
    `POST ${opts.path ?? '/en/report'} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nCookie: ${session.cookie}\r\n` +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${length}\r\n\r\n`,
  );
  socket.write(head);
  let sent = 0;
  const send = (bytes: number) => {
    const n = Math.min(bytes, opts.fileBytes - sent);
    if (n > 0 && !socket.destroyed) socket.write(Buffer.alloc(n, 'a'));
    sent += n;
  };
  send(opts.initialFileBytes);
  return {
    socket,
    response: () => answer,
    send,
    finish: () => {
      send(opts.fileBytes - sent);
      if (!socket.destroyed) socket.write(tail);
    },
    closed,
  };
}
