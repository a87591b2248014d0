import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An ordinary website for the quick exit to land on, served on 127.0.0.1 by
 * the test itself (never the internet). Chromium has to load it for real:
 * the exit reaches it through a redirect, which page.route cannot answer.
 */
export async function serveDestination(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><title>Weather</title><h1>Weather</h1></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/weather`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
