// The only module that imports libsodium and argon2 (docs/architecture.md; enforced by the linter).
export { readySodium, DecryptionError } from './sodium.js';
export * from './keys.js';
export * from './fields.js';
export * from './receipts.js';
export * from './stream.js';
export * from './tokens.js';
export * from './recovery.js';
export * from './passwords.js';
export * from './totp.js';
export * from './ip-hash.js';
export * from './encoding.js';
export * from './openpgp.js';
export * from './backup-stream.js';
