import { simpleParser } from 'mailparser';
import { beforeAll, describe, expect, it } from 'vitest';
import { AlertEncryptionError, alertText, composeAlert, messageIdFor, type ComposeKind } from '../../server/alerts/compose.js';
import { classifyMailError } from '../../server/alerts/transport.js';
import { readAlertKey } from '../../server/crypto/index.js';
import { initI18n } from '../../server/i18n/index.js';
import { decryptWith, newPgpKey, type TestPgpKey } from '../helpers/pgp.js';

/** The words of every alert (issue 11): fixed per kind, the organisation and the sign-in link, nothing else. */

const KINDS: ComposeKind[] = ['new_report', 'urgent_report', 'case_activity', 'case_overdue', 'batch', 'digest', 'test'];
const ctx = { from: 'Harbour <alerts@example.org>', orgName: 'Hong Kong Watch', publicUrl: new URL('https://report.example.org') };
const ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
let key: TestPgpKey;
let armored: string;

beforeAll(async () => {
  await initI18n();
  key = await newPgpKey();
  const read = await readAlertKey(key.publicKey);
  if ('problem' in read) throw new Error(read.problem);
  armored = read.armored;
});

describe('alert text', () => {
  it('each kind has its own subject; every text names the organisation and links to the sign-in page, and is fully written out', () => {
    const subjects = new Set<string>();
    for (const kind of KINDS) {
      const { subject, text } = alertText(kind, ctx);
      subjects.add(subject);
      expect(subject).toContain('Hong Kong Watch');
      expect(text).toContain('Hong Kong Watch');
      expect(text).toContain('https://report.example.org/staff/sign-in\n');
      expect(`${subject}${text}`).not.toMatch(/\{\{|\}\}|alerts\./);
    }
    expect(subjects.size).toBe(KINDS.length);
  });

  it('depends on the kind, the organisation and the address only: the digest is the same every day', async () => {
    const a = await simpleParser(await composeAlert('digest', ID, { email: 'cw@example.org', pgpKey: null }, ctx, new Date('2026-01-01T08:00:00Z')));
    const b = await simpleParser(
      await composeAlert(
        'digest',
        '7c9e6679-7425-40de-944b-e07fc1f90ae7',
        { email: 'cw@example.org', pgpKey: null },
        ctx,
        new Date('2026-06-30T08:00:00Z'),
      ),
    );
    expect(b.subject).toBe(a.subject);
    expect(b.text).toBe(a.text);
  });
});

describe('the message', () => {
  it('has only the headers it needs, the Message-ID made from the row, and no name of the software', async () => {
    const raw = await composeAlert('urgent_report', ID, { email: 'cw@example.org', pgpKey: null }, ctx);
    const parsed = await simpleParser(raw);
    expect(parsed.messageId).toBe(`<${ID}@example.org>`);
    expect(messageIdFor(ID, 'alerts@harbour.test')).toBe(`<${ID}@harbour.test>`);
    expect([...parsed.headers.keys()].sort()).toEqual([
      'content-transfer-encoding',
      'content-type',
      'date',
      'from',
      'message-id',
      'mime-version',
      'subject',
      'to',
    ]);
    expect(raw.toString('latin1')).not.toMatch(/nodemailer|x-mailer|_NmP/i);
    // The same row composed again (a retry) is the same message.
    expect((await simpleParser(await composeAlert('urgent_report', ID, { email: 'cw@example.org', pgpKey: null }, ctx))).messageId).toBe(
      parsed.messageId,
    );
  });

  it('an organisation name that tries to add a header stays inside the Subject', async () => {
    const evil = { ...ctx, orgName: 'Org\r\nBcc: spy@example.net' };
    const parsed = await simpleParser(await composeAlert('new_report', ID, { email: 'cw@example.org', pgpKey: null }, evil));
    expect(parsed.headers.has('bcc')).toBe(false);
    expect(parsed.bcc).toBeUndefined();
  });

  it('with a key: PGP/MIME (RFC 3156) around the whole message entity, opened only by the private key', async () => {
    const raw = await composeAlert('case_activity', ID, { email: 'cw@example.org', pgpKey: armored }, ctx);
    const text = raw.toString('utf8');
    expect(text).toMatch(/^Content-Type: multipart\/encrypted; protocol="application\/pgp-encrypted";\s+boundary=/m);
    expect(text).toMatch(
      /Content-Type: application\/pgp-encrypted\r?\nContent-Description: PGP\/MIME version identification\r?\nContent-Transfer-Encoding: 7bit\r?\n\r?\nVersion: 1/,
    );
    expect(text).toMatch(/Content-Type: application\/octet-stream; name=encrypted\.asc/);
    expect(text).not.toContain('A reporter has written');
    const pgpMessage = /-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/.exec(text)![0];
    const inner = await simpleParser(await decryptWith(key.privateKey, pgpMessage));
    expect(inner.text).toBe(alertText('case_activity', ctx).text);
    expect(inner.headers.get('content-type')).toMatchObject({ value: 'text/plain', params: { charset: 'utf-8' } });
    await expect(decryptWith((await newPgpKey()).privateKey, pgpMessage)).rejects.toThrow();
  });

  it('a key that cannot be used fails as encryption, never as a plaintext message', async () => {
    const bad = composeAlert('new_report', ID, { email: 'cw@example.org', pgpKey: 'not a key' }, ctx);
    await expect(bad).rejects.toBeInstanceOf(AlertEncryptionError);
  });
});

describe('failure classes', () => {
  it('sorts nodemailer’s codes, and Node’s beneath them', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ code: 'EDNS', originalCode: 'ENOTFOUND' }, 'dns'],
      [{ code: 'ESOCKET', originalCode: 'EAI_AGAIN' }, 'dns'],
      [{ code: 'ETLS', responseCode: 500 }, 'tls'],
      [{ code: 'ESOCKET', originalCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'tls'],
      [{ code: 'ESOCKET', originalCode: 'ERR_SSL_WRONG_VERSION_NUMBER' }, 'tls'],
      [{ code: 'ESOCKET', originalCode: 'ERR_TLS_CERT_ALTNAME_INVALID' }, 'tls'],
      [{ code: 'EAUTH', responseCode: 535 }, 'auth'],
      [{ code: 'ENOAUTH' }, 'auth'],
      [{ code: 'EENVELOPE', responseCode: 550 }, 'refused'],
      [{ code: 'EMESSAGE', responseCode: 552 }, 'refused'],
      [{ code: 'EPROTOCOL', responseCode: 451 }, 'refused'],
      [{ code: 'ETIMEDOUT' }, 'timeout'],
      [{ code: 'EABORT' }, 'timeout'],
      [{ code: 'ESOCKET', originalCode: 'ECONNREFUSED' }, 'connection'],
      [{ code: 'ECONNECTION' }, 'connection'],
      [{}, 'other'],
    ];
    for (const [err, cls] of cases) expect(classifyMailError(Object.assign(new Error('x'), err)), JSON.stringify(err)).toBe(cls);
    expect(classifyMailError(null)).toBe('other');
  });
});
