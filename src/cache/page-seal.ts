import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { StrataError } from '../core/errors.js';
import { parseSealKey } from '../core/seal.js';

/**
 * Sealing disk-tier pages (the encrypted tier, `--disk-encryption-key-file`): AES-256-GCM from
 * node:crypto, a fresh random 96-bit IV per page write, and associated data that binds the box
 * to its page (file id + page index) and to the page header, so a page file copied under another
 * name, or a header edited, does not open. A sealed page file is
 *
 *   header (32 bytes, flag bit 0 set, key id in bytes 22..27) ‖ IV (12) ‖ ciphertext ‖ tag (16)
 *
 * The header's length field holds the plaintext length and its checksum covers the sealed body,
 * so a damaged file is still told apart cheaply (CRC) from a forged one (the tag). The key id
 * (first 6 bytes of SHA-256 of the key) tells "sealed with another key" from "tampered with".
 */

export const SEAL_IV_BYTES = 12;
export const SEAL_TAG_BYTES = 16;
/** Bytes a sealed page takes on disk beyond its plaintext (IV and tag). */
export const SEAL_OVERHEAD_BYTES = SEAL_IV_BYTES + SEAL_TAG_BYTES;
export const PAGE_KEY_ID_BYTES = 6;

/** Why a page on an encrypted tier did not open (the label of strata_page_store_unseal_failures_total). */
export type UnsealFailure = 'wrong_key' | 'tampered' | 'not_sealed';
export const UNSEAL_FAILURES: readonly UnsealFailure[] = ['wrong_key', 'tampered', 'not_sealed'];

export class PageSealer {
  /** Identifies the key in page headers (not secret: a hash prefix). */
  readonly keyId: Buffer;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new StrataError('INVALID_ARGUMENT', 'a disk encryption key is 32 bytes');
    this.keyId = createHash('sha256').update(key).digest().subarray(0, PAGE_KEY_ID_BYTES);
  }

  /** The sealed body (IV ‖ ciphertext ‖ tag) of a page, bound to `header` (its first 22 bytes). */
  seal(fileId: string, index: number, header: Buffer, plaintext: Buffer): Buffer {
    const iv = randomBytes(SEAL_IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: SEAL_TAG_BYTES });
    cipher.setAAD(associated(fileId, index, header));
    const out = Buffer.allocUnsafe(SEAL_OVERHEAD_BYTES + plaintext.length);
    iv.copy(out, 0);
    const n = cipher.update(plaintext).copy(out, SEAL_IV_BYTES);
    cipher.final();
    cipher.getAuthTag().copy(out, SEAL_IV_BYTES + n);
    return out;
  }

  /** The plaintext of a sealed body, or why it did not open. */
  open(fileId: string, index: number, header: Buffer, body: Buffer): Buffer | UnsealFailure {
    if (!header.subarray(22, 22 + PAGE_KEY_ID_BYTES).equals(this.keyId)) return 'wrong_key';
    if (body.length < SEAL_OVERHEAD_BYTES) return 'tampered';
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, body.subarray(0, SEAL_IV_BYTES), {
        authTagLength: SEAL_TAG_BYTES,
      });
      decipher.setAAD(associated(fileId, index, header));
      decipher.setAuthTag(body.subarray(body.length - SEAL_TAG_BYTES));
      const plain = decipher.update(body.subarray(SEAL_IV_BYTES, body.length - SEAL_TAG_BYTES));
      decipher.final();
      return plain;
    } catch {
      return 'tampered';
    }
  }
}

/** file id, page index and the header's fields before its checksums' dependence on the body. */
function associated(fileId: string, index: number, header: Buffer): Buffer {
  // Bytes 0..11 (magic, version, algorithm, flags, length) and 16..27 (index, key id): the
  // payload CRC (12..15) and header CRC (28..31) depend on the sealed body itself.
  return Buffer.concat([
    Buffer.from(`${fileId}\0${index}\0`, 'utf8'),
    header.subarray(0, 12),
    header.subarray(16, 28),
  ]);
}

/**
 * Reads a key file (seal.ts key text: 32 bytes base64url); a bad file is INVALID_ARGUMENT.
 * Synchronous: read once at start, while the page store is being assembled.
 */
export function loadPageSealer(file: string): PageSealer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `cannot read the disk encryption key file ${file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  try {
    return new PageSealer(parseSealKey(text).bytes);
  } catch (err) {
    throw new StrataError('INVALID_ARGUMENT', `disk encryption key file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
