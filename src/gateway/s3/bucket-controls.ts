import { updateBucketSettings } from '../../client/s3-settings.js';
import { bucketAccess } from './access.js';
import type { ObjectOwnership, PublicAccessBlock } from './authorize.js';
import { type Ctx, requireBucket } from './context.js';
import { S3Error } from './errors.js';
import { readBody, sendEmpty, sendXml } from './http.js';
import { isPublicStatement, MAX_POLICY_BYTES, parsePolicy } from './policy.js';
import { child, parseXml, toXml } from './xml.js';

/**
 * A bucket's access controls besides ACLs: its policy (policy.ts), public access block and
 * object ownership controls, each kept in the bucket's settings (bucket.json) so every gateway
 * of the cluster applies the same ones. Get/Put/Delete of each.
 */

async function access(ctx: Ctx) {
  await requireBucket(ctx);
  return ctx.bucketAccess ?? (await bucketAccess(ctx, ctx.bucket));
}

export async function getBucketPolicy(ctx: Ctx): Promise<void> {
  const policy = (await access(ctx)).policy;
  if (policy === undefined) throw new S3Error('NoSuchBucketPolicy', 'The bucket policy does not exist');
  ctx.res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(policy.text),
  });
  ctx.res.end(policy.text);
}

export async function putBucketPolicy(ctx: Ctx): Promise<void> {
  const current = await access(ctx);
  const body = await readBody(ctx.req, MAX_POLICY_BYTES + 1);
  const policy = parsePolicy(body.toString('utf8'), ctx.bucket);
  if (current.publicAccessBlock?.BlockPublicPolicy && policy.statements.some(isPublicStatement))
    throw new S3Error('AccessDenied', 'Access Denied (the bucket blocks public policies)');
  await updateBucketSettings(ctx.fs, ctx.bucket, { policy: policy.text });
  sendEmpty(ctx.res, 204);
}

export async function deleteBucketPolicy(ctx: Ctx): Promise<void> {
  await access(ctx);
  await updateBucketSettings(ctx.fs, ctx.bucket, { policy: undefined });
  sendEmpty(ctx.res, 204);
}

const PAB_FIELDS = [
  'BlockPublicAcls',
  'IgnorePublicAcls',
  'BlockPublicPolicy',
  'RestrictPublicBuckets',
] as const;

function malformedXml(): S3Error {
  return new S3Error(
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
  );
}

export async function getPublicAccessBlock(ctx: Ctx): Promise<void> {
  const pab = (await access(ctx)).publicAccessBlock;
  if (pab === undefined)
    throw new S3Error(
      'NoSuchPublicAccessBlockConfiguration',
      'The public access block configuration was not found',
    );
  sendXml(ctx.res, 200, toXml('PublicAccessBlockConfiguration', { ...pab }));
}

export async function putPublicAccessBlock(ctx: Ctx): Promise<void> {
  await access(ctx);
  const doc = parseXml((await readBody(ctx.req, 64 * 1024)).toString('utf8'));
  if (doc.name !== 'PublicAccessBlockConfiguration') throw malformedXml();
  const value = (name: string): boolean => {
    const text = child(doc, name)?.text.trim();
    if (text === undefined) return false;
    if (text !== 'true' && text !== 'false') throw malformedXml();
    return text === 'true';
  };
  const pab = Object.fromEntries(PAB_FIELDS.map((f) => [f, value(f)])) as unknown as PublicAccessBlock;
  await updateBucketSettings(ctx.fs, ctx.bucket, { publicAccessBlock: pab });
  sendEmpty(ctx.res, 200);
}

export async function deletePublicAccessBlock(ctx: Ctx): Promise<void> {
  await access(ctx);
  await updateBucketSettings(ctx.fs, ctx.bucket, { publicAccessBlock: undefined });
  sendEmpty(ctx.res, 204);
}

const OWNERSHIPS: readonly ObjectOwnership[] = [
  'BucketOwnerEnforced',
  'BucketOwnerPreferred',
  'ObjectWriter',
];

export async function getOwnershipControls(ctx: Ctx): Promise<void> {
  const ownership = (await access(ctx)).ownership;
  if (ownership === undefined)
    throw new S3Error('OwnershipControlsNotFoundError', 'The bucket ownership controls were not found');
  sendXml(ctx.res, 200, toXml('OwnershipControls', { Rule: { ObjectOwnership: ownership } }));
}

export async function putOwnershipControls(ctx: Ctx): Promise<void> {
  const current = await access(ctx);
  const doc = parseXml((await readBody(ctx.req, 64 * 1024)).toString('utf8'));
  const rules = doc.name === 'OwnershipControls' ? doc.children.filter((c) => c.name === 'Rule') : [];
  const value = rules.length === 1 ? child(rules[0]!, 'ObjectOwnership')?.text.trim() : undefined;
  if (value === undefined || !OWNERSHIPS.includes(value as ObjectOwnership)) throw malformedXml();
  // As S3: ACLs must say nothing but the owner's before they are switched off.
  if (value === 'BucketOwnerEnforced' && (current.grants?.length ?? 0) > 0)
    throw new S3Error(
      'InvalidBucketAclWithObjectOwnership',
      "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    );
  await updateBucketSettings(ctx.fs, ctx.bucket, { ownership: value });
  sendEmpty(ctx.res, 200);
}

export async function deleteOwnershipControls(ctx: Ctx): Promise<void> {
  await access(ctx);
  await updateBucketSettings(ctx.fs, ctx.bucket, { ownership: undefined });
  sendEmpty(ctx.res, 204);
}
