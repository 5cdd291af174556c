import { S3_ROOT_USER } from '../../registry/s3-users.js';
import { type Grant, isPublicGrant, type Permission, permissionsOf } from './acl-grants.js';
import { S3Error } from './errors.js';
import { type BucketPolicy, evaluatePolicy, isPublicStatement } from './policy.js';
import type { Principal } from './users.js';

/**
 * The one decision of who may do what: every request, once authenticated, is put to decide()
 * with its action (the IAM name of its S3 operation) and what is known of its bucket (owner,
 * ACL grants, policy, public access block, object ownership) and, for object reads, of the
 * object's ACL. Nothing else in the gateway grants or refuses access. In order:
 *
 * 1. the root user may do everything;
 * 2. a bucket policy statement that matches with Effect Deny refuses, whoever asks (the owner
 *    keeps Get/Put/DeleteBucketPolicy, so a policy cannot lock its bucket for good) — an
 *    explicit Deny wins over every allow below;
 * 3. ListBuckets and CreateBucket: any signed user (ListBuckets then shows only the buckets the
 *    caller may see; CreateBucket of a taken name is the handler's 409);
 * 4. the bucket's owner may do everything in it (a bucket without a recorded owner is root's),
 *    except the object-ACL actions (read, read/write the ACL) on an object its writer owns — under
 *    ObjectWriter or BucketOwnerPreferred ownership an object written by another user is that
 *    user's, who may do those actions on it, and the bucket's owner needs a grant of the object's
 *    ACL (as in S3; the bucket's owner may still delete it). A bucket policy's Allow does not
 *    reach such an object either (S3's bucket policies apply to the bucket owner's objects);
 * 5. a policy statement that matches with Effect Allow — except for Get/Put/DeleteBucketPolicy,
 *    which stay the owner's whatever a policy grants (AWS refuses them to other accounts);
 * 6. ACL grants, bucket (READ: list; WRITE: put/delete objects; READ_ACP/WRITE_ACP: its ACL) and
 *    object (READ: get; READ_ACP/WRITE_ACP: its ACL), unless ownership controls say
 *    BucketOwnerEnforced (ACLs disabled);
 * 7. anonymous read (`strata fs anonymous`, the config's anonymousReadBuckets): anyone may read
 *    (READ_ACTIONS) — the shortcut of a public-read ACL on the bucket and all its objects;
 * 8. everything else: 403 AccessDenied.
 * Public access block: IgnorePublicAcls drops grants to AllUsers/AuthenticatedUsers and anonymous
 * read from 6–7; RestrictPublicBuckets drops public policy statements (Principal "*") from 2 and 5.
 */

export type Decision =
  | { readonly allow: true; readonly rule: string }
  | { readonly allow: false; readonly explicit: boolean };

export interface AccessRequest {
  /** undefined: an anonymous (unsigned) request. */
  readonly principal: Principal | undefined;
  /** The IAM action, e.g. "s3:GetObject" (actionOf). */
  readonly action: string;
  /** "" for requests not addressed to a bucket (ListBuckets). */
  readonly bucket: string;
  readonly key: string;
  /** The client's address (policy condition aws:SourceIp). */
  readonly sourceIp?: string | undefined;
  /** A listing's prefix parameter, when given (policy condition s3:prefix). */
  readonly prefix?: string | undefined;
  /** The object's ACL grants, when the decision needs them (object actions). */
  readonly objectGrants?: readonly Grant[] | undefined;
  /**
   * The object's owner when it is not its bucket's: its writer, under ObjectWriter or
   * BucketOwnerPreferred ownership (object actions; absent: the bucket's owner).
   */
  readonly objectOwner?: string | undefined;
}

export interface PublicAccessBlock {
  readonly BlockPublicAcls: boolean;
  readonly IgnorePublicAcls: boolean;
  readonly BlockPublicPolicy: boolean;
  readonly RestrictPublicBuckets: boolean;
}

export type ObjectOwnership = 'BucketOwnerEnforced' | 'BucketOwnerPreferred' | 'ObjectWriter';

/** What the decision needs to know of the bucket (absent: the bucket does not exist). */
export interface BucketAccess {
  readonly owner: string;
  readonly anonymousRead: boolean;
  readonly grants?: readonly Grant[] | undefined;
  readonly policy?: BucketPolicy | undefined;
  readonly publicAccessBlock?: PublicAccessBlock | undefined;
  readonly ownership?: ObjectOwnership | undefined;
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
  PutBucketTagging: 's3:PutBucketTagging',
  DeleteBucketTagging: 's3:PutBucketTagging',
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
  GetBucketPolicy: 's3:GetBucketPolicy',
  PutBucketPolicy: 's3:PutBucketPolicy',
  DeleteBucketPolicy: 's3:DeleteBucketPolicy',
  GetPublicAccessBlock: 's3:GetBucketPublicAccessBlock',
  PutPublicAccessBlock: 's3:PutBucketPublicAccessBlock',
  DeletePublicAccessBlock: 's3:PutBucketPublicAccessBlock',
  GetBucketOwnershipControls: 's3:GetBucketOwnershipControls',
  PutBucketOwnershipControls: 's3:PutBucketOwnershipControls',
  DeleteBucketOwnershipControls: 's3:PutBucketOwnershipControls',
  GetBucketCors: 's3:GetBucketCORS',
  PutBucketCors: 's3:PutBucketCORS',
  DeleteBucketCors: 's3:PutBucketCORS',
  PostObject: 's3:PutObject',
  GetBucketEncryption: 's3:GetEncryptionConfiguration',
  PutBucketEncryption: 's3:PutEncryptionConfiguration',
  DeleteBucketEncryption: 's3:PutEncryptionConfiguration',
};

/**
 * The action of an operation. Requests the gateway refuses anyway ("Unknown": not implemented,
 * bad method) need the bucket's owner, so a stranger learns nothing from a 501.
 */
export function actionOf(operation: string, bucket: string): string {
  return ACTIONS[operation] ?? (bucket === '' ? 's3:ListAllMyBuckets' : 's3:*');
}

/** What each ACL permission allows, on a bucket and on an object. */
const BUCKET_PERMISSION_ACTIONS: Readonly<Record<Permission, readonly string[]>> = {
  READ: ['s3:ListBucket', 's3:ListBucketVersions', 's3:ListBucketMultipartUploads'],
  WRITE: ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
  READ_ACP: ['s3:GetBucketAcl'],
  WRITE_ACP: ['s3:PutBucketAcl'],
  FULL_CONTROL: [],
};
const OBJECT_PERMISSION_ACTIONS: Readonly<Record<Permission, readonly string[]>> = {
  READ: ['s3:GetObject', 's3:GetObjectAttributes'],
  WRITE: [],
  READ_ACP: ['s3:GetObjectAcl'],
  WRITE_ACP: ['s3:PutObjectAcl'],
  FULL_CONTROL: [],
};
/** Actions an object ACL can grant (the gateway reads the object's ACL only for these). */
export const OBJECT_ACL_ACTIONS: ReadonlySet<string> = new Set(
  Object.values(OBJECT_PERMISSION_ACTIONS).flat(),
);
/** Actions the s3:prefix condition key applies to (a ?prefix= elsewhere is no listing's). */
const PREFIX_ACTIONS: ReadonlySet<string> = new Set(['s3:ListBucket', 's3:ListBucketVersions']);
const POLICY_ADMIN_ACTIONS = new Set(['s3:GetBucketPolicy', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy']);

function granted(
  grants: readonly Grant[] | undefined,
  table: Readonly<Record<Permission, readonly string[]>>,
  user: string | undefined,
  action: string,
  ignorePublic: boolean,
): boolean {
  if (grants === undefined || grants.length === 0) return false;
  const usable = ignorePublic ? grants.filter((g) => !isPublicGrant(g)) : grants;
  for (const p of permissionsOf(usable, user)) {
    if (
      p === 'FULL_CONTROL' ? Object.values(table).some((a) => a.includes(action)) : table[p].includes(action)
    )
      return true;
  }
  return false;
}

/** The policy's resource name of a request: the bucket, or one of its objects. */
export function resourceOf(bucket: string, key: string): string {
  return key === '' ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`;
}

export function decide(req: AccessRequest, bucket: BucketAccess | undefined): Decision {
  const p = req.principal;
  if (p?.root) return { allow: true, rule: 'root' };
  const pab = bucket?.publicAccessBlock;
  let policyVerdict: 'allow' | 'deny' | undefined;
  if (bucket?.policy !== undefined && req.bucket !== '') {
    policyVerdict = evaluatePolicy(
      bucket.policy,
      {
        user: p?.name,
        action: req.action,
        resource: resourceOf(req.bucket, req.key),
        sourceIp: req.sourceIp,
        prefix: PREFIX_ACTIONS.has(req.action) ? req.prefix : undefined,
      },
      pab?.RestrictPublicBuckets ? isPublicStatement : undefined,
    );
    const ownerAdmin = p !== undefined && p.name === bucket.owner && POLICY_ADMIN_ACTIONS.has(req.action);
    if (policyVerdict === 'deny' && !ownerAdmin) return { allow: false, explicit: true };
  }
  if (p !== undefined && ANY_USER_ACTIONS.has(req.action)) return { allow: true, rule: 'any user' };
  if (req.bucket === '' || bucket === undefined) return { allow: false, explicit: false };
  const foreignObject = writerOwned(req, bucket);
  if (foreignObject && p !== undefined && p.name === req.objectOwner)
    return { allow: true, rule: 'object owner' };
  if (p !== undefined && p.name === bucket.owner && !foreignObject) return { allow: true, rule: 'owner' };
  // As AWS answers an identity of another account: the policy itself is its owner's alone.
  if (POLICY_ADMIN_ACTIONS.has(req.action)) return { allow: false, explicit: false };
  if (policyVerdict === 'allow' && !foreignObject) return { allow: true, rule: 'bucket policy' };
  const ignorePublic = pab?.IgnorePublicAcls === true;
  if (bucket.ownership !== 'BucketOwnerEnforced') {
    if (granted(bucket.grants, BUCKET_PERMISSION_ACTIONS, p?.name, req.action, ignorePublic))
      return { allow: true, rule: 'bucket ACL' };
    if (
      req.key !== '' &&
      granted(req.objectGrants, OBJECT_PERMISSION_ACTIONS, p?.name, req.action, ignorePublic)
    )
      return { allow: true, rule: 'object ACL' };
  }
  if (bucket.anonymousRead && !ignorePublic && READ_ACTIONS.has(req.action))
    return { allow: true, rule: 'anonymous read' };
  return { allow: false, explicit: false };
}

/** Whether the request is an object-ACL action on an object another user than the bucket's owner owns. */
export function writerOwned(req: AccessRequest, bucket: BucketAccess): boolean {
  return (
    req.objectOwner !== undefined &&
    req.objectOwner !== bucket.owner &&
    req.key !== '' &&
    OBJECT_ACL_ACTIONS.has(req.action) &&
    ownsByWriter(bucket.ownership)
  );
}

/** Ownership controls under which a written object may belong to its writer. */
export function ownsByWriter(ownership: ObjectOwnership | undefined): boolean {
  return ownership === 'ObjectWriter' || ownership === 'BucketOwnerPreferred';
}

/** The owner of a bucket whose settings record none: buckets made before users existed. */
export const DEFAULT_OWNER = S3_ROOT_USER;

export function accessDenied(): S3Error {
  return new S3Error('AccessDenied', 'Access Denied');
}
