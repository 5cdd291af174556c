import type { HeadObjectCommandOutput, ServerSideEncryption } from '@aws-sdk/client-s3';
import { StrataError } from '../../core/errors.js';
import type { StoreEncryption } from '../under-store.js';

/**
 * Server-side encryption passed on to an S3 store: the request fields of PutObject,
 * CreateMultipartUpload and CopyObject that ask the store to encrypt (SSE-S3, SSE-KMS), and the
 * encryption a HEAD reports (so a server-side copy keeps it). Parts of a multipart upload need
 * nothing: SSE-S3/KMS is set once, on CreateMultipartUpload.
 */

export interface SseRequestFields {
  ServerSideEncryption?: ServerSideEncryption;
  SSEKMSKeyId?: string;
  SSEKMSEncryptionContext?: string;
  BucketKeyEnabled?: boolean;
}

export function sseRequestFields(enc: StoreEncryption | undefined): SseRequestFields {
  if (enc === undefined) return {};
  if (enc.mode === 'AES256') return { ServerSideEncryption: 'AES256' };
  return {
    ServerSideEncryption: enc.mode,
    ...(enc.kmsKeyId !== undefined ? { SSEKMSKeyId: enc.kmsKeyId } : {}),
    ...(enc.context !== undefined ? { SSEKMSEncryptionContext: enc.context } : {}),
    ...(enc.bucketKeyEnabled ? { BucketKeyEnabled: true } : {}),
  };
}

/** The encryption an object's HEAD reports; undefined for a plain object (or one of another kind). */
export function sseOfHead(
  head: Pick<HeadObjectCommandOutput, 'ServerSideEncryption' | 'SSEKMSKeyId' | 'BucketKeyEnabled'>,
): StoreEncryption | undefined {
  const mode = head.ServerSideEncryption;
  if (mode === 'AES256') return { mode };
  if (mode === 'aws:kms' || mode === 'aws:kms:dsse')
    return {
      mode,
      ...(head.SSEKMSKeyId !== undefined ? { kmsKeyId: head.SSEKMSKeyId } : {}),
      ...(head.BucketKeyEnabled ? { bucketKeyEnabled: true } : {}),
    };
  return undefined;
}

/**
 * A store that answers an encrypted write 501 NotImplemented (Swift's s3api, many S3 look-alikes)
 * does not encrypt: UNSUPPORTED (not retryable), never a plaintext write in its place.
 */
export function sseRefusal(err: StrataError, enc: StoreEncryption | undefined): StrataError {
  if (enc === undefined || err.details.s3Code !== 'NotImplemented') return err;
  return new StrataError(
    'UNSUPPORTED',
    `${err.message}: the store does not do server-side encryption (${enc.mode})`,
    { cause: err, details: err.details },
  );
}
