import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadBucketSettings } from '../../client/s3-settings.js';
import type { StrataFileSystem } from '../../client/types.js';
import * as acl from './acl.js';
import { type AuthResult, authenticate, type CredentialSource, DEFAULT_REGION, parseQuery } from './auth.js';
import * as buckets from './buckets.js';
import { type Ctx, type GatewayLimits, requireBucket } from './context.js';
import { copyObject } from './copy.js';
import { deleteObject, deleteObjects } from './delete.js';
import { S3Error, toS3Error } from './errors.js';
import { newRequestId, S3Response, sendError, sendXml } from './http.js';
import { isAddressableBucket } from './keys.js';
import { ListingCache } from './listing.js';
import * as multipart from './multipart.js';
import * as multipartListing from './multipart-listing.js';
import * as objects from './objects.js';
import * as tagging from './tagging.js';
import { toXml } from './xml.js';

export interface S3GatewayOptions {
  /** accessKeyId → secret, or a lookup function. */
  readonly credentials: CredentialSource;
  /** Enables virtual-host style: "<bucket>.<domain>". */
  readonly domain?: string;
  readonly region?: string;
  /** Buckets readable without a signature (in addition to each bucket's persisted setting). */
  readonly anonymousBuckets?: ReadonlySet<string> | readonly string[];
  /** Largest single PUT (default 5 GiB). */
  readonly maxBodyBytes?: number;
  /** Smallest non-last multipart part (default 5 MiB). */
  readonly minPartBytes?: number;
  /** Called for every request that fails with a 5xx (logging). */
  readonly onError?: (err: unknown, req: IncomingMessage) => void;
}

export interface S3Gateway {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

const SUBRESOURCES_NOT_IMPLEMENTED = [
  'policy',
  'cors',
  'lifecycle',
  'website',
  'replication',
  'encryption',
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
  'ownershipControls',
  'publicAccessBlock',
  'restore',
  'select',
  'torrent',
];

export function createS3Gateway(fs: StrataFileSystem, options: S3GatewayOptions): S3Gateway {
  const region = options.region ?? DEFAULT_REGION;
  const limits: GatewayLimits = {
    maxObjectBytes: options.maxBodyBytes ?? 5 * 1024 ** 3,
    minPartBytes: options.minPartBytes ?? 5 * 1024 ** 2,
  };
  const cache = new ListingCache(fs);
  const anonymous = new Set(options.anonymousBuckets ?? []);
  const domain = options.domain?.toLowerCase();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const common = [
      'x-amz-request-id',
      requestId,
      'x-amz-id-2',
      Buffer.from(requestId).toString('base64'),
      'server',
      'Strata',
    ];
    if (res instanceof S3Response) res.common = common;
    else for (let i = 0; i < common.length; i += 2) res.setHeader(common[i]!, common[i + 1]!);
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const rawPath = qi < 0 ? url : url.slice(0, qi);
    const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
    let resource = rawPath;
    try {
      if (!rawPath.startsWith('/')) throw new S3Error('InvalidRequest', 'The request path must be absolute');
      let path: string;
      try {
        path = decodeURIComponent(rawPath);
      } catch {
        throw new S3Error('InvalidURI', "Couldn't parse the specified URI.");
      }
      resource = path;
      let bucket = '';
      let key = '';
      const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
      if (domain && host.endsWith(`.${domain}`)) {
        bucket = host.slice(0, -domain.length - 1);
        key = path.slice(1);
      } else {
        const rest = path.slice(1);
        const slash = rest.indexOf('/');
        bucket = slash < 0 ? rest : rest.slice(0, slash);
        key = slash < 0 ? '' : rest.slice(slash + 1);
      }
      if (bucket !== '' && !isAddressableBucket(bucket))
        throw new S3Error('InvalidBucketName', `The specified bucket is not valid: ${bucket}`);
      const pairs = parseQuery(rawQuery);
      const query = new Map<string, string>();
      for (const [k, v] of pairs) if (!query.has(k)) query.set(k, v);
      // Browser-form uploads carry their signature in the form, not the request: refused as a
      // feature before authentication, so clients learn it is unsupported rather than unsigned.
      if (
        req.method === 'POST' &&
        bucket !== '' &&
        key === '' &&
        (req.headers['content-type'] ?? '').startsWith('multipart/form-data')
      )
        throw new S3Error(
          'NotImplemented',
          'POST object uploads (HTML forms) are not implemented by this gateway',
        );
      const auth = await authenticate(
        req,
        { rawPath, rawQuery, pairs },
        { credentials: options.credentials, region },
      );
      if (auth.kind === 'anonymous') await allowAnonymous(req, bucket);
      // Authorised: a client waiting on "Expect: 100-continue" may send its body now.
      if (req.headers.expect?.toLowerCase() === '100-continue' && !res.headersSent) res.writeContinue();
      const ctx: Ctx = { fs, cache, limits, region, req, res, bucket, key, query, auth, requestId };
      await route(ctx);
    } catch (err) {
      const e = toS3Error(err, { missing: 'NoSuchKey' });
      if (e.status >= 500) options.onError?.(err, req);
      // An error before the body was read: do not try to reuse a connection with unread bytes.
      if (!req.complete) res.setHeader('connection', 'close');
      sendError(req, res, e, resource, requestId);
    }
  }

  async function allowAnonymous(req: IncomingMessage, bucket: string): Promise<AuthResult> {
    const method = req.method ?? 'GET';
    if (bucket !== '' && (method === 'GET' || method === 'HEAD')) {
      if (anonymous.has(bucket)) return { kind: 'anonymous' };
      const settings = await loadBucketSettings(fs, bucket).catch(() => ({ anonymousRead: false }));
      if (settings.anonymousRead) return { kind: 'anonymous' };
    }
    // S3 tells anyone that a bucket does not exist (404 NoSuchBucket) before refusing access.
    if (bucket !== '') await requireBucket({ fs, bucket });
    throw new S3Error('AccessDenied', 'Access Denied');
  }

  return { handle };
}

async function route(ctx: Ctx): Promise<void> {
  const method = ctx.req.method ?? 'GET';
  const q = ctx.query;
  for (const s of SUBRESOURCES_NOT_IMPLEMENTED) {
    if (q.has(s))
      throw new S3Error('NotImplemented', `The ${s} subresource is not implemented by this gateway`);
  }
  if (ctx.bucket === '') {
    if (method === 'GET') return buckets.listBuckets(ctx);
    throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }
  if (ctx.key === '') {
    switch (method) {
      case 'GET':
        if (q.has('location')) return buckets.bucketLocation(ctx);
        if (q.has('uploads')) return multipartListing.listUploads(ctx);
        if (q.has('versioning')) return simple(ctx, 'VersioningConfiguration', {});
        if (q.has('acl')) return acl.getAcl(ctx);
        if (q.has('tagging'))
          throw new S3Error('NotImplemented', 'Bucket tagging is not implemented by this gateway');
        if (q.has('versions')) return buckets.listObjectVersions(ctx);
        return buckets.listObjects(ctx, q.get('list-type') === '2');
      case 'HEAD':
        return buckets.headBucket(ctx);
      case 'PUT':
        if (q.has('acl')) {
          await requireBucket(ctx);
          return acl.putAcl(ctx);
        }
        if (q.has('versioning') || q.has('tagging'))
          throw new S3Error('NotImplemented', 'This bucket subresource is not implemented by this gateway');
        return buckets.createBucket(ctx);
      case 'DELETE':
        return buckets.deleteBucket(ctx);
      case 'POST':
        if (q.has('delete')) return deleteObjects(ctx);
        break;
    }
    throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }
  const versionId = q.get('versionId');
  if (versionId !== undefined && versionId !== 'null')
    throw new S3Error('InvalidArgument', 'Invalid version id specified');
  switch (method) {
    case 'GET':
      if (q.has('tagging')) return tagging.getTagging(ctx);
      if (q.has('uploadId')) return multipartListing.listPartsHandler(ctx);
      if (q.has('acl')) return acl.getAcl(ctx);
      return objects.getObject(ctx, false);
    case 'HEAD':
      return objects.getObject(ctx, true);
    case 'PUT':
      if (q.has('tagging')) return tagging.putTagging(ctx);
      if (q.has('acl')) return acl.putObjectAcl(ctx);
      if (q.has('uploadId') || q.has('partNumber')) return multipart.uploadPart(ctx);
      if (ctx.req.headers['x-amz-copy-source'] !== undefined) return copyObject(ctx);
      return objects.putObject(ctx);
    case 'POST':
      if (q.has('uploads')) return multipart.createUpload(ctx);
      if (q.has('uploadId')) return multipart.completeUpload(ctx);
      break;
    case 'DELETE':
      if (q.has('tagging')) return tagging.deleteTagging(ctx);
      if (q.has('uploadId')) return multipart.abortUpload(ctx);
      return deleteObject(ctx);
  }
  throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
}

function simple(ctx: Ctx, root: string, body: Record<string, string>): void {
  sendXml(ctx.res, 200, toXml(root, body));
}
