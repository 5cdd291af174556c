import type { IncomingHttpHeaders } from 'node:http';
import * as acl from './acl.js';
import { getObjectAttributes } from './attributes.js';
import * as controls from './bucket-controls.js';
import * as lifecycle from './bucket-lifecycle.js';
import * as bucketTagging from './bucket-tagging.js';
import * as buckets from './buckets.js';
import type { Ctx } from './context.js';
import { copyObject } from './copy.js';
import * as cors from './cors.js';
import { deleteObject, deleteObjects } from './delete.js';
import { S3Error } from './errors.js';
import { sendXml } from './http.js';
import * as multipart from './multipart.js';
import * as multipartListing from './multipart-listing.js';
import * as objects from './objects.js';
import * as encryption from './sse-bucket.js';
import * as tagging from './tagging.js';
import { toXml } from './xml.js';

/**
 * The S3 dispatcher: a request's operation, named as the S3 API names it (GetObject,
 * ListObjectsV2…), and what serves it. It is resolved from the method, bucket, key, query and
 * headers before authentication, so the request histogram and logs can name it; a request the
 * gateway refuses still fails only when run (after authentication), as before.
 */
export interface S3Operation {
  /** The S3 API name; "Unknown" for requests the gateway refuses (not implemented, bad method). */
  readonly name: string;
  run(ctx: Ctx): Promise<void>;
}

/** Bucket subresources served at the bucket (bucket-controls.ts); on an object they are 501. */
const BUCKET_CONTROLS = ['policy', 'publicAccessBlock', 'ownershipControls', 'encryption'];

/** Bucket subresources served at the bucket (cors.ts); on an object they are 501 as well. */
const BUCKET_CORS = ['cors'];

const SUBRESOURCES_NOT_IMPLEMENTED = [
  'lifecycle',
  'website',
  'replication',
  'notification',
  'logging',
  'object-lock',
  'retention',
  'legal-hold',
  'accelerate',
  'requestPayment',
  'inventory',
  'metrics',
  'analytics',
  'intelligent-tiering',
  'restore',
  'select',
  'torrent',
];

/** Operation names the gateway serves before authentication. */
export const CORS_PREFLIGHT = 'CorsPreflight';
export const POST_OBJECT = 'PostObject';

const METHOD_NOT_ALLOWED = 'The specified method is not allowed against this resource.';

function op(name: string, run: (ctx: Ctx) => Promise<void>): S3Operation {
  return { name, run };
}

function refused(name: string, make: () => S3Error): S3Operation {
  return {
    name,
    run: () => Promise.reject(make()),
  };
}

// One object per operation, made once: resolving a request allocates nothing.
const OPS = {
  ListBuckets: op('ListBuckets', buckets.listBuckets),
  GetBucketLocation: op('GetBucketLocation', buckets.bucketLocation),
  ListMultipartUploads: op('ListMultipartUploads', multipartListing.listUploads),
  GetBucketVersioning: op('GetBucketVersioning', async (ctx) =>
    sendXml(ctx.res, 200, toXml('VersioningConfiguration', {})),
  ),
  GetBucketAcl: op('GetBucketAcl', acl.getAcl),
  GetBucketTagging: op('GetBucketTagging', bucketTagging.getBucketTagging),
  PutBucketTagging: op('PutBucketTagging', bucketTagging.putBucketTagging),
  DeleteBucketTagging: op('DeleteBucketTagging', bucketTagging.deleteBucketTagging),
  ListObjectVersions: op('ListObjectVersions', buckets.listObjectVersions),
  ListObjects: op('ListObjects', (ctx) => buckets.listObjects(ctx, false)),
  ListObjectsV2: op('ListObjectsV2', (ctx) => buckets.listObjects(ctx, true)),
  HeadBucket: op('HeadBucket', buckets.headBucket),
  PutBucketAcl: op('PutBucketAcl', acl.putBucketAcl),
  GetBucketPolicy: op('GetBucketPolicy', controls.getBucketPolicy),
  PutBucketPolicy: op('PutBucketPolicy', controls.putBucketPolicy),
  DeleteBucketPolicy: op('DeleteBucketPolicy', controls.deleteBucketPolicy),
  GetPublicAccessBlock: op('GetPublicAccessBlock', controls.getPublicAccessBlock),
  PutPublicAccessBlock: op('PutPublicAccessBlock', controls.putPublicAccessBlock),
  DeletePublicAccessBlock: op('DeletePublicAccessBlock', controls.deletePublicAccessBlock),
  GetBucketOwnershipControls: op('GetBucketOwnershipControls', controls.getOwnershipControls),
  PutBucketOwnershipControls: op('PutBucketOwnershipControls', controls.putOwnershipControls),
  DeleteBucketOwnershipControls: op('DeleteBucketOwnershipControls', controls.deleteOwnershipControls),
  GetBucketEncryption: op('GetBucketEncryption', encryption.getBucketEncryption),
  PutBucketEncryption: op('PutBucketEncryption', encryption.putBucketEncryption),
  DeleteBucketEncryption: op('DeleteBucketEncryption', encryption.deleteBucketEncryption),
  GetBucketCors: op('GetBucketCors', cors.getBucketCors),
  PutBucketCors: op('PutBucketCors', cors.putBucketCors),
  DeleteBucketCors: op('DeleteBucketCors', cors.deleteBucketCors),
  // Both are served by the gateway before header authentication (gateway.ts): a preflight carries
  // no credentials, a form upload carries them in its fields. Reaching run() is a routing bug.
  CorsPreflight: refused(CORS_PREFLIGHT, () => new S3Error('InternalError', 'preflight not routed')),
  PostObject: refused(POST_OBJECT, () => new S3Error('InternalError', 'POST upload not routed')),
  PutBucketSubresource: refused(
    'Unknown',
    () => new S3Error('NotImplemented', 'This bucket subresource is not implemented by this gateway'),
  ),
  CreateBucket: op('CreateBucket', lifecycle.createBucket),
  DeleteBucket: op('DeleteBucket', lifecycle.deleteBucket),
  DeleteObjects: op('DeleteObjects', deleteObjects),
  GetObjectTagging: op('GetObjectTagging', tagging.getTagging),
  ListParts: op('ListParts', multipartListing.listPartsHandler),
  GetObjectAcl: op('GetObjectAcl', acl.getAcl),
  GetObjectAttributes: op('GetObjectAttributes', getObjectAttributes),
  GetObject: op('GetObject', (ctx) => objects.getObject(ctx, false)),
  HeadObject: op('HeadObject', (ctx) => objects.getObject(ctx, true)),
  PutObjectTagging: op('PutObjectTagging', tagging.putTagging),
  PutObjectAcl: op('PutObjectAcl', acl.putObjectAcl),
  UploadPart: op('UploadPart', multipart.uploadPart),
  UploadPartCopy: op('UploadPartCopy', multipart.uploadPart),
  CopyObject: op('CopyObject', copyObject),
  PutObject: op('PutObject', objects.putObject),
  CreateMultipartUpload: op('CreateMultipartUpload', multipart.createUpload),
  CompleteMultipartUpload: op('CompleteMultipartUpload', multipart.completeUpload),
  DeleteObjectTagging: op('DeleteObjectTagging', tagging.deleteTagging),
  AbortMultipartUpload: op('AbortMultipartUpload', multipart.abortUpload),
  DeleteObject: op('DeleteObject', deleteObject),
  MethodNotAllowed: refused('Unknown', () => new S3Error('MethodNotAllowed', METHOD_NOT_ALLOWED)),
} as const satisfies Record<string, S3Operation>;

/** Every operation name the histogram may carry (docs/metrics.md). */
export const S3_OPERATION_NAMES: readonly string[] = [...new Set(Object.values(OPS).map((o) => o.name))];

export function resolveOperation(
  method: string,
  bucket: string,
  key: string,
  q: ReadonlyMap<string, string>,
  headers: IncomingHttpHeaders,
): S3Operation {
  if (method === 'OPTIONS' && bucket !== '') return OPS.CorsPreflight;
  for (const s of [
    ...SUBRESOURCES_NOT_IMPLEMENTED,
    ...(key === '' ? [] : [...BUCKET_CONTROLS, ...BUCKET_CORS]),
  ]) {
    if (q.has(s))
      return refused(
        'Unknown',
        () => new S3Error('NotImplemented', `The ${s} subresource is not implemented by this gateway`),
      );
  }
  if (bucket === '') return method === 'GET' ? OPS.ListBuckets : OPS.MethodNotAllowed;
  if (key === '') return bucketOperation(method, q, headers);
  const versionId = q.get('versionId');
  const found = objectOperation(method, q, headers);
  if (versionId !== undefined && versionId !== 'null')
    return refused(found.name, () => new S3Error('InvalidArgument', 'Invalid version id specified'));
  return found;
}

/** Get/Put/Delete of a bucket's policy, public access block or ownership controls. */
function controlOperation(method: string, q: ReadonlyMap<string, string>): S3Operation | undefined {
  const verb =
    method === 'GET' ? 'Get' : method === 'PUT' ? 'Put' : method === 'DELETE' ? 'Delete' : undefined;
  if (verb === undefined) return undefined;
  if (q.has('policy')) return OPS[`${verb}BucketPolicy`];
  if (q.has('publicAccessBlock')) return OPS[`${verb}PublicAccessBlock`];
  if (q.has('ownershipControls')) return OPS[`${verb}BucketOwnershipControls`];
  if (q.has('encryption')) return OPS[`${verb}BucketEncryption`];
  if (q.has('cors')) return OPS[`${verb}BucketCors`];
  return undefined;
}

function bucketOperation(
  method: string,
  q: ReadonlyMap<string, string>,
  headers: IncomingHttpHeaders,
): S3Operation {
  const control = controlOperation(method, q);
  if (control !== undefined) return control;
  switch (method) {
    case 'GET':
      if (q.has('location')) return OPS.GetBucketLocation;
      if (q.has('uploads')) return OPS.ListMultipartUploads;
      if (q.has('versioning')) return OPS.GetBucketVersioning;
      if (q.has('acl')) return OPS.GetBucketAcl;
      if (q.has('tagging')) return OPS.GetBucketTagging;
      if (q.has('versions')) return OPS.ListObjectVersions;
      return q.get('list-type') === '2' ? OPS.ListObjectsV2 : OPS.ListObjects;
    case 'HEAD':
      return OPS.HeadBucket;
    case 'PUT':
      if (q.has('acl')) return OPS.PutBucketAcl;
      if (q.has('tagging')) return OPS.PutBucketTagging;
      if (q.has('versioning')) return OPS.PutBucketSubresource;
      return OPS.CreateBucket;
    case 'DELETE':
      if (q.has('tagging')) return OPS.DeleteBucketTagging;
      return OPS.DeleteBucket;
    case 'POST':
      if (q.has('delete')) return OPS.DeleteObjects;
      if ((headers['content-type'] ?? '').toLowerCase().startsWith('multipart/form-data'))
        return OPS.PostObject;
      break;
  }
  return OPS.MethodNotAllowed;
}

function objectOperation(
  method: string,
  q: ReadonlyMap<string, string>,
  headers: IncomingHttpHeaders,
): S3Operation {
  switch (method) {
    case 'GET':
      if (q.has('tagging')) return OPS.GetObjectTagging;
      if (q.has('uploadId')) return OPS.ListParts;
      if (q.has('acl')) return OPS.GetObjectAcl;
      if (q.has('attributes')) return OPS.GetObjectAttributes;
      return OPS.GetObject;
    case 'HEAD':
      return OPS.HeadObject;
    case 'PUT':
      if (q.has('tagging')) return OPS.PutObjectTagging;
      if (q.has('acl')) return OPS.PutObjectAcl;
      if (q.has('uploadId') || q.has('partNumber'))
        return headers['x-amz-copy-source'] !== undefined ? OPS.UploadPartCopy : OPS.UploadPart;
      if (headers['x-amz-copy-source'] !== undefined) return OPS.CopyObject;
      return OPS.PutObject;
    case 'POST':
      if (q.has('uploads')) return OPS.CreateMultipartUpload;
      if (q.has('uploadId')) return OPS.CompleteMultipartUpload;
      break;
    case 'DELETE':
      if (q.has('tagging')) return OPS.DeleteObjectTagging;
      if (q.has('uploadId')) return OPS.AbortMultipartUpload;
      return OPS.DeleteObject;
  }
  return OPS.MethodNotAllowed;
}
