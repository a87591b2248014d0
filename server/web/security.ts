import type { RequestHandler } from 'express';
import helmet from 'helmet';
import { arrivedOverOnion } from './onion.js';

/** Every permission-gated browser feature, denied. */
export const PERMISSIONS_POLICY = [
  'accelerometer',
  'ambient-light-sensor',
  'autoplay',
  'battery',
  'bluetooth',
  'camera',
  'display-capture',
  'document-domain',
  'encrypted-media',
  'fullscreen',
  'geolocation',
  'gyroscope',
  'hid',
  'idle-detection',
  'magnetometer',
  'microphone',
  'midi',
  'payment',
  'picture-in-picture',
  'publickey-credentials-get',
  'screen-wake-lock',
  'serial',
  'sync-xhr',
  'usb',
  'web-share',
  'xr-spatial-tracking',
]
  .map((f) => `${f}=()`)
  .join(', ');

/** Helmet's options: over HTTPS the CSP also upgrades any http: URL; over the onion service there is no HTTPS to upgrade to. */
function helmetOptions(https: boolean, onion: boolean): Parameters<typeof helmet>[0] {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'none'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
        'base-uri': ["'none'"],
        ...(https && !onion ? { 'upgrade-insecure-requests': [] } : {}),
      },
    },
    strictTransportSecurity: onion ? false : { maxAge: 63072000, includeSubDomains: true, preload: false },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
    xFrameOptions: { action: 'deny' },
  };
}

/**
 * Security headers per docs/security.md. The exact values are asserted by
 * tests/integration/headers.test.ts; change both together. A request that
 * came over the onion listener (plain http:// to a .onion address, which
 * Tor encrypts end to end) gets neither upgrade-insecure-requests nor HSTS:
 * Tor Browser would upgrade the page's own stylesheet and form posts to
 * https://….onion, where nothing answers (tests/integration/deploy-tor.test.ts).
 */
export function securityHeaders(opts: { https: boolean }): RequestHandler[] {
  const clearnet = helmet(helmetOptions(opts.https, false));
  const onion = helmet(helmetOptions(opts.https, true));
  return [
    (req, res, next) => (arrivedOverOnion(req) ? onion : clearnet)(req, res, next),
    (_req, res, next) => {
      res.setHeader('Permissions-Policy', PERMISSIONS_POLICY);
      next();
    },
  ];
}

/** Dynamic pages must never be kept by a browser or proxy cache (a shared or seized device). */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  next();
};
