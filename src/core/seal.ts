import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { StrataError } from './errors.js';

/**
 * Sealing small secrets at rest (mount credentials in the registry): AES-256-GCM from
 * node:crypto, a fresh 96-bit IV per seal, and associated data that binds the box to what it
 * belongs to (a mount path), so a box copied onto another record does not open.
 *
 *   v1.<key id>.<iv>.<ciphertext ‖ 16-byte tag>     (each part base64url)
 *
 * The key id (first 8 bytes of SHA-256 of the key) tells "sealed with another key" apart from
 * "tampered with". Keys are 32 random bytes, written as base64url text (a key file or a registry
 * config value).
 */

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SealKey {
  readonly id: string;
  readonly bytes: Buffer;
}

/** A new random key, as the text kept in a key file or the registry. */
export function newSealKeyText(): string {
  return randomBytes(32).toString('base64url');
}

/** Reads a key written by newSealKeyText (surrounding white space ignored). */
export function parseSealKey(text: string): SealKey {
  const bytes = Buffer.from(text.trim(), 'base64url');
  if (bytes.length !== 32)
    throw new StrataError(
      'INVALID_ARGUMENT',
      `a seal key is 32 bytes of base64url, got ${bytes.length} bytes`,
    );
  return { id: createHash('sha256').update(bytes).digest().subarray(0, 8).toString('base64url'), bytes };
}

export function isSealed(text: string): boolean {
  return text.startsWith(`${VERSION}.`);
}

export function seal(key: SealKey, plaintext: string, associated: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(associated, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return [VERSION, key.id, iv.toString('base64url'), body.toString('base64url')].join('.');
}

/** Opens a box; a wrong key, another record's box or a modified one fail (nothing is guessed). */
export function unseal(key: SealKey, sealed: string, associated: string): string {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION)
    throw new StrataError('INTERNAL', 'sealed value has an unknown format');
  const [, keyId, ivText, bodyText] = parts as [string, string, string, string];
  if (keyId !== key.id)
    throw new StrataError('INTERNAL', `sealed with another key (key id ${keyId}, this key is ${key.id})`);
  const iv = Buffer.from(ivText, 'base64url');
  const body = Buffer.from(bodyText, 'base64url');
  if (iv.length !== IV_BYTES || body.length < TAG_BYTES)
    throw new StrataError('INTERNAL', 'sealed value is truncated');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.bytes, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(associated, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(body.subarray(0, body.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch (err) {
    throw new StrataError(
      'INTERNAL',
      'sealed value failed its authentication (modified, or not this record)',
      {
        cause: err,
      },
    );
  }
}
