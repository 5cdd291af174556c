import { saveBucketSettings } from '../../client/s3-settings.js';
import { isStrataError } from '../../core/errors.js';
import { ownerOf } from './access.js';
import { aclFromRequest, checkAclHeaders } from './acl.js';
import { isRootBucket, makeBucketDirectory, removeRootBucket } from './bucket-root.js';
import { type Ctx, header, requireBucket } from './context.js';
import { S3Error, toS3Error } from './errors.js';
import { readBody, sendEmpty } from './http.js';
import { bucketPath, RESERVED_DIR, validateBucketName } from './keys.js';
import { listOverflow } from './overflow.js';
import { child, parseXml, type XmlElement } from './xml.js';

/** CreateBucket and DeleteBucket: a bucket's directory (or bucket-root mount) and its owner record. */

async function isMountPoint(ctx: Ctx): Promise<boolean> {
  return (await ctx.fs.mounts()).some((m) => m.path === bucketPath(ctx.bucket));
}

/**
 * The LocationConstraint of a CreateBucketConfiguration. Any region name is accepted: a gateway
 * has one location, and a client configured for another region (boto3 and the aws CLI send
 * theirs on every CreateBucket outside us-east-1) still creates its bucket here. It must look
 * like a region name, though: S3 refuses anything else as InvalidLocationConstraint.
 */
export function locationConstraint(doc: XmlElement): string {
  const loc = (child(doc, 'LocationConstraint')?.text ?? '').trim();
  if (loc !== '' && !/^[a-z0-9][a-z0-9-]{0,62}$/i.test(loc))
    throw new S3Error('InvalidLocationConstraint', `The specified location-constraint "${loc}" is not valid`);
  return loc;
}

/**
 * A CreateBucket of a name that exists: 409 BucketAlreadyOwnedByYou when the caller owns it (as
 * every AWS region but us-east-1 answers; us-east-1's legacy 200 is not reproduced), 409
 * BucketAlreadyExists when someone else does. Both carry the BucketName element as S3's do.
 */
export function bucketTaken(bucket: string, ownedByCaller: boolean): S3Error {
  return ownedByCaller
    ? new S3Error(
        'BucketAlreadyOwnedByYou',
        'Your previous request to create the named bucket succeeded and you already own it.',
        { extra: { BucketName: bucket } },
      )
    : new S3Error(
        'BucketAlreadyExists',
        'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
        { extra: { BucketName: bucket } },
      );
}

export async function createBucket(ctx: Ctx): Promise<void> {
  validateBucketName(ctx.bucket);
  checkAclHeaders(ctx);
  if ((header(ctx, 'x-amz-bucket-object-lock-enabled') ?? '').toLowerCase() === 'true')
    throw new S3Error('NotImplemented', 'Object lock is not implemented by this gateway');
  const body = await readBody(ctx.req, 64 * 1024);
  if (body.length > 0) {
    const doc = parseXml(body.toString('utf8'));
    if (doc.name !== 'CreateBucketConfiguration')
      throw new S3Error(
        'MalformedXML',
        'The XML you provided was not well-formed or did not validate against our published schema',
      );
    locationConstraint(doc);
  }
  const exists = async () => {
    try {
      return (await ctx.fs.status(bucketPath(ctx.bucket), { syncIntervalMs: 0 })).type === 'directory';
    } catch (err) {
      if (isStrataError(err, 'NOT_FOUND') || isStrataError(err, 'NOT_MOUNTED')) return false;
      throw toS3Error(err);
    }
  };
  const caller = ctx.principal?.name;
  if (await exists()) throw bucketTaken(ctx.bucket, (await ownerOf(ctx)) === caller);
  try {
    await makeBucketDirectory(ctx.fs, ctx.bucket, ctx.bucketRoot);
  } catch (err) {
    // Made by someone else meanwhile (a mkdir or a mount that lost the race).
    if ((isStrataError(err, 'ALREADY_EXISTS') || isStrataError(err, 'MOUNT_CONFLICT')) && (await exists()))
      throw bucketTaken(ctx.bucket, (await ownerOf(ctx)) === caller);
    throw toS3Error(err);
  }
  // The root user's buckets need no owner record (a bucket without one is root's).
  const owner = ctx.principal !== undefined && !ctx.principal.root ? { owner: ctx.principal.name } : {};
  const grants = aclFromRequest(ctx).acl;
  if (owner.owner !== undefined || grants !== undefined) {
    try {
      await saveBucketSettings(ctx.fs, ctx.bucket, { ...owner, ...(grants ? { grants } : {}) });
    } catch (err) {
      // A bucket without its owner would be root's: do not leave it behind.
      await ctx.fs.delete(bucketPath(ctx.bucket), { recursive: true }).catch(() => undefined);
      throw toS3Error(err);
    }
  }
  ctx.cache.invalidate('/');
  sendEmpty(ctx.res, 200, { location: `/${ctx.bucket}` });
}

export async function deleteBucket(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  const rootBucket = await isRootBucket(ctx.fs, ctx.bucket);
  if (!rootBucket && (await isMountPoint(ctx))) {
    throw new S3Error(
      'InvalidBucketState',
      `Bucket ${ctx.bucket} is a mount point; unmount it with "strata fs unmount /${ctx.bucket}" instead`,
    );
  }
  const entries = await ctx.fs.list(bucketPath(ctx.bucket), { syncIntervalMs: 0 });
  if (entries.some((e) => e.name !== RESERVED_DIR) || (await listOverflow(ctx)).length > 0) {
    throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty');
  }
  try {
    if (rootBucket) await removeRootBucket(ctx.fs, ctx.bucket);
    else await ctx.fs.delete(bucketPath(ctx.bucket), { recursive: true });
  } catch (err) {
    throw toS3Error(err, { missing: 'NoSuchBucket' });
  }
  ctx.cache.invalidate(bucketPath(ctx.bucket));
  sendEmpty(ctx.res, 204);
}
