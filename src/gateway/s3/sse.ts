import { createHmac, randomBytes } from 'node:crypto';
import { type Ctx, header } from './context.js';
import { S3Error } from './errors.js';
import { type BucketEncryption, bucketEncryption } from './sse-bucket.js';
import {
  type CustomerKeyCheck,
  customerKek,
  customerKeyCheck,
  customerKeyMatches,
  defaultKmsKey,
  EMPTY_KEYRING,
  findKmsKey,
  keyMd5,
  newDataKey,
  type SseKeyring,
  unwrapKey,
  wrapKey,
} from './sse-keys.js';
import { storeEncrypts } from './sse-store.js';

/**
 * Server-side encryption of objects: what a request asks for (headers, or the bucket's default
 * encryption), the record kept in the object's sidecar (meta.ts `sse`) or the upload's record,
 * the data key for a read, and the response headers. The bytes themselves: sse-format.ts (the
 * chunked AEAD format) and sse-io.ts (reading and writing objects through it).
 */

export type SseMode = 'AES256' | 'aws:kms' | 'aws:kms:dsse' | 'SSE-C';

/** An object's (or upload's) encryption, as kept in its sidecar. Holds no key in the clear. */
export interface SseRecord {
  readonly mode: SseMode;
  /** aws:kms: the id of the key (as configured) that wraps the data key. */
  readonly kmsKeyId?: string;
  /** AES256: the id of the master key that wraps the data key (seal.ts key id). */
  readonly masterId?: string;
  /** SSE-C: the salted HMAC that checks a request's key. */
  readonly customer?: CustomerKeyCheck;
  /** The data key, wrapped (sse-keys.ts wrapKey), bound to the bucket and key. */
  readonly wrapped: string;
  readonly bucketKeyEnabled?: boolean;
  /** x-amz-server-side-encryption-context as sent (aws:kms), echoed on reads. */
  readonly context?: string;
  /** Objects: plaintext size (the stored file is larger: sse-format.ts). */
  readonly size?: number;
  /** Objects: the segments' nonces, 8 bytes each, base64url. */
  readonly nonces?: string;
  /** Objects of more than one segment whose segments are not the parts: their plaintext sizes. */
  readonly segmentSizes?: readonly number[];
  /** Objects made by CompleteMultipartUpload: the segments are the parts (meta partSizes). */
  readonly segmentsAreParts?: boolean;
  /**
   * Encrypted by the store (an `s3://` mount, sse-store.ts), not sealed here: the stored bytes
   * are the plaintext as Strata sees them, `wrapped` is empty, no nonces. SSE-S3/KMS only.
   */
  readonly byStore?: boolean;
}

/** A write's encryption, resolved: the record to keep and the data key to seal with. */
export interface SseWrite {
  readonly record: SseRecord;
  readonly dataKey: Buffer;
  /** SSE-C: the key's MD5 as the client sent it (echoed in the answer). */
  readonly customerMd5?: string;
}

const SSE = 'x-amz-server-side-encryption';
const KMS_KEY = 'x-amz-server-side-encryption-aws-kms-key-id';
const CONTEXT = 'x-amz-server-side-encryption-context';
const BUCKET_KEY = 'x-amz-server-side-encryption-bucket-key-enabled';
export const CUSTOMER = 'x-amz-server-side-encryption-customer';
export const COPY_SOURCE_CUSTOMER = 'x-amz-copy-source-server-side-encryption-customer';

export function keyringOf(ctx: Ctx): SseKeyring {
  return ctx.sse ?? EMPTY_KEYRING;
}

/** The object's data key wrapping is bound to where it lives. */
export function boundTo(bucket: string, key: string): string {
  return `${bucket}\0${key}`;
}

/** A customer key from `prefix`-algorithm/-key/-key-MD5 headers, checked as S3 checks it. */
export function customerKeyFromHeaders(
  ctx: Ctx,
  prefix: string = CUSTOMER,
): { key: Buffer; md5: string } | undefined {
  const alg = header(ctx, `${prefix}-algorithm`);
  const keyText = header(ctx, `${prefix}-key`);
  const md5 = header(ctx, `${prefix}-key-md5`);
  if (alg === undefined) {
    if (keyText !== undefined || md5 !== undefined)
      throw new S3Error(
        'InvalidArgument',
        'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.',
      );
    return undefined;
  }
  if (alg !== 'AES256')
    throw new S3Error(
      'InvalidEncryptionAlgorithmError',
      'The encryption request you specified is not valid. Supported value: AES256.',
    );
  if (keyText === undefined)
    throw new S3Error(
      'InvalidArgument',
      'Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.',
    );
  const key = Buffer.from(keyText, 'base64');
  if (key.length !== 32 || key.toString('base64') !== keyText.trim())
    throw new S3Error('InvalidArgument', 'The secret key was invalid for the specified algorithm.');
  if (md5 === undefined)
    throw new S3Error(
      'InvalidArgument',
      'Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.',
    );
  if (md5 !== keyMd5(key))
    throw new S3Error(
      'InvalidArgument',
      'The calculated MD5 hash of the key did not match the hash that was provided.',
    );
  return { key, md5 };
}

function kmsNotFound(id: string): S3Error {
  return new S3Error('KMS.NotFoundException', `Invalid keyId ${id} (not in this gateway's KMS key file)`);
}

/**
 * The encryption a write asks for: its SSE headers, else the bucket's default encryption (with
 * `useDefault`), else none. Malformed or contradictory headers are 400 as S3 answers them.
 * `dest`: the file-system path written; when its store encrypts on request (sse-store.ts),
 * SSE-S3/KMS are passed on to it (a `byStore` record: no local key is needed or used).
 */
export async function sseForWrite(ctx: Ctx, useDefault = true, dest?: string): Promise<SseWrite | undefined> {
  const sse = header(ctx, SSE);
  const kmsKey = header(ctx, KMS_KEY);
  const customer = customerKeyFromHeaders(ctx);
  if (sse !== undefined && sse !== 'AES256' && sse !== 'aws:kms' && sse !== 'aws:kms:dsse')
    throw new S3Error('InvalidArgument', `Invalid server-side encryption algorithm: ${sse}`, {
      extra: { ArgumentName: SSE, ArgumentValue: sse },
    });
  if (sse !== undefined && customer !== undefined)
    throw new S3Error(
      'InvalidArgument',
      'Server Side Encryption with Customer provided key is incompatible with the encryption method specified',
    );
  if (kmsKey !== undefined && !sse?.startsWith('aws:kms'))
    throw new S3Error(
      'InvalidArgument',
      'Specifying a KMS key id requires x-amz-server-side-encryption to be aws:kms',
    );
  const bound = boundTo(ctx.bucket, ctx.key);
  const dataKey = newDataKey();
  if (customer !== undefined) {
    const check = customerKeyCheck(customer.key);
    return {
      record: {
        mode: 'SSE-C',
        customer: check,
        wrapped: wrapKey(customerKek(customer.key, check), dataKey, bound),
      },
      dataKey,
      customerMd5: customer.md5,
    };
  }
  let mode = sse as SseMode | undefined;
  let keyId = kmsKey;
  let bucketKey = header(ctx, BUCKET_KEY)?.toLowerCase() === 'true';
  if (mode === undefined && useDefault) {
    const d: BucketEncryption | undefined = await bucketEncryption(ctx);
    if (d === undefined) return undefined;
    mode = d.algorithm;
    keyId = d.kmsKeyId;
    bucketKey = d.bucketKeyEnabled === true;
  }
  if (mode === undefined) return undefined;
  if (dest !== undefined && (await storeEncrypts(ctx.fs, dest))) {
    const context = mode === 'AES256' ? undefined : header(ctx, CONTEXT);
    return {
      record: {
        mode,
        wrapped: '',
        byStore: true,
        // The id names a key of the store's KMS, not of this gateway's key file.
        ...(mode !== 'AES256' && keyId !== undefined ? { kmsKeyId: keyId } : {}),
        ...(mode !== 'AES256' && bucketKey ? { bucketKeyEnabled: true } : {}),
        ...(context !== undefined ? { context } : {}),
      },
      dataKey: Buffer.alloc(0),
    };
  }
  const ring = keyringOf(ctx);
  if (mode === 'AES256') {
    if (ring.s3Key === undefined)
      throw new S3Error(
        'NotImplemented',
        'SSE-S3 needs a master key: start the gateway with --sse-key-file (strata local makes one)',
      );
    return {
      record: { mode, masterId: ring.s3Key.id, wrapped: wrapKey(ring.s3Key.bytes, dataKey, bound) },
      dataKey,
    };
  }
  const kms = keyId === undefined ? defaultKmsKey(ring) : findKmsKey(ring, keyId);
  if (kms === undefined) throw kmsNotFound(keyId ?? '(default: no KMS key file configured)');
  const context = header(ctx, CONTEXT);
  return {
    record: {
      mode,
      kmsKeyId: kms.id,
      wrapped: wrapKey(kms.bytes, dataKey, bound),
      ...(bucketKey ? { bucketKeyEnabled: true } : {}),
      ...(context !== undefined ? { context } : {}),
    },
    dataKey,
  };
}

/**
 * The data key of an encrypted object or upload for a request: SSE-C needs the request's key
 * (missing → 400 InvalidRequest, another key → 403 AccessDenied, as S3); the others unwrap with
 * the configured key. `prefix`: the copy-source headers for a copy's source.
 */
export function dataKeyForRead(
  ctx: Ctx,
  rec: SseRecord,
  bucket: string,
  key: string,
  prefix: string = CUSTOMER,
): { dataKey: Buffer; customerMd5?: string } {
  const bound = boundTo(bucket, key);
  if (rec.mode === 'SSE-C') {
    const given = customerKeyFromHeaders(ctx, prefix);
    if (given === undefined)
      throw new S3Error(
        'InvalidRequest',
        'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.',
      );
    if (rec.customer === undefined || !customerKeyMatches(given.key, rec.customer))
      throw new S3Error(
        'AccessDenied',
        'The provided customer key does not match the one the object was encrypted with',
      );
    const dataKey = unwrapKey(customerKek(given.key, rec.customer), rec.wrapped, bound);
    if (dataKey === undefined) throw new S3Error('InternalError', 'The object key record does not open');
    return { dataKey, customerMd5: given.md5 };
  }
  if (customerKeyFromHeaders(ctx, prefix) !== undefined)
    throw new S3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.');
  const ring = keyringOf(ctx);
  const kek =
    rec.mode === 'AES256'
      ? ring.s3Key?.id === rec.masterId
        ? ring.s3Key?.bytes
        : rec.masterId === undefined
          ? undefined
          : ring.s3Keys?.get(rec.masterId)
      : rec.kmsKeyId === undefined
        ? undefined
        : ring.kms.get(rec.kmsKeyId);
  if (kek === undefined)
    throw rec.mode === 'AES256'
      ? new S3Error(
          'InvalidRequest',
          `The object was encrypted under SSE-S3 master key ${rec.masterId}, which is not in this gateway's key file (--sse-key-file; a replaced key stays readable when kept on a line below the new one)`,
        )
      : new S3Error('KMS.NotFoundException', `The object's KMS key ${rec.kmsKeyId ?? ''} is not configured`);
  const dataKey = unwrapKey(kek, rec.wrapped, bound);
  if (dataKey === undefined) throw new S3Error('InternalError', 'The object key record does not open');
  return { dataKey };
}

/** The encryption headers of an answer (PUT, GET/HEAD, Copy, multipart). */
export function sseHeaders(rec: SseRecord | undefined, customerMd5?: string): Record<string, string> {
  if (rec === undefined) return {};
  if (rec.mode === 'SSE-C')
    return {
      [`${CUSTOMER}-algorithm`]: 'AES256',
      ...(customerMd5 !== undefined ? { [`${CUSTOMER}-key-md5`]: customerMd5 } : {}),
    };
  return {
    [SSE]: rec.mode,
    ...(rec.kmsKeyId !== undefined ? { [KMS_KEY]: rec.kmsKeyId } : {}),
    ...(rec.bucketKeyEnabled ? { [BUCKET_KEY]: 'true' } : {}),
    ...(rec.context !== undefined ? { [CONTEXT]: rec.context } : {}),
  };
}

/**
 * The ETag of an encrypted object, as S3: SSE-S3 the MD5 of the plaintext; SSE-KMS and SSE-C
 * not an MD5 of the data (here an HMAC-MD5 of it under the data key: stable, reveals nothing).
 */
export function sseEtag(write: Pick<SseWrite, 'record' | 'dataKey'>, plainMd5Hex: string): string {
  // Encrypted by the store: the gateway has no data key, and an MD5 is what clients check best.
  if (write.record.mode === 'AES256' || write.record.byStore) return plainMd5Hex;
  return createHmac('md5', write.dataKey).update(plainMd5Hex).digest('hex');
}

/** A fresh segment nonce. */
export function newNonce(): Buffer {
  return randomBytes(8);
}
