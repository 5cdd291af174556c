import type { IncomingMessage } from 'node:http';
import { type BucketSettings, loadBucketSettings } from '../../client/s3-settings.js';
import type { StrataFileSystem } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { accessDenied, actionOf, type BucketAccess, DEFAULT_OWNER, decide } from './authorize.js';
import { type Ctx, requireBucket } from './context.js';
import { parseCopySource } from './copy.js';
import { toS3Error } from './errors.js';
import type { Principal } from './users.js';

/**
 * Puts a request to the decision function (authorize.ts) with what it needs of the bucket, read
 * from the bucket's settings only when the answer depends on them (never for the root user).
 */

export interface AccessDeps {
  readonly fs: StrataFileSystem;
  /** Buckets the gateway's config makes anonymously readable. */
  readonly anonymousBuckets: ReadonlySet<string>;
}

/** The bucket's owner and anonymous read (a bucket without settings: root's, private). */
export async function bucketAccess(deps: AccessDeps, bucket: string): Promise<BucketAccess> {
  let settings: BucketSettings = {};
  try {
    settings = await loadBucketSettings(deps.fs, bucket);
  } catch (err) {
    // No store where the bucket would be: no bucket (requireBucket says so). Anything else (the
    // store is down) is answered as itself, not as a refusal.
    if (!isStrataError(err, 'NOT_MOUNTED') && !isStrataError(err, 'INVALID_PATH')) throw toS3Error(err);
  }
  return {
    owner: settings.owner ?? DEFAULT_OWNER,
    anonymousRead: deps.anonymousBuckets.has(bucket) || settings.anonymousRead === true,
  };
}

/**
 * Throws AccessDenied unless the decision allows the request (for a copy, reading its source
 * too). A refused request to a bucket that does not exist is 404 NoSuchBucket, as S3 tells
 * anyone. Returns the bucket's access facts when they were read.
 */
export async function authorizeRequest(
  deps: AccessDeps,
  req: IncomingMessage,
  r: {
    readonly principal: Principal | undefined;
    readonly operation: string;
    readonly bucket: string;
    readonly key: string;
  },
): Promise<BucketAccess | undefined> {
  const action = actionOf(r.operation, r.bucket);
  let access: BucketAccess | undefined;
  if (r.principal?.root !== true) {
    const quick = decide({ principal: r.principal, action, bucket: r.bucket, key: r.key }, undefined);
    if (!quick.allow) {
      access = r.bucket === '' ? undefined : await bucketAccess(deps, r.bucket);
      if (!decide({ principal: r.principal, action, bucket: r.bucket, key: r.key }, access).allow) {
        if (r.bucket !== '') await requireBucket({ fs: deps.fs, bucket: r.bucket });
        throw accessDenied();
      }
    }
  }
  if (r.operation === 'CopyObject' || r.operation === 'UploadPartCopy') {
    const header = req.headers['x-amz-copy-source'];
    const src = parseCopySource(Array.isArray(header) ? header[0] : header);
    await authorizeRequest(deps, req, { ...r, operation: 'GetObject', bucket: src.bucket, key: src.key });
  }
  return access;
}

/** The owner of the request's bucket (read once per request). */
export async function ownerOf(ctx: Ctx): Promise<string> {
  if (ctx.bucketAccess !== undefined) return ctx.bucketAccess.owner;
  return (await bucketAccess({ fs: ctx.fs, anonymousBuckets: new Set() }, ctx.bucket)).owner;
}

/** An Owner / Grantee element's fields for a user. */
export function ownerFields(name: string): { ID: string; DisplayName: string } {
  return { ID: name, DisplayName: name };
}
