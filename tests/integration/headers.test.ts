import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS_POLICY } from '../../server/web/security.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const EXPECTED: Record<string, string> = {
  'content-security-policy':
    "default-src 'none';script-src 'self';style-src 'self';img-src 'self' data:;font-src 'self';form-action 'self';frame-ancestors 'none';base-uri 'none'",
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'x-dns-prefetch-control': 'off',
  'x-permitted-cross-domain-policies': 'none',
  'origin-agent-cluster': '?1',
  'x-xss-protection': '0',
};

describe('security headers', () => {
  for (const path of ['/en/', '/en/report', '/ug/status', '/en/no-such-page', '/static/css/harbour.css']) {
    it(`${path} carries the exact security headers`, async () => {
      const res = await request(t.app).get(path);
      for (const [name, value] of Object.entries(EXPECTED)) {
        expect(res.headers[name], name).toBe(value);
      }
      expect(res.headers['permissions-policy']).toBe(PERMISSIONS_POLICY);
      expect(res.headers['permissions-policy']).toMatch(/camera=\(\), .*geolocation=\(\), .*microphone=\(\)/);
      expect(res.headers['x-powered-by']).toBeUndefined();
    });
  }

  it('dynamic pages are never cached; static assets may be', async () => {
    for (const path of ['/en/', '/en/report', '/en/status', '/en/no-such-page', '/healthz']) {
      const res = await request(t.app).get(path);
      expect(res.headers['cache-control'], path).toBe('no-store');
    }
    const css = await request(t.app).get('/static/css/harbour.css');
    expect(css.status).toBe(200);
    expect(css.headers['cache-control']).toBe('public, max-age=86400');
  });

  it('cookies are HttpOnly and SameSite=Strict (and Secure with the __Host- prefix over HTTPS)', async () => {
    const res = await request(t.app).get('/en/report');
    const cookie = [res.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('harbour_csrf='));
    expect(cookie).toMatch(/; Path=\/; HttpOnly; SameSite=Strict$/);

    const https = await createTestApp({ env: { PUBLIC_URL: 'https://harbour.example.org' } });
    try {
      const secure = await request(https.app).get('/en/report');
      expect(secure.headers['content-security-policy']).toContain('upgrade-insecure-requests');
      const c = [secure.headers['set-cookie'] ?? []].flat().find((x) => x.startsWith('__Host-harbour_csrf='));
      expect(c).toMatch(/; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    } finally {
      await https.close();
    }
  });

  it('pages reference no third-party origin', async () => {
    for (const path of ['/en/', '/en/report', '/en/status', '/en/emergency', '/ug/report']) {
      const res = await request(t.app).get(path);
      const urls = [...res.text.matchAll(/(?:src|href|action)="([^"]+)"/g)].map((m) => m[1]!);
      const external = urls.filter((u) => /^(https?:)?\/\//.test(u));
      // Even the quick exit leaves through Harbour (/{lang}/exit ends the session first).
      expect(external, path).toEqual([]);
      expect(res.text, path).toContain(`href="/${path.split('/')[1]}/exit"`);
    }
  });
});
