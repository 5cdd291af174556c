import { loadBucketSettings, updateBucketSettings } from '../../client/s3-settings.js';
import { isStrataError } from '../../core/errors.js';
import { type Ctx, requireBucket } from './context.js';
import { S3Error } from './errors.js';
import { readBody, sendEmpty, sendXml } from './http.js';
import { keyringOf } from './sse.js';
import { findKmsKey } from './sse-keys.js';
import { child, children, parseXml, toXml } from './xml.js';

/**
 * Bucket default encryption (Get/Put/DeleteBucketEncryption): kept in the bucket's settings
 * (bucket.json) so every gateway of a cluster applies it; a write without SSE headers gets it.
 * Read through a per-gateway memo of CACHE_MS, so a PUT costs no settings read: a change made
 * through another gateway applies there within that time.
 */

export interface BucketEncryption {
  readonly algorithm: 'AES256' | 'aws:kms' | 'aws:kms:dsse';
  readonly kmsKeyId?: string;
  readonly bucketKeyEnabled?: boolean;
}

const CACHE_MS = 1000;
type Memo = Map<string, { at: number; value: BucketEncryption | undefined }>;
/** Per file system (a process may hold gateways over several), bucket → default. */
const memos = new WeakMap<object, Memo>();

function memoOf(ctx: Ctx): Memo {
  let memo = memos.get(ctx.fs);
  if (memo === undefined) {
    memo = new Map();
    memos.set(ctx.fs, memo);
  }
  return memo;
}

/** The bucket's default encryption, if any. */
export async function bucketEncryption(ctx: Ctx): Promise<BucketEncryption | undefined> {
  const id = ctx.bucket;
  const memo = memoOf(ctx);
  const hit = memo.get(id);
  const now = Date.now();
  if (hit !== undefined && now - hit.at < CACHE_MS) return hit.value;
  let value: BucketEncryption | undefined;
  try {
    value = (await loadBucketSettings(ctx.fs, ctx.bucket)).encryption;
  } catch (err) {
    // No store where the bucket would be: no bucket, which the write itself reports.
    if (!isStrataError(err, 'NOT_MOUNTED') && !isStrataError(err, 'INVALID_PATH')) throw err;
    return undefined;
  }
  if (memo.size >= 4096) memo.clear();
  memo.set(id, { at: now, value });
  return value;
}

function malformed(): S3Error {
  return new S3Error(
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
  );
}

export async function getBucketEncryption(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  const enc = (await loadBucketSettings(ctx.fs, ctx.bucket)).encryption;
  if (enc === undefined)
    throw new S3Error(
      'ServerSideEncryptionConfigurationNotFoundError',
      'The server side encryption configuration was not found',
      { extra: { BucketName: ctx.bucket } },
    );
  sendXml(
    ctx.res,
    200,
    toXml('ServerSideEncryptionConfiguration', {
      Rule: {
        ApplyServerSideEncryptionByDefault: {
          SSEAlgorithm: enc.algorithm,
          ...(enc.kmsKeyId !== undefined ? { KMSMasterKeyID: enc.kmsKeyId } : {}),
        },
        BucketKeyEnabled: enc.bucketKeyEnabled === true,
      },
    }),
  );
}

export async function putBucketEncryption(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  const doc = parseXml((await readBody(ctx.req, 64 * 1024)).toString('utf8'));
  if (doc.name !== 'ServerSideEncryptionConfiguration') throw malformed();
  const rules = children(doc, 'Rule');
  if (rules.length !== 1) throw malformed();
  const rule = rules[0]!;
  const apply = child(rule, 'ApplyServerSideEncryptionByDefault');
  const algorithm = apply === undefined ? undefined : child(apply, 'SSEAlgorithm')?.text.trim();
  if (algorithm !== 'AES256' && algorithm !== 'aws:kms' && algorithm !== 'aws:kms:dsse')
    throw new S3Error('MalformedXML', 'SSEAlgorithm must be AES256, aws:kms or aws:kms:dsse');
  if (algorithm === 'AES256' && keyringOf(ctx).s3Key === undefined)
    throw new S3Error(
      'NotImplemented',
      'SSE-S3 needs a master key: start the gateway with --sse-key-file (strata local makes one)',
    );
  const keyId = child(apply!, 'KMSMasterKeyID')?.text.trim();
  if (keyId !== undefined && algorithm === 'AES256')
    throw new S3Error('InvalidArgument', 'a KMSMasterKeyID is only valid with SSEAlgorithm aws:kms');
  let kmsKeyId: string | undefined;
  if (algorithm !== 'AES256' && keyId !== undefined) {
    const found = findKmsKey(keyringOf(ctx), keyId);
    if (found === undefined)
      throw new S3Error(
        'KMS.NotFoundException',
        `Invalid keyId ${keyId} (not in this gateway's KMS key file)`,
      );
    kmsKeyId = found.id;
  }
  const bucketKey = child(rule, 'BucketKeyEnabled')?.text.trim();
  if (bucketKey !== undefined && bucketKey !== 'true' && bucketKey !== 'false') throw malformed();
  const encryption: BucketEncryption = {
    algorithm,
    ...(kmsKeyId !== undefined ? { kmsKeyId } : {}),
    ...(bucketKey === 'true' ? { bucketKeyEnabled: true } : {}),
  };
  await updateBucketSettings(ctx.fs, ctx.bucket, { encryption });
  memoOf(ctx).delete(ctx.bucket);
  sendEmpty(ctx.res, 200);
}

export async function deleteBucketEncryption(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  await updateBucketSettings(ctx.fs, ctx.bucket, { encryption: undefined });
  memoOf(ctx).delete(ctx.bucket);
  sendEmpty(ctx.res, 204);
}
