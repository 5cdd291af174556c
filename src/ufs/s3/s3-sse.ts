import type { HeadObjectCommandOutput, ServerSideEncryption } from '@aws-sdk/client-s3';
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
