import https from 'node:https';

/**
 * A browser-like client over HTTPS for tests through a real proxy: it trusts
 * only the CA it is given, sends SNI and Host for `name` while connecting to
 * 127.0.0.1 (nothing is looked up or sent past loopback), can connect from a
 * chosen loopback address (127.0.0.2, 127.0.0.3 …: different clients to the
 * proxy), keeps cookies like a browser and returns every header line as sent.
 */
export type Answer = { status: number; raw: [string, string][]; body: string; header(name: string): string[] };

export class HttpsClient {
  readonly cookies = new Map<string, string>();
  constructor(private readonly opts: { ca: string; name: string; port: number; localAddress?: string }) {}

  request(method: string, path: string, opts: { body?: Buffer; type?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
    const headers: Record<string, string> = { host: `${this.opts.name}:${this.opts.port}`, ...opts.headers };
    if (this.cookies.size) headers['cookie'] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (opts.body) {
      headers['content-type'] = opts.type ?? 'application/octet-stream';
      headers['content-length'] = String(opts.body.length);
    }
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: this.opts.port,
          servername: this.opts.name,
          ca: this.opts.ca,
          method,
          path,
          headers,
          agent: false,
          ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const raw: [string, string][] = [];
            for (let i = 0; i < res.rawHeaders.length; i += 2) raw.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
            for (const [k, v] of raw) {
              if (k.toLowerCase() !== 'set-cookie') continue;
              const [pair] = v.split(';');
              const eq = pair!.indexOf('=');
              const name = pair!.slice(0, eq).trim();
              const value = pair!.slice(eq + 1).trim();
              if (/;\s*max-age=0\b/i.test(v) || /expires=Thu, 01 Jan 1970/i.test(v)) this.cookies.delete(name);
              else this.cookies.set(name, value);
            }
            resolve({
              status: res.statusCode ?? 0,
              raw,
              body: Buffer.concat(chunks).toString('utf8'),
              header: (name) => raw.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (opts.body) req.write(opts.body);
      req.end();
    });
  }
}

export const urlencoded = (fields: Record<string, string>) => Buffer.from(new URLSearchParams(fields).toString());

export function multipart(fields: [string, string][]): { body: Buffer; type: string } {
  const boundary = `----harbour${Math.random().toString(16).slice(2)}`;
  const parts = fields.map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  return { body: Buffer.from(parts.join('') + `--${boundary}--\r\n`), type: `multipart/form-data; boundary=${boundary}` };
}
