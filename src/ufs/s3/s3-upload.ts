import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { StrataError, toStrataError } from '../../core/errors.js';
import type { StoreEncryption } from '../under-store.js';
import { translateS3Error } from './s3-errors.js';
import { sseRefusal, sseRequestFields } from './s3-sse.js';

/**
 * Streams a Readable into one S3 object with bounded memory. Up to one part is buffered: if the
 * whole stream fits, it is a single PutObject; otherwise a multipart upload where part N uploads
 * while part N+1 fills (at most two parts in memory) and the source is not read further until the
 * previous part is done (backpressure). Any failure aborts the multipart upload.
 */

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const MAX_PARTS = 10_000;
const MiB = 1024 * 1024;

export interface UploadTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly signal?: AbortSignal | undefined;
  /** Bytes the caller announced; checked against what the stream delivered. */
  readonly expectedSize?: number | undefined;
  readonly partSize?: number | undefined;
  /** Server-side encryption the store applies (on PutObject, or once on CreateMultipartUpload). */
  readonly encryption?: StoreEncryption | undefined;
}

/** Part size that keeps a known-size object within S3's 10,000-part limit. */
export function partSizeFor(expectedSize: number | undefined, base = DEFAULT_PART_SIZE): number {
  if (expectedSize === undefined || expectedSize <= base * MAX_PARTS) return base;
  return Math.ceil(expectedSize / MAX_PARTS / MiB) * MiB;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new StrataError('INVALID_ARGUMENT', 'write source must yield bytes');
}

export async function uploadStream(target: UploadTarget, source: Readable): Promise<void> {
  const { client, bucket, key, signal } = target;
  const partSize = partSizeFor(target.expectedSize, target.partSize);
  const what = `upload ${bucket}/${key}`;
  const send: { abortSignal?: AbortSignal } = signal === undefined ? {} : { abortSignal: signal };
  const sse = sseRequestFields(target.encryption);

  let chunks: Buffer[] = [];
  let buffered = 0;
  let total = 0;
  let uploadId: string | undefined;
  const parts: CompletedPart[] = [];
  let inflight: Promise<void> | undefined;

  const startPart = async (body: Buffer): Promise<void> => {
    if (uploadId === undefined) {
      try {
        const created = await client.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...sse }),
          send,
        );
        uploadId = created.UploadId;
      } catch (err) {
        throw translateS3Error(err, `CreateMultipartUpload ${bucket}/${key}`, signal);
      }
      if (!uploadId) throw new StrataError('UFS_UNAVAILABLE', `${what}: the store returned no upload id`);
    }
    if (parts.length >= MAX_PARTS)
      throw new StrataError('INVALID_ARGUMENT', `${what}: more than ${MAX_PARTS} parts; pass the size`);
    await inflight; // at most one part uploading while the next one fills
    const partNumber = parts.length + 1;
    const part: CompletedPart = { PartNumber: partNumber };
    parts.push(part);
    const id = uploadId;
    inflight = client
      .send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: id,
          PartNumber: partNumber,
          Body: body,
          ContentLength: body.length,
        }),
        send,
      )
      .then(
        (res) => {
          part.ETag = res.ETag;
        },
        (err: unknown) => {
          throw translateS3Error(err, `UploadPart ${partNumber} ${bucket}/${key}`, signal);
        },
      );
    // Keep an early rejection from becoming unhandled before the next await picks it up.
    inflight.catch(() => undefined);
  };

  /** Joins the buffered chunks once (the only copy) and cuts full parts off the front. */
  const flushFullParts = async (): Promise<void> => {
    let joined = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, buffered);
    while (joined.length > partSize) {
      await startPart(joined.subarray(0, partSize));
      joined = joined.subarray(partSize);
    }
    chunks = joined.length > 0 ? [joined] : [];
    buffered = joined.length;
  };

  try {
    const it = source[Symbol.asyncIterator]() as AsyncIterator<unknown>;
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await it.next();
      } catch (err) {
        // The source failed, not the store: keep its own error class.
        throw toStrataError(err);
      }
      if (next.done) break;
      const chunk = toBuffer(next.value);
      if (chunk.length === 0) continue;
      chunks.push(chunk);
      buffered += chunk.length;
      total += chunk.length;
      // Strictly more than one part: only then is it certain a multipart upload is needed.
      if (buffered > partSize) await flushFullParts();
    }
    if (target.expectedSize !== undefined && total !== target.expectedSize) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `${what}: announced ${target.expectedSize} bytes, stream delivered ${total}`,
      );
    }
    const last = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, buffered);
    chunks = [];
    if (uploadId === undefined) {
      try {
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: last, ContentLength: last.length, ...sse }),
          send,
        );
      } catch (err) {
        throw translateS3Error(err, `PutObject ${bucket}/${key}`, signal);
      }
      return;
    }
    if (last.length > 0) await startPart(last);
    await inflight;
    try {
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
        send,
      );
    } catch (err) {
      throw translateS3Error(err, `CompleteMultipartUpload ${bucket}/${key}`, signal);
    }
  } catch (err) {
    if (uploadId !== undefined) {
      await inflight?.catch(() => undefined);
      // No abort signal here: the signal may be the very reason we are cleaning up.
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
        .catch(() => undefined);
    }
    if (!source.destroyed) source.destroy();
    throw sseRefusal(translateS3Error(err, what, signal), target.encryption);
  }
}
