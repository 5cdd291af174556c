import { S3_ROOT_USER } from '../../registry/s3-users.js';
import { S3Error } from './errors.js';
import type { Principal } from './users.js';

/**
 * The one decision of who may do what: every request, once authenticated, is put to decide()
 * with its action (the IAM name of its S3 operation) and what is known of its bucket. Nothing
 * else in the gateway grants or refuses access. Rules, in order:
 *
 * 1. the root user may do everything;
 * 2. ListBuckets and CreateBucket: any signed user (ListBuckets then shows only the buckets the
 *    caller may see; CreateBucket of a taken name is the handler's 409);
 * 3. a bucket's owner may do everything in it (a bucket without a recorded owner is root's);
 * 4. a bucket with anonymous read (`strata fs anonymous`, the config's anonymousReadBuckets):
 *    anyone, signed or not, may read it (READ_ACTIONS);
 * 5. everything else is refused: 403 AccessDenied.
 */

export type Decision = { readonly allow: true; readonly rule: string } | { readonly allow: false };

export interface AccessRequest {
  /** undefined: an anonymous (unsigned) request. */
  readonly principal: Principal | undefined;
  /** The IAM action, e.g. "s3:GetObject" (actionOf). */
  readonly action: string;
  /** "" for requests not addressed to a bucket (ListBuckets). */
  readonly bucket: string;
  readonly key: string;
}

/** What the decision needs to know of the bucket (absent: the bucket does not exist). */
export interface BucketAccess {
  readonly owner: string;
  readonly anonymousRead: boolean;
}

/** Actions anonymous read allows: reading objects and listing, never a change. */
export const READ_ACTIONS: ReadonlySet<string> = new Set([
  's3:GetObject',
  's3:GetObjectAttributes',
  's3:GetObjectTagging',
  's3:GetObjectAcl',
  's3:ListBucket',
  's3:ListBucketVersions',
  's3:ListBucketMultipartUploads',
  's3:ListMultipartUploadParts',
  's3:GetBucketLocation',
  's3:GetBucketAcl',
  's3:GetBucketVersioning',
]);

/** Actions of requests not scoped to a bucket's contents, open to any signed user. */
const ANY_USER_ACTIONS: ReadonlySet<string> = new Set(['s3:ListAllMyBuckets', 's3:CreateBucket']);

/** S3 operation name (operations.ts) → IAM action, as AWS's authorization reference names them. */
const ACTIONS: Readonly<Record<string, string>> = {
  ListBuckets: 's3:ListAllMyBuckets',
  CreateBucket: 's3:CreateBucket',
  DeleteBucket: 's3:DeleteBucket',
  HeadBucket: 's3:ListBucket',
  ListObjects: 's3:ListBucket',
  ListObjectsV2: 's3:ListBucket',
  ListObjectVersions: 's3:ListBucketVersions',
  ListMultipartUploads: 's3:ListBucketMultipartUploads',
  GetBucketLocation: 's3:GetBucketLocation',
  GetBucketVersioning: 's3:GetBucketVersioning',
  GetBucketAcl: 's3:GetBucketAcl',
  PutBucketAcl: 's3:PutBucketAcl',
  GetBucketTagging: 's3:GetBucketTagging',
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  GetObjectAttributes: 's3:GetObjectAttributes',
  GetObjectTagging: 's3:GetObjectTagging',
  PutObjectTagging: 's3:PutObjectTagging',
  DeleteObjectTagging: 's3:DeleteObjectTagging',
  GetObjectAcl: 's3:GetObjectAcl',
  PutObjectAcl: 's3:PutObjectAcl',
  PutObject: 's3:PutObject',
  CopyObject: 's3:PutObject',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  UploadPartCopy: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
  ListParts: 's3:ListMultipartUploadParts',
  DeleteObject: 's3:DeleteObject',
  DeleteObjects: 's3:DeleteObject',
};

/**
 * The action of an operation. Requests the gateway refuses anyway ("Unknown": not implemented,
 * bad method) need the bucket's owner, so a stranger learns nothing from a 501.
 */
export function actionOf(operation: string, bucket: string): string {
  return ACTIONS[operation] ?? (bucket === '' ? 's3:ListAllMyBuckets' : 's3:*');
}

export function decide(req: AccessRequest, bucket: BucketAccess | undefined): Decision {
  const p = req.principal;
  if (p?.root) return { allow: true, rule: 'root' };
  if (p !== undefined && ANY_USER_ACTIONS.has(req.action)) return { allow: true, rule: 'any user' };
  if (req.bucket === '' || bucket === undefined) return { allow: false };
  if (p !== undefined && p.name === bucket.owner) return { allow: true, rule: 'owner' };
  if (bucket.anonymousRead && READ_ACTIONS.has(req.action)) return { allow: true, rule: 'anonymous read' };
  return { allow: false };
}

/** The owner of a bucket whose settings record none: buckets made before users existed. */
export const DEFAULT_OWNER = S3_ROOT_USER;

export function accessDenied(): S3Error {
  return new S3Error('AccessDenied', 'Access Denied');
}
