import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadBucketSettings, updateBucketSettings } from '../../client/s3-settings.js';
import type { StrataFileSystem } from '../../client/types.js';
import { type Ctx, requireBucket } from './context.js';
import {
  CORS_METHODS,
  CORS_VARY,
  type CorsRule,
  corsConfigurationXml,
  corsHeaders,
  MAX_CORS_BYTES,
  matchCors,
  parseCorsConfiguration,
  requestedHeaders,
} from './cors-rules.js';
import { S3Error } from './errors.js';
import { readBody, S3Response, sendEmpty, sendXml } from './http.js';

/**
 * CORS for browsers: Get/Put/DeleteBucketCors (the rules live in the bucket's settings, beside
 * its policy and ACL, so every gateway of a cluster applies the same), the preflight `OPTIONS`
 * answered from them without authentication, and the Access-Control-* headers of every other
 * answer (errors too) to a request with an Origin that a rule allows.
 */

export async function getBucketCors(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  const rules = (await loadBucketSettings(ctx.fs, ctx.bucket)).cors;
  if (rules === undefined || rules.length === 0)
    throw new S3Error('NoSuchCORSConfiguration', 'The CORS configuration does not exist');
  sendXml(ctx.res, 200, corsConfigurationXml(rules));
}

export async function putBucketCors(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  const body = await readBody(ctx.req, MAX_CORS_BYTES);
  const rules = parseCorsConfiguration(body.toString('utf8'));
  await updateBucketSettings(ctx.fs, ctx.bucket, { cors: rules });
  sendEmpty(ctx.res, 200);
}

export async function deleteBucketCors(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  await updateBucketSettings(ctx.fs, ctx.bucket, { cors: undefined });
  sendEmpty(ctx.res, 204);
}

/** The bucket's rules; none when it has none or they cannot be read (CORS never fails a request). */
async function rulesOf(fs: StrataFileSystem, bucket: string): Promise<readonly CorsRule[]> {
  try {
    return (await loadBucketSettings(fs, bucket)).cors ?? [];
  } catch {
    return [];
  }
}

function one(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const NOT_ALLOWED =
  "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

/**
 * A preflight (`OPTIONS` on a bucket or an object): 200 with the Access-Control-* headers of
 * the first rule that allows the origin, method and headers; 403 AccessForbidden otherwise, as
 * S3 answers. Unauthenticated by design: a browser sends no credentials with a preflight.
 */
export async function preflight(
  fs: StrataFileSystem,
  bucket: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const origin = one(req, 'origin');
  if (origin === undefined || origin === '')
    throw new S3Error('BadRequest', 'Insufficient information. Origin request header needed.');
  const method = one(req, 'access-control-request-method');
  if (method === undefined || !CORS_METHODS.has(method))
    throw new S3Error('BadRequest', `Invalid Access-Control-Request-Method: ${method ?? 'null'}`);
  await requireBucket({ fs, bucket });
  const rules = await rulesOf(fs, bucket);
  if (rules.length === 0)
    throw new S3Error('AccessForbidden', 'CORSResponse: CORS is not enabled for this bucket.');
  const ask = { origin, method, headers: requestedHeaders(one(req, 'access-control-request-headers')) };
  const match = matchCors(rules, ask);
  if (match === undefined) throw new S3Error('AccessForbidden', NOT_ALLOWED);
  sendEmpty(res, 200, { ...Object.fromEntries(corsHeaders(match, ask)), 'content-length': 0 });
}

/**
 * Adds the Access-Control-* headers to the answer of an actual (non-preflight) request with an
 * Origin, when a rule of the bucket allows its origin and method; only Vary when none does. Called
 * before anything is written, so an error answer carries them as well (a browser then lets the
 * page read the S3 error instead of a bare network failure).
 */
export async function addCorsHeaders(
  fs: StrataFileSystem,
  bucket: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const origin = one(req, 'origin');
  if (origin === undefined || bucket === '') return;
  const rules = await rulesOf(fs, bucket);
  if (rules.length === 0) return;
  const credentialed = req.headers.authorization !== undefined || /[?&]X-Amz-Signature=/.test(req.url ?? '');
  const ask = { origin, method: req.method ?? 'GET', credentialed };
  const match = matchCors(rules, ask);
  const headers: [string, string][] = match === undefined ? [['vary', CORS_VARY]] : corsHeaders(match, ask);
  if (res instanceof S3Response) for (const [k, v] of headers) res.common.push(k, v);
  else for (const [k, v] of headers) res.setHeader(k, v);
}
