import request from 'supertest';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptJson, encryptJson, parseSessionToken, toHex, type SessionToken } from '../../server/crypto/index.js';
import { cookieName } from '../../server/web/session-store.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { listen, startUpload, type Listening } from '../helpers/raw-upload.js';
import { VALID_REPORT, csrfFrom, postReport, signInWithReceipt } from '../helpers/reporter.js';

/**
 * The reporter session's two stages on the route line: 'receipt_pending'
 * (just filed, the receipt not yet typed back) opens the receipt page only;
 * 'signed_in' opens the status pages only. Sessions written before the
 * stage existed read as the stage their payload meant.
 */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

type Layer = {
  route?: { path: string; methods: Record<string, boolean>; stack: { name: string; handle: { stage?: string } }[] };
  handle: { stack?: Layer[] };
};
type Line = { method: 'get' | 'post'; path: string; guards: { name: string; stage?: string }[] };

/** Every route line of the reporter router (/{lang}/…), from the app's real router. */
function reporterLines(): Line[] {
  const stack = (t.app as unknown as { router: { stack: Layer[] } }).router.stack;
  const reporter = stack.find((l) => l.handle.stack?.some((x) => x.route?.path === '/status'));
  if (!reporter) throw new Error('reporter router not found');
  return reporter.handle.stack!.flatMap((l) =>
    l.route
      ? Object.keys(l.route.methods).map((m) => ({
          method: m as 'get' | 'post',
          path: l.route!.path,
          guards: l.route!.stack.map((s) => ({ name: s.name, stage: s.handle.stage })),
        }))
      : [],
  );
}

const stageOf = (line: Line) => line.guards.find((g) => g.name === 'requireReporter')?.stage ?? null;

/** The reporter cookie a response set, as a token (to rewrite its row as an older version wrote it). */
function reporterToken(res: Response): SessionToken {
  const name = cookieName(t.config, 'reporter');
  // The last one set (a sign-in first clears any earlier session's cookie).
  const raw = ([] as string[])
    .concat(res.headers['set-cookie'] ?? [])
    .filter((c) => c.startsWith(`${name}=`))
    .at(-1);
  const token = raw && parseSessionToken(decodeURIComponent(raw.slice(name.length + 1).split(';')[0]!));
  if (!token) throw new Error('no reporter session cookie');
  return token;
}

const payloadContext = (token: SessionToken) => ({ table: 'sessions', id: toHex(token.idHash), field: 'payload' });

/** Rewrites a session row's payload without its stage: the shape sessions had before it existed. */
async function dropStage(token: SessionToken): Promise<Record<string, unknown>> {
  const db = t.testDb.db;
  const row = await db.selectFrom('sessions').select('payload').where('id_hash', '=', token.idHash).executeTakeFirstOrThrow();
  const { stage, ...old } = decryptJson<Record<string, unknown>>(token.key, row.payload, payloadContext(token));
  expect(stage).toBeDefined(); // written with a stage now
  await db
    .updateTable('sessions')
    .set({ payload: encryptJson(token.key, old, payloadContext(token)) })
    .where('id_hash', '=', token.idHash)
    .execute();
  return old;
}

/** A browser that has just filed a report: its session waits for the receipt to be typed back. */
async function justFiled() {
  const agent = request.agent(t.app);
  const res = await postReport(agent, await csrfFrom(agent, '/en/report'), VALID_REPORT);
  expect(res.status).toBe(303);
  const page = await agent.get('/en/report/receipt');
  const receipt = /class="receipt"[^>]*>([\d ]+)</.exec(page.text)![1]!.replace(/ /g, '');
  return { agent, token: reporterToken(res), receipt, csrf: await csrfFrom(agent, '/en/report/receipt') };
}

const FAKE_ID = '00000000-0000-4000-8000-000000000000';

describe('reporter session stages on the route line', () => {
  it('every /status/* route but leave asks for a signed-in reporter on its line; the receipt routes for a pending one', () => {
    const lines = reporterLines();
    const status = lines.filter((l) => l.path.startsWith('/status/'));
    expect(status.length).toBeGreaterThanOrEqual(6);
    for (const l of status) {
      const expected = l.path === '/status/leave' ? null : 'signed_in';
      expect(stageOf(l), `${l.method} ${l.path}`).toBe(expected);
      if (expected) expect(l.guards[0]!.name, `${l.method} ${l.path}: the guard comes first`).toBe('requireReporter');
    }
    const receipt = lines.filter((l) => l.path === '/report/receipt');
    expect(receipt.map((l) => l.method).sort()).toEqual(['get', 'post']);
    for (const l of receipt) expect(stageOf(l), `${l.method} ${l.path}`).toBe('receipt_pending');
    // The sign-in page and the sign-in itself need no session.
    for (const l of lines.filter((x) => x.path === '/status')) expect(stageOf(l)).toBeNull();
  });

  it('a pending session (receipt not yet typed back) is refused on every route that needs signing in', async () => {
    const { agent, csrf } = await justFiled();
    const counts = async () => ({
      messages: Number(
        (
          await t.testDb.db
            .selectFrom('messages')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ),
      evidence: Number(
        (
          await t.testDb.db
            .selectFrom('evidence')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ),
      reports: Number(
        (
          await t.testDb.db
            .selectFrom('reports')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ),
    });
    const before = await counts();
    const signedInLines = reporterLines().filter((l) => l.path.startsWith('/status/') && l.path !== '/status/leave');
    for (const l of signedInLines) {
      const path = `/en${l.path.replace(':id', FAKE_ID)}`;
      const res =
        l.method === 'get'
          ? await agent.get(path).redirects(0)
          : l.guards.some((g) => g.name === 'csrfFirstPart')
            ? await agent.post(path).redirects(0).field('_csrf', csrf).attach('evidence', Buffer.from('x'), 'x.txt')
            : await agent.post(path).redirects(0).type('form').send({ _csrf: csrf, message: 'x', confirm: 'yes' });
      expect(res.status, `${l.method} ${l.path}`).toBe(401);
    }
    // Nothing was stored or withdrawn, and the sign-in page still asks for a receipt.
    expect(await counts()).toEqual(before);
    const page = await agent.get('/en/status');
    expect(page.text).toContain('name="receipt"');
    // The receipt page still works for it.
    expect((await agent.get('/en/report/receipt')).status).toBe(200);
  });

  it('a signed-in session cannot see or post the receipt page', async () => {
    const { receipt } = await justFiled();
    const { agent, res } = await signInWithReceipt(t.app, receipt);
    expect(res.status).toBe(303);
    const csrf = await csrfFrom(agent, '/en/status');
    const shown = await agent.get('/en/report/receipt').redirects(0);
    expect(shown.status).toBe(303);
    expect(shown.headers['location']).toBe('/en/status');
    const posted = await agent.post('/en/report/receipt').redirects(0).type('form').send({ _csrf: csrf, receipt });
    expect(posted.status).toBe(303);
    expect(posted.headers['location']).toBe('/en/status'); // not /en/status?confirmed=1: nothing was confirmed
    expect((await agent.get('/en/status')).text).not.toContain('name="receipt"'); // still signed in
  });

  it('an unauthenticated upload is refused before its body is read', async () => {
    const server: Listening = await listen(t.app);
    try {
      const res = await fetch(`${server.base}/en/status`);
      const cookie = res.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await res.text())![1]!;
      const upload = await startUpload(
        server.port,
        { cookie, csrf },
        { path: '/en/status/evidence', fileBytes: 50_000_000, initialFileBytes: 1024, fields: {} },
      );
      // Only a kilobyte of fifty megabytes sent: the answer comes without the rest.
      await expect.poll(() => upload.response(), { timeout: 5000 }).toMatch(/^HTTP\/1\.1 401 /);
      upload.socket.destroy();
    } finally {
      await server.close();
    }
  });
});

describe('sessions written before the stage existed', () => {
  it('one with a receipt in it is still pending: the receipt page shows it, typing it back signs in', async () => {
    const { agent, token, receipt, csrf } = await justFiled();
    const old = await dropStage(token);
    expect(old['receipt']).toBe(receipt);
    expect((await agent.post('/en/status/messages').type('form').send({ _csrf: csrf, message: 'x' })).status).toBe(401);
    const page = await agent.get('/en/report/receipt');
    expect(page.status).toBe(200);
    expect(page.text.replace(/ /g, '')).toContain(receipt);
    const confirmed = await agent.post('/en/report/receipt').redirects(0).type('form').send({ _csrf: csrf, receipt });
    expect(confirmed.headers['location']).toBe('/en/status?confirmed=1');
    const status = await agent.get('/en/status');
    expect(status.text).not.toContain('name="receipt"');
    const token2 = await csrfFrom(agent, '/en/status');
    expect((await agent.post('/en/status/messages').redirects(0).type('form').send({ _csrf: token2, message: 'after the change' })).status).toBe(303);
  });

  it('one without a receipt is signed in: the status pages open, the receipt page does not', async () => {
    const { receipt } = await justFiled();
    const { agent, res } = await signInWithReceipt(t.app, receipt);
    const old = await dropStage(reporterToken(res));
    expect(old['receipt']).toBeUndefined();
    const status = await agent.get('/en/status');
    expect(status.status).toBe(200);
    expect(status.text).not.toContain('name="receipt"');
    const csrf = await csrfFrom(agent, '/en/status');
    expect((await agent.post('/en/status/messages').redirects(0).type('form').send({ _csrf: csrf, message: 'still here' })).status).toBe(303);
    expect((await agent.get('/en/status/withdraw')).status).toBe(200);
    expect((await agent.get('/en/report/receipt').redirects(0)).headers['location']).toBe('/en/status');
  });
});
