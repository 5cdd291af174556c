import { readSmallFile } from '../../client/s3-settings.js';
import type { Grant } from './acl-grants.js';
import type { ChecksumAlgorithm, ChecksumType } from './checksums.js';
import { type Ctx, requireBucket } from './context.js';
import { S3Error } from './errors.js';
import { uploadsDir } from './keys.js';
import type { StoredChecksum } from './meta.js';
import type { SseRecord } from './sse.js';

/**
 * Multipart uploads are staged in the bucket's hidden folder:
 * `.strata-s3/uploads/<id>/upload.json` (key, metadata) and `<id>/<00001>` (part bytes, written
 * THROUGH to the store, no cache) with `<00001>.json` (ETag, size). Complete streams the parts
 * in order into the final object, so memory stays bounded whatever the size.
 */

export interface UploadRecord {
  readonly key: string;
  readonly initiated: number;
  readonly contentType?: string;
  readonly headers: Record<string, string>;
  readonly meta: Record<string, string>;
  readonly tags: Record<string, string>;
  /** CreateMultipartUpload's x-amz-acl / x-amz-grant-* (given to the object on Complete). */
  readonly acl?: readonly Grant[];
  /** The object's owner when it is its writer's (acl.ts newObjectAccess), given to it on Complete. */
  readonly owner?: string;
  /** CreateMultipartUpload's x-amz-checksum-algorithm and x-amz-checksum-type. */
  readonly checksum?: { readonly alg: ChecksumAlgorithm; readonly type: ChecksumType };
  /** Server-side encryption of the upload (sse.ts): every part is sealed with its data key. */
  readonly sse?: SseRecord;
}

export interface PartRecord {
  readonly etag: string;
  readonly size: number;
  readonly lastModified: number;
  /** The part's additional checksum (declared by the client and verified, or computed). */
  readonly checksum?: { readonly alg: ChecksumAlgorithm; readonly value: string };
  /** Encrypted uploads: the part file's size (`size` is the plaintext's) and its segment nonce. */
  readonly storedSize?: number;
  readonly nonce?: string;
}

export const MAX_PARTS = 10000;

export function uploadDir(bucket: string, id: string): string {
  if (!/^[0-9a-f]{32}$/.test(id))
    throw new S3Error(
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    );
  return `${uploadsDir(bucket)}/${id}`;
}

export function partName(n: number): string {
  return String(n).padStart(5, '0');
}

export async function loadUpload(ctx: Ctx, id: string): Promise<UploadRecord> {
  const raw = await readSmallFile(ctx.fs, `${uploadDir(ctx.bucket, id)}/upload.json`);
  if (!raw) {
    await requireBucket(ctx);
    throw new S3Error(
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    );
  }
  const rec = JSON.parse(raw.toString('utf8')) as UploadRecord;
  if (rec.key !== ctx.key)
    throw new S3Error('NoSuchUpload', 'The specified upload does not exist for this key.');
  return rec;
}

export async function listParts(ctx: Ctx, id: string): Promise<Map<number, PartRecord>> {
  const dir = uploadDir(ctx.bucket, id);
  const entries = await ctx.fs.list(dir, { syncIntervalMs: 0 });
  const parts = new Map<number, PartRecord>();
  await Promise.all(
    entries
      .filter((e) => /^\d{5}\.json$/.test(e.name))
      .map(async (e) => {
        const raw = await readSmallFile(ctx.fs, `${dir}/${e.name}`);
        if (raw) parts.set(Number(e.name.slice(0, 5)), JSON.parse(raw.toString('utf8')) as PartRecord);
      }),
  );
  return parts;
}

/** What a completed upload leaves behind, so that repeating the same Complete answers the same. */
export interface CompletedRecord {
  readonly key: string;
  readonly etag: string;
  readonly parts: readonly { n: number; etag: string }[];
  readonly checksum?: StoredChecksum;
}

export const COMPLETED = 'completed.json';

/** Completed-upload records older than this are removed when uploads are listed. */
export const COMPLETED_TTL_MS = 15 * 60 * 1000;
