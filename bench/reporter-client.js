// The reporter's side of a submission, as a browser sends it: GET the form
// for its CSRF token, POST it as multipart. Shared by bench/run.js (the
// submission flood) and bench/alerts.js (the same flood with alerts on).
import { performance } from 'node:perf_hooks';
import { csrfToken } from './lib.js';

export const REPORT_FIELDS = {
  categories: ['threats', 'family'],
  from_month: '3',
  from_year: '2026',
  ongoing: 'yes',
  region: 'london',
  targeted: 'me',
  community: 'uyghur',
  suspected_state: 'china',
  state_reason: 'He knew my asylum case number.',
  perpetrator: 'proxy',
  channels: ['phone', 'family'],
  links: 'https://example.org/post/1',
  consent: 'talk_first',
  follow_up: 'portal',
};

const SENTENCES = [
  'A man who said he was from the association phoned my mother in Urumqi.',
  'He asked her where I live now and who I meet on weekends.',
  'Two days later someone posted a photo of our flat on a community group.',
  'My cousin was told that my brother would lose his job if I keep speaking at events.',
  'The caller knew details of my asylum interview that only my lawyer should have.',
  'I received messages on WeChat from an account I do not recognise, asking me to come back home.',
  'After the protest outside the embassy a car followed me to the station.',
  'My parents were visited by police and asked to persuade me to stop posting online.',
  'Somebody created a fake profile with my name and photos and contacted my friends.',
  'I am worried about my family and do not know whether I should keep reporting this.',
];

/** A narrative of 1–2 KB built from plausible sentences. */
export function narrative() {
  const target = 1024 + Math.floor(Math.random() * 1024);
  const parts = [];
  let len = 0;
  while (len < target) {
    const s = SENTENCES[Math.floor(Math.random() * SENTENCES.length)];
    parts.push(s);
    len += s.length + 1;
  }
  return parts.join(' ').slice(0, target).trim();
}

/** GET /en/report: the CSRF token from the page, and its cookie into the jar. */
export async function fetchForm(base, jar) {
  const res = await fetch(`${base}/en/report`, { headers: { cookie: jar.header() } });
  const html = await res.text();
  jar.storeFrom(res.headers);
  const token = csrfToken(html);
  if (res.status !== 200 || !token) throw new Error(`GET /en/report: status ${res.status}, no CSRF token`);
  if (!jar.cookies.has('harbour_csrf')) throw new Error('GET /en/report set no harbour_csrf cookie');
  return token;
}

/** POST /en/report as a browser sends it: _csrf first, fields, an empty file input last. */
export async function postReport(base, jar, token, extra = {}) {
  const fd = new FormData();
  fd.append('_csrf', token);
  for (const [k, v] of Object.entries({ ...REPORT_FIELDS, narrative: narrative(), ...extra })) {
    for (const value of Array.isArray(v) ? v : [v]) fd.append(k, value);
  }
  fd.append('evidence', new Blob([], { type: 'application/octet-stream' }), '');
  const start = performance.now();
  const res = await fetch(`${base}/en/report`, {
    method: 'POST',
    body: fd,
    headers: { cookie: jar.header() },
    redirect: 'manual',
  });
  const body = await res.text();
  const ms = performance.now() - start;
  jar.storeFrom(res.headers);
  const ok = res.status === 303 && res.headers.get('location') === '/en/report/receipt' && jar.cookies.has('harbour_r');
  return { ok, status: res.status, ms, body };
}
