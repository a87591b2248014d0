import _sodium from 'libsodium-wrappers';

/** libsodium is loaded once; every other crypto file awaits this first. */
export async function readySodium(): Promise<typeof _sodium> {
  await _sodium.ready;
  return _sodium;
}

/** Synchronous handle, valid after readySodium() resolved (createApp and the CLI await it). */
export function sodium(): typeof _sodium {
  return _sodium;
}

export class DecryptionError extends Error {
  constructor(what: string) {
    super(`could not decrypt ${what}`);
    this.name = 'DecryptionError';
  }
}
