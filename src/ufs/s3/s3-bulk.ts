import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  type S3Client,
  type ServiceInputTypes,
  type ServiceOutputTypes,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import type { BuildMiddleware } from '@smithy/types';
import { StrataError } from '../../core/errors.js';
import type { StoreEncryption } from '../under-store.js';
import { translateS3Error } from './s3-errors.js';
import { sseRequestFields } from './s3-sse.js';

/** Server-side copies and batched deletes: the building blocks of rename and recursive delete. */

/** CopyObject handles up to 5 GiB; bigger objects are copied part by part. */
export const COPY_SINGLE_MAX = 5 * 1024 ** 3;
const COPY_PART_SIZE = 512 * 1024 * 1024;
const MIN_PART_SIZE = 5 * 1024 * 1024;
const DELETE_BATCH = 1000;

export interface BulkTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly signal: AbortSignal | undefined;
}

function sendOptions(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal };
}

/** Runs `fn` over items with at most `limit` in flight; the first failure wins. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Encodes a key for x-amz-copy-source, keeping the slashes. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** Copies one object inside the bucket; UploadPartCopy above `singleMax` bytes. */
export async function copyObject(
  t: BulkTarget,
  from: string,
  to: string,
  size: number,
  singleMax = COPY_SINGLE_MAX,
  encryption?: StoreEncryption,
): Promise<void> {
  const { client, bucket, signal } = t;
  // A copy is encrypted only if asked (S3 does not carry the source's encryption over).
  const sse = sseRequestFields(encryption);
  const source = copySource(bucket, from);
  const opts = sendOptions(signal);
  const what = `copy ${bucket}/${from}`;
  if (size <= singleMax) {
    try {
      await client.send(new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: source, ...sse }), opts);
    } catch (err) {
      throw translateS3Error(err, `CopyObject ${bucket}/${from}`, signal);
    }
    return;
  }
  let uploadId: string | undefined;
  try {
    uploadId = (
      await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: to, ...sse }), opts)
    ).UploadId;
    if (!uploadId) throw new StrataError('UFS_UNAVAILABLE', `${what}: the store returned no upload id`);
    const id = uploadId;
    // Parts must be at least 5 MiB; the lower bound only matters for small test thresholds.
    const partSize = Math.max(Math.min(singleMax, COPY_PART_SIZE), MIN_PART_SIZE);
    const parts: CompletedPart[] = [];
    for (let start = 0, n = 1; start < size; start += partSize, n++) parts.push({ PartNumber: n });
    await forEachLimited(parts, 4, async (part) => {
      const start = ((part.PartNumber as number) - 1) * partSize;
      const end = Math.min(size, start + partSize) - 1;
      const res = await client.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: to,
          UploadId: id,
          PartNumber: part.PartNumber,
          CopySource: source,
          CopySourceRange: `bytes=${start}-${end}`,
        }),
        opts,
      );
      part.ETag = res.CopyPartResult?.ETag;
    });
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: to,
        UploadId: id,
        MultipartUpload: { Parts: parts },
      }),
      opts,
    );
  } catch (err) {
    if (uploadId !== undefined) {
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId: uploadId }))
        .catch(() => undefined);
    }
    throw translateS3Error(err, what, signal);
  }
}

/** Deletes keys: one DeleteObject for a single key, DeleteObjects batches of 1,000 otherwise. */
export async function deleteKeys(t: BulkTarget, keys: readonly string[]): Promise<void> {
  const { client, bucket, signal } = t;
  const opts = sendOptions(signal);
  if (keys.length === 1) {
    const key = keys[0] as string;
    try {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), opts);
    } catch (err) {
      throw translateS3Error(err, `DeleteObject ${bucket}/${key}`, signal);
    }
    return;
  }
  for (let i = 0; i < keys.length; i += DELETE_BATCH) {
    const batch = keys.slice(i, i + DELETE_BATCH);
    const what = `DeleteObjects ${bucket}/${batch[0] ?? ''} (+${batch.length - 1})`;
    let errors: Array<{ Key?: string | undefined; Code?: string | undefined }>;
    try {
      const res = await client.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
        opts,
      );
      errors = res.Errors ?? [];
    } catch (err) {
      throw translateS3Error(err, what, signal);
    }
    const failed = errors.filter((e) => e.Code !== 'NoSuchKey');
    const first = failed[0];
    if (first) {
      throw translateS3Error(
        { name: first.Code ?? 'Error' },
        `DeleteObjects ${bucket}/${first.Key ?? ''} (${failed.length} of ${batch.length} failed)`,
        signal,
      );
    }
  }
}

/**
 * DeleteObjects requires an integrity header. With checksums limited to "when required" the SDK
 * sends a CRC32 one; Swift's s3api (like older S3 look-alikes) only accepts Content-MD5, which
 * real S3 accepts too.
 */
export const contentMd5ForDeleteObjects: BuildMiddleware<ServiceInputTypes, ServiceOutputTypes> =
  (next, context) => async (args) => {
    const request = args.request as { headers?: Record<string, string>; body?: unknown } | undefined;
    const body = request?.body;
    if (
      context.commandName === 'DeleteObjectsCommand' &&
      request?.headers &&
      (typeof body === 'string' || body instanceof Uint8Array)
    ) {
      request.headers['content-md5'] = createHash('md5').update(body).digest('base64');
    }
    return next(args);
  };
