import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { ONION_CIRCUIT, clientKey } from '../../../server/web/client.js';

/** A request as clientKey sees it: the address Express worked out, and the socket the onion listener may have marked. */
function fakeRequest(ip: string | undefined, circuit?: unknown): Request {
  const socket: Record<symbol, unknown> = {};
  if (circuit !== undefined) socket[ONION_CIRCUIT] = circuit;
  return { ip, socket } as unknown as Request;
}

describe('clientKey: one visitor, one key', () => {
  it('is the onion circuit when the onion listener marked the socket, whatever the address', () => {
    expect(clientKey(fakeRequest('127.0.0.1', '42'))).toBe('onion:42');
    expect(clientKey(fakeRequest('127.0.0.1', '18446744073709551615'))).toBe('onion:18446744073709551615');
  });

  it('separates two onion visitors who share the Tor daemon’s address', () => {
    expect(clientKey(fakeRequest('127.0.0.1', '7'))).not.toBe(clientKey(fakeRequest('127.0.0.1', '8')));
  });

  it('is the address otherwise (req.ip, which honours TRUST_PROXY)', () => {
    expect(clientKey(fakeRequest('203.0.113.7'))).toBe('ip:203.0.113.7');
    expect(clientKey(fakeRequest('2001:db8::1'))).toBe('ip:2001:db8::1');
    expect(clientKey(fakeRequest(undefined))).toBe('ip:unknown');
  });

  it('never mistakes a circuit for an address, or an address for a circuit', () => {
    expect(clientKey(fakeRequest('127.0.0.1', '1'))).not.toBe(clientKey(fakeRequest('1')));
  });

  it.each([
    ['empty', ''],
    ['not digits', '12a'],
    ['a key of another visitor', 'ip:203.0.113.7'],
    ['too long', '1'.repeat(21)],
    ['a number, not a string', 42],
    ['null', null],
  ])('keeps a mark it cannot read in one onion bucket, never the shared local address: %s', (_what, mark) => {
    expect(clientKey(fakeRequest('127.0.0.1', mark))).toBe('onion:unreadable');
  });
});
