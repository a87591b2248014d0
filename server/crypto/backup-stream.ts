import { publicKeyOf, wipe } from './keys.js';
import { DecryptionError, sodium } from './sodium.js';

/**
 * A backup file's encryption (backup/format.ts lays out the file): a random
 * file key sealed to the installation's recovery public key
 * (crypto_box_seal), so making a backup needs no secret and reading one
 * needs the offline recovery key; the content under that key with
 * crypto_secretstream_xchacha20poly1305, so messages cannot be changed,
 * reordered, dropped or cut off (the last carries TAG_FINAL). Every message
 * also authenticates the file's plaintext preamble (magic, version, sealed
 * key) as associated data, so none of it can be swapped either.
 */
export const BACKUP_SEALED_KEY_BYTES = 32 + 48; // crypto_box_SEALBYTES over a 32-byte key
export const BACKUP_STREAM_HEADER_BYTES = 24;

export class BackupEncryptor {
  readonly sealedKey: Uint8Array;
  private key: Uint8Array;
  private state: unknown = null;
  private ad: Uint8Array | null = null;

  constructor(recoveryPublicKey: Uint8Array) {
    const s = sodium();
    this.key = s.crypto_secretstream_xchacha20poly1305_keygen();
    this.sealedKey = s.crypto_box_seal(this.key, recoveryPublicKey);
  }

  /** Starts the stream; `associatedData` is the file's plaintext preamble. Returns the stream header to write after it. */
  start(associatedData: Uint8Array): Uint8Array {
    const s = sodium();
    const init = s.crypto_secretstream_xchacha20poly1305_init_push(this.key);
    wipe(this.key);
    this.state = init.state;
    this.ad = associatedData.slice();
    return init.header;
  }

  encrypt(plain: Uint8Array, last: boolean): Uint8Array {
    const s = sodium();
    if (!this.state || !this.ad) throw new Error('backup stream not started');
    const tag = last ? s.crypto_secretstream_xchacha20poly1305_TAG_FINAL : s.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    return s.crypto_secretstream_xchacha20poly1305_push(this.state as never, plain, this.ad, tag);
  }
}

export class BackupDecryptor {
  private readonly state: unknown;
  private readonly ad: Uint8Array;
  private finished = false;

  /** Throws DecryptionError('backup key') when the key is not this file's recovery key. */
  constructor(recoveryPrivateKey: Uint8Array, sealedKey: Uint8Array, streamHeader: Uint8Array, associatedData: Uint8Array) {
    const s = sodium();
    let key: Uint8Array;
    try {
      key = s.crypto_box_seal_open(sealedKey, publicKeyOf(recoveryPrivateKey), recoveryPrivateKey);
    } catch {
      throw new DecryptionError('backup key');
    }
    try {
      this.state = s.crypto_secretstream_xchacha20poly1305_init_pull(streamHeader, key);
    } catch {
      throw new DecryptionError('backup stream header');
    } finally {
      wipe(key);
    }
    this.ad = associatedData.slice();
  }

  decrypt(cipher: Uint8Array): { message: Uint8Array; last: boolean } {
    const s = sodium();
    if (this.finished) throw new DecryptionError('backup message after the final one');
    let result: { message: Uint8Array; tag: number } | false;
    try {
      result = s.crypto_secretstream_xchacha20poly1305_pull(this.state as never, cipher, this.ad);
    } catch {
      result = false;
    }
    if (!result) throw new DecryptionError('backup message');
    if (result.tag === s.crypto_secretstream_xchacha20poly1305_TAG_FINAL) this.finished = true;
    return { message: result.message, last: this.finished };
  }

  get done(): boolean {
    return this.finished;
  }
}
