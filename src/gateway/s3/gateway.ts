import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { StrataFileSystem } from '../../client/types.js';
import { log, logEnabled, logSeconds } from '../../core/log.js';
import { withRequestId } from '../../core/request-context.js';
import { RequestHistogram } from '../../core/request-metrics.js';
import { authorizeRequest } from './access.js';
import { checkWriteAcl, WRITES_WITH_ACL } from './acl.js';
import { type AuthResult, authenticate, type CredentialSource, DEFAULT_REGION, parseQuery } from './auth.js';
import type { BucketAccess } from './authorize.js';
import type { Ctx, GatewayLimits } from './context.js';
import { addCorsHeaders, preflight } from './cors.js';
import { S3Error, toS3Error } from './errors.js';
import { newRequestId, S3Response, sendError } from './http.js';
import { isAddressableBucket } from './keys.js';
import { ListingCache } from './listing.js';
import { CORS_PREFLIGHT, POST_OBJECT, resolveOperation, type S3Operation } from './operations.js';
import { postObject } from './post-object.js';
import type { SseKeyring } from './sse-keys.js';
import { type Principal, ROOT_PRINCIPAL, type UserDirectory } from './users.js';

export interface S3GatewayOptions {
  /** The root user's keys: accessKeyId → secret, or a lookup function. */
  readonly credentials: CredentialSource;
  /** Other users (config file, registry): users.ts. Without it every key is the root user's. */
  readonly users?: UserDirectory;
  /** Enables virtual-host style: "<bucket>.<domain>". */
  readonly domain?: string;
  readonly region?: string;
  /** Buckets readable without a signature (in addition to each bucket's persisted setting). */
  readonly anonymousBuckets?: ReadonlySet<string> | readonly string[];
  /** Store URI new buckets are mounted from when no writable mount covers them (bucket-root.ts). */
  readonly bucketRoot?: string;
  /** Largest single PUT (default 5 GiB). */
  readonly maxBodyBytes?: number;
  /** Smallest non-last multipart part (default 5 MiB). */
  readonly minPartBytes?: number;
  /** Called for every request that fails with a 5xx (logging), with its x-amz-request-id. */
  readonly onError?: (err: unknown, req: IncomingMessage, requestId: string) => void;
  /** The process's registry: strata_s3_request_duration_seconds{operation,status} goes there. */
  readonly metrics?: MetricsRegistry;
  /** Server-side encryption keys (SSE-S3 master key, "KMS" keys: sse-keys.ts). */
  readonly sse?: SseKeyring;
}

/** Status label of a request whose response did not complete (the client left, or a stream broke). */
export const INCOMPLETE_STATUS = '499';

export interface S3Gateway {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export function createS3Gateway(fs: StrataFileSystem, options: S3GatewayOptions): S3Gateway {
  const region = options.region ?? DEFAULT_REGION;
  const limits: GatewayLimits = {
    maxObjectBytes: options.maxBodyBytes ?? 5 * 1024 ** 3,
    minPartBytes: options.minPartBytes ?? 5 * 1024 ** 2,
  };
  const cache = new ListingCache(fs);
  const anonymous = new Set(options.anonymousBuckets ?? []);
  const rootSecret = (id: string): string | undefined =>
    typeof options.credentials === 'function' ? options.credentials(id) : options.credentials.get(id);
  const users = options.users;
  // Root keys first: a user key never shadows one of them.
  const credentials: CredentialSource =
    users === undefined ? options.credentials : (id) => rootSecret(id) ?? users.lookup(id)?.secret;
  const principalOf = (id: string): Principal | undefined =>
    rootSecret(id) !== undefined ? ROOT_PRINCIPAL : users?.lookup(id)?.principal;
  const domain = options.domain?.toLowerCase();
  const durations =
    options.metrics === undefined
      ? undefined
      : new RequestHistogram(options.metrics, {
          name: 'strata_s3_request_duration_seconds',
          help: 'S3 gateway requests until their response completed, by S3 operation and HTTP status',
          labels: ['operation', 'status'],
        });

  function context(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    bucket: string,
    key: string,
    query: ReadonlyMap<string, string>,
    auth: AuthResult,
    principal: Principal | undefined,
    bucketAccess: BucketAccess | undefined,
  ): Ctx {
    return {
      fs,
      cache,
      limits,
      region,
      req,
      res,
      bucket,
      key,
      query,
      auth,
      principal,
      bucketAccess,
      userExists: (name) => name === ROOT_PRINCIPAL.name || users?.exists(name) === true,
      requestId,
      ...(options.sse !== undefined ? { sse: options.sse } : {}),
      bucketRoot: options.bucketRoot,
    };
  }

  /** Times the request until its response is done; the request id goes with every log line. */
  function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const started = performance.now();
    const operation: { current: S3Operation | undefined } = { current: undefined };
    if (durations !== undefined || logEnabled('debug')) {
      res.once('close', () => {
        const name = operation.current?.name ?? 'Unknown';
        const status = res.writableFinished ? String(res.statusCode) : INCOMPLETE_STATUS;
        const seconds = (performance.now() - started) / 1000;
        durations?.observe(name, status, seconds);
        if (logEnabled('debug'))
          log.debug('s3_request', {
            operation: name,
            method: req.method,
            status,
            seconds: logSeconds(seconds),
            requestId,
          });
      });
    }
    return withRequestId(requestId, () => serve(req, res, requestId, operation));
  }

  async function serve(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    operation: { current: S3Operation | undefined },
  ): Promise<void> {
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
      const op = resolveOperation(req.method ?? 'GET', bucket, key, query, req.headers);
      operation.current = op;
      // Browsers: an Origin the bucket's CORS rules allow gets Access-Control-* on every answer
      // (errors too); a preflight needs no credentials; a form upload carries them in its fields.
      if (req.headers.origin !== undefined && op.name !== CORS_PREFLIGHT)
        await addCorsHeaders(fs, bucket, req, res);
      if (op.name === CORS_PREFLIGHT) return await preflight(fs, bucket, req, res);
      if (op.name === POST_OBJECT)
        return await postObject(
          {
            fs,
            credentials,
            region,
            limits,
            anonymousBuckets: anonymous,
            principalOf,
            context: (objectKey, auth, principal, bucketAccess) =>
              context(req, res, requestId, bucket, objectKey, query, auth, principal, bucketAccess),
          },
          req,
          res,
          bucket,
        );
      const auth = await authenticate(req, { rawPath, rawQuery, pairs }, { credentials, region });
      const principal = auth.kind === 'anonymous' ? undefined : principalOf(auth.accessKeyId);
      // A key removed between its signature check and here: refused as an unknown key.
      if (auth.kind === 'signed' && principal === undefined)
        throw new S3Error(
          'InvalidAccessKeyId',
          'The AWS Access Key Id you provided does not exist in our records.',
        );
      const bucketAccess = await authorizeRequest({ fs, anonymousBuckets: anonymous }, req, {
        principal,
        operation: op.name,
        bucket,
        key,
        prefix: query.get('prefix'),
      });
      // Authorised: a client waiting on "Expect: 100-continue" may send its body now.
      if (req.headers.expect?.toLowerCase() === '100-continue' && !res.headersSent) res.writeContinue();
      const ctx = context(req, res, requestId, bucket, key, query, auth, principal, bucketAccess);
      if (WRITES_WITH_ACL.has(op.name)) await checkWriteAcl(ctx);
      await op.run(ctx);
    } catch (err) {
      const e = toS3Error(err, { missing: 'NoSuchKey' });
      if (e.status >= 500) options.onError?.(err, req, requestId);
      // An error before the body was read: do not try to reuse a connection with unread bytes.
      if (!req.complete) res.setHeader('connection', 'close');
      sendError(req, res, e, resource, requestId);
    }
  }

  return { handle };
}
