import { updateBucketSettings } from '../../client/s3-settings.js';
import { bucketAccess, ownerOf } from './access.js';
import { aclXml, type Grant, grantsFromHeaders, grantsFromXml, isPublicGrant } from './acl-grants.js';
import { type BucketAccess, ownsByWriter } from './authorize.js';
import { type Ctx, requireBucket } from './context.js';
import { S3Error } from './errors.js';
import { readBody, sendEmpty, sendXml } from './http.js';
import { contentIdentity, type ObjectMeta, saveMeta } from './meta.js';
import { statObject } from './object-state.js';
import { saveOverflowMeta } from './overflow.js';
import type { Principal } from './users.js';
import { parseXml } from './xml.js';

/**
 * ACLs: Get/PutBucketAcl, Get/PutObjectAcl, and the x-amz-acl / x-amz-grant-* headers of writes.
 * A bucket's grants live in its settings (bucket.json), an object's in its sidecar; the owner's
 * FULL_CONTROL is implied (an object belongs to its bucket's owner unless newObjectAccess made
 * it its writer's). authorize.ts reads them.
 */

/** Checks the ACL headers of a write (PutObject, CopyObject, CreateMultipartUpload, CreateBucket). */
export function checkAclHeaders(ctx: Ctx): void {
  grantsFromHeaders(ctx.req.headers);
}

/** The grants of a request's ACL headers (CreateBucket's; objects: objectAccessFromRequest). */
export function aclFromRequest(ctx: Ctx): { acl?: readonly Grant[] } {
  const parsed = grantsFromHeaders(ctx.req.headers);
  return parsed === undefined || parsed.grants.length === 0 ? {} : { acl: parsed.grants };
}

/**
 * The ACL and owner of an object a request writes. Its grants are the request's x-amz-acl /
 * x-amz-grant-* (`parsed`; none: private). Under ObjectWriter ownership, or BucketOwnerPreferred
 * unless the request says `bucket-owner-full-control`, an object written by another user than the
 * bucket's owner is its writer's: `owner` names the writer, and the canned
 * `bucket-owner-full-control` / `bucket-owner-read` grant the bucket's owner what they say. The
 * root user's (and anonymous) writes belong to the bucket's owner.
 */
export function newObjectAccess(
  access: BucketAccess | undefined,
  writer: Principal | undefined,
  parsed: { readonly canned?: string; readonly grants: readonly Grant[] } | undefined,
): { acl?: readonly Grant[]; owner?: string } {
  const grants = [...(parsed?.grants ?? [])];
  let owner: string | undefined;
  const byWriter =
    access !== undefined &&
    writer !== undefined &&
    !writer.root &&
    writer.name !== access.owner &&
    (access.ownership === 'ObjectWriter' ||
      (access.ownership === 'BucketOwnerPreferred' && parsed?.canned !== 'bucket-owner-full-control'));
  if (byWriter) {
    owner = writer.name;
    if (parsed?.canned === 'bucket-owner-full-control')
      grants.push({ grantee: { user: access.owner }, permission: 'FULL_CONTROL' });
    else if (parsed?.canned === 'bucket-owner-read')
      grants.push({ grantee: { user: access.owner }, permission: 'READ' });
  }
  return { ...(grants.length > 0 ? { acl: grants } : {}), ...(owner !== undefined ? { owner } : {}) };
}

/** newObjectAccess for a request whose headers carry the ACL (PutObject, CopyObject, CreateMultipartUpload). */
export function objectAccessFromRequest(ctx: Ctx): { acl?: readonly Grant[]; owner?: string } {
  return newObjectAccess(ctx.bucketAccess, ctx.principal, grantsFromHeaders(ctx.req.headers));
}

/**
 * What a Put*Acl or an ACL header may not say: a grant to a user that does not exist (400
 * InvalidArgument), any ACL but the owner's own on a bucket with BucketOwnerEnforced (400
 * AccessControlListNotSupported), a public grant under BlockPublicAcls (403 AccessDenied).
 */
export async function checkGrants(
  ctx: Ctx,
  grants: readonly Grant[],
  canned: string | undefined,
): Promise<void> {
  for (const g of grants)
    if ('user' in g.grantee && !ctx.userExists(g.grantee.user))
      throw new S3Error('InvalidArgument', `Invalid id: ${g.grantee.user}`, {
        extra: { ArgumentName: 'CanonicalUser/ID', ArgumentValue: g.grantee.user },
      });
  const access = ctx.bucketAccess ?? (await bucketAccess(ctx, ctx.bucket));
  const ownerOnly =
    grants.length === 0 &&
    (canned === undefined || canned === 'bucket-owner-full-control' || canned === 'private');
  if (access.ownership === 'BucketOwnerEnforced' && !ownerOnly)
    throw new S3Error('AccessControlListNotSupported', 'The bucket does not allow ACLs');
  if (access.publicAccessBlock?.BlockPublicAcls && grants.some(isPublicGrant))
    throw new S3Error('AccessDenied', 'Access Denied (the bucket blocks public ACLs)');
}

/** Writes whose x-amz-acl / x-amz-grant-* headers give the new object (or bucket) its ACL. */
export const WRITES_WITH_ACL: ReadonlySet<string> = new Set([
  'PutObject',
  'CopyObject',
  'CreateMultipartUpload',
  'CreateBucket',
]);

/** The ACL headers of such a write, checked as Put*Acl checks its grants (before the body). */
export async function checkWriteAcl(ctx: Ctx): Promise<void> {
  const parsed = grantsFromHeaders(ctx.req.headers);
  if (parsed === undefined) return;
  if (ctx.key === '') {
    // CreateBucket: the bucket does not exist yet; its grants are checked for users only.
    for (const g of parsed.grants)
      if ('user' in g.grantee && !ctx.userExists(g.grantee.user))
        throw new S3Error('InvalidArgument', `Invalid id: ${g.grantee.user}`);
    return;
  }
  await checkGrants(ctx, parsed.grants, parsed.canned);
}

/** The grants of a Put*Acl request: its headers, or its AccessControlPolicy body (not both). */
async function requestedGrants(ctx: Ctx, owner: string): Promise<{ grants: Grant[]; canned?: string }> {
  const fromHeaders = grantsFromHeaders(ctx.req.headers);
  const body = await readBody(ctx.req, 64 * 1024);
  if (fromHeaders !== undefined) {
    if (body.length > 0)
      throw new S3Error('UnexpectedContent', 'This request does not support content with ACL headers');
    return { grants: fromHeaders.grants, ...(fromHeaders.canned ? { canned: fromHeaders.canned } : {}) };
  }
  if (body.length === 0)
    throw new S3Error(
      'MissingSecurityHeader',
      'Your request was missing a required header: x-amz-acl or an ACL body',
    );
  return { grants: grantsFromXml(parseXml(body.toString('utf8')), owner) };
}

export async function putBucketAcl(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  const owner = await ownerOf(ctx);
  const { grants, canned } = await requestedGrants(ctx, owner);
  await checkGrants(ctx, grants, canned);
  await updateBucketSettings(ctx.fs, ctx.bucket, { grants: grants.length === 0 ? undefined : grants });
  sendEmpty(ctx.res, 200);
}

export async function putObjectAcl(ctx: Ctx): Promise<void> {
  const state = await statObject(ctx, ctx.key);
  const owner =
    state.meta?.owner !== undefined && (await objectOwnersApply(ctx)) ? state.meta.owner : await ownerOf(ctx);
  const requested = await requestedGrants(ctx, owner);
  const { canned } = requested;
  await checkGrants(ctx, requested.grants, canned);
  const grants = [...requested.grants];
  // On an object its writer owns, the bucket-owner-* canned ACLs grant the bucket's owner.
  const bucketOwner = await ownerOf(ctx);
  if (owner !== bucketOwner && canned === 'bucket-owner-full-control')
    grants.push({ grantee: { user: bucketOwner }, permission: 'FULL_CONTROL' });
  else if (owner !== bucketOwner && canned === 'bucket-owner-read')
    grants.push({ grantee: { user: bucketOwner }, permission: 'READ' });
  // An object written behind the gateway's back has no sidecar yet: it gets one for its ACL.
  const base: ObjectMeta = state.meta ?? {
    ...contentIdentity(state.info, state.etag),
    headers: {},
    meta: {},
    tags: {},
  };
  const { acl: _old, ...rest } = base;
  const meta: ObjectMeta = grants.length === 0 ? rest : { ...rest, acl: grants };
  if (state.overflow) await saveOverflowMeta(ctx, ctx.key, meta);
  else await saveMeta(ctx.fs, ctx.bucket, ctx.key, meta, ctx.cache);
  sendEmpty(ctx.res, 200);
}

/** GetBucketAcl / GetObjectAcl: the owner's FULL_CONTROL, then the stored grants. */
export async function getAcl(ctx: Ctx): Promise<void> {
  let grants: readonly Grant[];
  let owner = await ownerOf(ctx);
  if (ctx.key) {
    const meta = (await statObject(ctx, ctx.key)).meta;
    grants = meta?.acl ?? [];
    if (meta?.owner !== undefined && (await objectOwnersApply(ctx))) owner = meta.owner;
  } else {
    await requireBucket(ctx);
    grants = (ctx.bucketAccess ?? (await bucketAccess(ctx, ctx.bucket))).grants ?? [];
  }
  sendXml(ctx.res, 200, aclXml(owner, grants));
}

/** Whether recorded object owners count in this bucket (not under BucketOwnerEnforced). */
async function objectOwnersApply(ctx: Ctx): Promise<boolean> {
  return ownsByWriter((ctx.bucketAccess ?? (await bucketAccess(ctx, ctx.bucket))).ownership);
}
