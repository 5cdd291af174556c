import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { StrataError } from '../../core/errors.js';
import { newSealKeyText, parseSealKey } from '../../core/seal.js';

/**
 * The keys of server-side encryption. None of this is a KMS: the SSE-S3 master key and the
 * "KMS" keys are 32-byte keys read from local files (text of src/core/seal.ts: base64url), the
 * gateway holds them in memory and wraps (AES-256-GCM) each object's random data key with one.
 * SSE-C keys come with each request and are never stored: only a salted HMAC to check the next
 * request's key, and the data key wrapped under a key derived from it (HKDF with that salt).
 */

export interface SseKeyring {
  /** The SSE-S3 (AES256) master key new objects get; none: SSE-S3 requests are 501 NotImplemented. */
  readonly s3Key?: { readonly id: string; readonly bytes: Buffer };
  /**
   * Every SSE-S3 master key of the key file by id, the current one and the retired ones listed
   * below it (they still open the objects written under them).
   */
  readonly s3Keys?: ReadonlyMap<string, Buffer>;
  /** "KMS" keys by id, in file order; the first is the default of aws:kms without a key id. */
  readonly kms: ReadonlyMap<string, Buffer>;
}

export const EMPTY_KEYRING: SseKeyring = { kms: new Map() };

/** A key file's text; a file that cannot be read is INVALID_ARGUMENT naming it. */
async function readKeyText(file: string, what: 'SSE' | 'KMS'): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `cannot read the ${what} key file ${file}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Reads the SSE-S3 master key file: one seal.ts key per line, `#` comments and blank lines
 * passed over. The first key is the current one (new objects); the ones below it are retired:
 * they only open what was written under them, so a master key is replaced by putting the new
 * key on the first line and keeping the old one below.
 */
export async function readKeyFile(
  file: string,
): Promise<{ id: string; bytes: Buffer; all: Map<string, Buffer> }> {
  const text = await readKeyText(file, 'SSE');
  const all = new Map<string, Buffer>();
  let current: { id: string; bytes: Buffer } | undefined;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let key: { id: string; bytes: Buffer };
    try {
      key = parseSealKey(line);
    } catch (err) {
      throw new StrataError('INVALID_ARGUMENT', `SSE key file ${file}:${i + 1}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    current ??= key;
    all.set(key.id, key.bytes);
  }
  if (current === undefined) throw new StrataError('INVALID_ARGUMENT', `SSE key file ${file} holds no key`);
  return { ...current, all };
}

/** The SSE-S3 master key file of `strata local`: read, or created (0600) on first start. */
export async function ensureKeyFile(
  file: string,
): Promise<{ id: string; bytes: Buffer; all: Map<string, Buffer> }> {
  try {
    await writeFile(file, `${newSealKeyText()}\n`, { flag: 'wx', mode: 0o600 });
    await chmod(file, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readKeyFile(file);
}

/**
 * Reads a "KMS" key file: one key per line, `KEY_ID KEY` (KEY: seal.ts text), `#` comments and
 * blank lines passed over. A key id is any text without white space (an ARN works).
 */
export async function readKmsKeyFile(file: string): Promise<Map<string, Buffer>> {
  const text = await readKeyText(file, 'KMS');
  const keys = new Map<string, Buffer>();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(\S+)$/.exec(line);
    if (!m) throw new StrataError('INVALID_ARGUMENT', `${file}:${i + 1}: expected "KEY_ID KEY"`);
    try {
      keys.set(m[1]!, parseSealKey(m[2]!).bytes);
    } catch (err) {
      throw new StrataError('INVALID_ARGUMENT', `${file}:${i + 1}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  if (keys.size === 0) throw new StrataError('INVALID_ARGUMENT', `${file} holds no key`);
  return keys;
}

/** A KMS key by the id a request names: exactly, or the `key/ID` tail of an ARN, or an `alias/`. */
export function findKmsKey(ring: SseKeyring, id: string): { id: string; bytes: Buffer } | undefined {
  const exact = ring.kms.get(id);
  if (exact) return { id, bytes: exact };
  const tail = /^arn:aws:kms:[^:]*:[^:]*:(?:key|alias)\/(.+)$/.exec(id)?.[1];
  for (const [k, bytes] of ring.kms) {
    if (tail !== undefined && (k === tail || k === `alias/${tail}`)) return { id: k, bytes };
    if (k.endsWith(`/${id}`)) return { id: k, bytes };
  }
  return undefined;
}

export function defaultKmsKey(ring: SseKeyring): { id: string; bytes: Buffer } | undefined {
  const first = ring.kms.entries().next();
  return first.done ? undefined : { id: first.value[0], bytes: first.value[1] };
}

/** A fresh data key for one object (or one multipart upload). */
export function newDataKey(): Buffer {
  return randomBytes(32);
}

/** AES-256-GCM of a data key under `kek`, bound to `bound` (bucket and key): base64url(iv ‖ ct ‖ tag). */
export function wrapKey(kek: Buffer, dataKey: Buffer, bound: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, iv, { authTagLength: 16 });
  c.setAAD(Buffer.from(bound, 'utf8'));
  return Buffer.concat([iv, c.update(dataKey), c.final(), c.getAuthTag()]).toString('base64url');
}

/** The data key, or undefined when `wrapped` does not open under `kek` for `bound`. */
export function unwrapKey(kek: Buffer, wrapped: string, bound: string): Buffer | undefined {
  const b = Buffer.from(wrapped, 'base64url');
  if (b.length !== 12 + 32 + 16) return undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', kek, b.subarray(0, 12), { authTagLength: 16 });
    d.setAAD(Buffer.from(bound, 'utf8'));
    d.setAuthTag(b.subarray(44));
    const key = d.update(b.subarray(12, 44));
    d.final();
    return key;
  } catch {
    return undefined;
  }
}

/** What is kept of an SSE-C key: a salt and HMAC-SHA256(key, salt), to check the next one. */
export interface CustomerKeyCheck {
  readonly salt: string;
  readonly hmac: string;
}

export function customerKeyCheck(key: Buffer, salt = randomBytes(16)): CustomerKeyCheck {
  return {
    salt: salt.toString('base64url'),
    hmac: createHmac('sha256', key).update(salt).digest('base64url'),
  };
}

export function customerKeyMatches(key: Buffer, check: CustomerKeyCheck): boolean {
  const again = customerKeyCheck(key, Buffer.from(check.salt, 'base64url'));
  return timingSafeEqual(Buffer.from(again.hmac), Buffer.from(check.hmac));
}

/** The key that wraps an SSE-C object's data key: HKDF-SHA256 of the customer key with the salt. */
export function customerKek(key: Buffer, check: CustomerKeyCheck): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.from(check.salt, 'base64url'), 'strata-sse-c', 32));
}

/** MD5 of a key, base64 (what x-amz-server-side-encryption-customer-key-MD5 carries). */
export function keyMd5(key: Buffer): string {
  return createHash('md5').update(key).digest('base64');
}

/**
 * The keyring of a gateway from its key files: `sseKeyFile` (the SSE-S3 master key; with
 * `create`, made on first start as `strata local` does) and `kmsKeyFile` ("KMS" keys).
 */
export async function loadSseKeyring(o: {
  sseKeyFile?: string | undefined;
  kmsKeyFile?: string | undefined;
  create?: boolean;
}): Promise<SseKeyring> {
  const s3 =
    o.sseKeyFile === undefined
      ? undefined
      : o.create
        ? await ensureKeyFile(o.sseKeyFile)
        : await readKeyFile(o.sseKeyFile);
  const kms = o.kmsKeyFile === undefined ? new Map<string, Buffer>() : await readKmsKeyFile(o.kmsKeyFile);
  return { ...(s3 ? { s3Key: { id: s3.id, bytes: s3.bytes }, s3Keys: s3.all } : {}), kms };
}
