import { loadBucketSettings, updateBucketSettings } from '../../client/s3-settings.js';
import { compareUtf8 } from '../../core/utf8-order.js';
import { type Ctx, requireBucket } from './context.js';
import { S3Error } from './errors.js';
import { readBody, sendEmpty, sendXml } from './http.js';
import { parseTagging, validateTags } from './tagging.js';
import { toXml } from './xml.js';

/**
 * Get/Put/DeleteBucketTagging: a bucket's tags, kept in its settings (bucket.json) so every
 * gateway answers the same. The Tagging document and its checks are the object tags' (tagging.ts)
 * with S3's bucket limit of 50 tags; keys starting with "aws:" are AWS's own and refused.
 */

const MAX_BUCKET_TAGS = 50;

export async function getBucketTagging(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  const tags = (await loadBucketSettings(ctx.fs, ctx.bucket)).tags;
  if (tags === undefined || Object.keys(tags).length === 0)
    throw new S3Error('NoSuchTagSet', 'The TagSet does not exist', { extra: { BucketName: ctx.bucket } });
  const set = Object.entries(tags)
    .sort(([a], [b]) => compareUtf8(a, b))
    .map(([Key, Value]) => ({ Key, Value }));
  sendXml(ctx.res, 200, toXml('Tagging', { TagSet: { Tag: set } }));
}

export async function putBucketTagging(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  const tags = parseTagging(await readBody(ctx.req, 64 * 1024));
  validateTags(tags, MAX_BUCKET_TAGS, 'Bucket');
  if (Object.keys(tags).some((k) => k.toLowerCase().startsWith('aws:')))
    throw new S3Error('InvalidTag', 'System tags cannot be added or updated by requester');
  await updateBucketSettings(ctx.fs, ctx.bucket, { tags });
  sendEmpty(ctx.res, 204);
}

export async function deleteBucketTagging(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  await updateBucketSettings(ctx.fs, ctx.bucket, { tags: undefined });
  sendEmpty(ctx.res, 204);
}
