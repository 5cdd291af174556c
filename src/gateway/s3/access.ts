import type { IncomingMessage } from 'node:http';
import { type BucketSettings, loadBucketSettings, type StoredGrant } from '../../client/s3-settings.js';
import type { StrataFileSystem } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import type { Grant, GroupName, Permission } from './acl-grants.js';
import {
  accessDenied,
  actionOf,
  type BucketAccess,
  DEFAULT_OWNER,
  decide,
  OBJECT_ACL_ACTIONS,
  type ObjectOwnership,
  ownsByWriter,
} from './authorize.js';
import { type Ctx, requireBucket } from './context.js';
import { parseCopySource } from './copy.js';
import { toS3Error } from './errors.js';
import { loadMeta } from './meta.js';
import { type BucketPolicy, parsePolicy } from './policy.js';
import type { Principal } from './users.js';

/**
 * Puts a request to the decision function (authorize.ts) with what it needs: the bucket's
 * settings (owner, grants, policy, public access block, ownership), read only when the answer
 * depends on them (never for the root user), and an object's ACL only for the object actions an
 * ACL can grant, when nothing else allowed the request.
 */

export interface AccessDeps {
  readonly fs: StrataFileSystem;
  /** Buckets the gateway's config makes anonymously readable. */
  readonly anonymousBuckets?: ReadonlySet<string>;
}

/** Parsed policies by bucket and text: a policy is parsed once, not on every request. */
const parsed = new Map<string, BucketPolicy>();
const MAX_PARSED = 256;

function policyOf(bucket: string, text: string | undefined): BucketPolicy | undefined {
  if (text === undefined) return undefined;
  const id = `${bucket}\n${text}`;
  let p = parsed.get(id);
  if (p === undefined) {
    try {
      p = parsePolicy(text, bucket);
    } catch {
      // Stored by an older or foreign writer and no longer valid: denies nothing, allows nothing.
      return undefined;
    }
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(id, p);
  }
  return p;
}

const PERMISSIONS = new Set(['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP']);
const GROUPS = new Set(['AllUsers', 'AuthenticatedUsers', 'LogDelivery']);

/** Stored grants as the decision reads them (anything malformed in the file is left out). */
function grantsOf(stored: readonly StoredGrant[] | undefined): Grant[] | undefined {
  if (stored === undefined) return undefined;
  const out: Grant[] = [];
  for (const g of stored) {
    if (!PERMISSIONS.has(g.permission)) continue;
    const permission = g.permission as Permission;
    if ('user' in g.grantee && typeof g.grantee.user === 'string')
      out.push({ grantee: { user: g.grantee.user }, permission });
    else if ('group' in g.grantee && GROUPS.has(g.grantee.group))
      out.push({ grantee: { group: g.grantee.group as GroupName }, permission });
  }
  return out;
}

/** The bucket's access facts (a bucket without settings: root's, private). */
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
    anonymousRead: deps.anonymousBuckets?.has(bucket) === true || settings.anonymousRead === true,
    grants: grantsOf(settings.grants),
    policy: policyOf(bucket, settings.policy),
    publicAccessBlock: settings.publicAccessBlock,
    ownership: settings.ownership as ObjectOwnership | undefined,
  };
}

export interface RequestFacts {
  readonly principal: Principal | undefined;
  readonly operation: string;
  readonly bucket: string;
  readonly key: string;
  /** The listing's prefix parameter, when given. */
  readonly prefix?: string | undefined;
}

/** The client's address, IPv4-mapped IPv6 as IPv4. */
export function sourceIpOf(req: IncomingMessage): string | undefined {
  const a = req.socket.remoteAddress;
  return a?.startsWith('::ffff:') ? a.slice(7) : a;
}

/**
 * Throws AccessDenied unless the decision allows the request (for a copy, reading its source
 * too). A refused request to a bucket that does not exist is 404 NoSuchBucket, as S3 tells
 * anyone. Returns the bucket's access facts when they were read.
 */
export async function authorizeRequest(
  deps: AccessDeps,
  req: IncomingMessage,
  r: RequestFacts,
): Promise<BucketAccess | undefined> {
  const action = actionOf(r.operation, r.bucket);
  const facts = {
    principal: r.principal,
    action,
    bucket: r.bucket,
    key: r.key,
    sourceIp: sourceIpOf(req),
    prefix: r.prefix,
  };
  let access: BucketAccess | undefined;
  if (r.principal?.root !== true && !decide(facts, undefined).allow) {
    access = r.bucket === '' ? undefined : await bucketAccess(deps, r.bucket);
    let d = decide(facts, access);
    // The object's ACL and owner matter only for the object-ACL actions: when nothing else
    // allowed the request, or when the bucket's owner asks in a bucket whose objects may be
    // their writers' (the object may not be the bucket owner's).
    const objectFacts =
      access !== undefined &&
      r.key !== '' &&
      OBJECT_ACL_ACTIONS.has(action) &&
      (d.allow ? d.rule === 'owner' && ownsByWriter(access.ownership) : !d.explicit);
    if (objectFacts) {
      const meta = await loadMeta(deps.fs, r.bucket, r.key).catch(() => undefined);
      if (meta?.acl !== undefined || meta?.owner !== undefined)
        d = decide({ ...facts, objectGrants: meta.acl, objectOwner: meta.owner }, access);
    }
    if (!d.allow) {
      if (r.bucket !== '') await requireBucket({ fs: deps.fs, bucket: r.bucket });
      throw accessDenied();
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
  return (await bucketAccess(ctx, ctx.bucket)).owner;
}

/** An Owner / Grantee element's fields for a user. */
export function ownerFields(name: string): { ID: string; DisplayName: string } {
  return { ID: name, DisplayName: name };
}
