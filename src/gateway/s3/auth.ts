import * as crypto from 'node:crypto';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createScope, getSigningKey } from '@smithy/signature-v4';
import { canonicalHeaders, canonicalPath, canonicalQuery, parseQuery } from './canonical.js';
import { S3Error } from './errors.js';

/** The query parser the gateway shares with the signature check. */
export { parseQuery } from './canonical.js';

/**
 * AWS Signature Version 4 verification (Authorization header and presigned URLs). The signing
 * key derivation comes from the maintained @smithy/signature-v4 library; we build the canonical
 * request from what arrived on the wire and compare signatures in constant time.
 */

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** The region a gateway answers for unless configured otherwise (and what clients sign with by default). */
export const DEFAULT_REGION = 'us-east-1';
const HEX_SHA256 = /^[0-9a-f]{64}$/;
/** Payload forms of SigV4a (ECDSA): valid S3 values this gateway cannot verify. */
const ECDSA_PAYLOADS = new Set([
  'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD',
  'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER',
]);
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

function toBytes(d: string | ArrayBuffer | ArrayBufferView | undefined): string | Uint8Array | undefined {
  if (d === undefined || typeof d === 'string') return d;
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** node:crypto behind the Checksum interface the library expects. */
class NodeSha256 {
  private hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  private readonly secret: string | Uint8Array | undefined;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.secret = toBytes(secret);
    this.hash = this.make();
  }
  private make() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBytes(data) ?? '');
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    this.hash = this.make();
  }
}

/** Where secrets come from: a map or a lookup function. */
export type CredentialSource = ReadonlyMap<string, string> | ((accessKeyId: string) => string | undefined);

export interface ChunkSigning {
  readonly signingKey: Uint8Array;
  readonly seedSignature: string;
  readonly longDate: string;
  readonly scope: string;
}

export type AuthResult =
  | { readonly kind: 'anonymous' }
  | {
      readonly kind: 'signed';
      readonly accessKeyId: string;
      /** The x-amz-content-sha256 value (or UNSIGNED-PAYLOAD for presigned URLs). */
      readonly payloadHash: string;
      readonly chunkSigning?: ChunkSigning;
    };

export interface RawTarget {
  /** Path exactly as sent, still percent-encoded. */
  readonly rawPath: string;
  /** Query string as sent, without "?". */
  readonly rawQuery: string;
  /** parseQuery(rawQuery), when the caller has it already. */
  readonly pairs?: [string, string][];
}

export function hmacHex(key: Uint8Array, text: string): string {
  return createHmac('sha256', key).update(text).digest('hex');
}

export function sha256Hex(data: string | Uint8Array): string {
  // One-shot crypto.hash (Node ≥ 20.12) skips building a Hash object: ~2× faster for short input.
  return oneShotHash ? oneShotHash('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
}

const oneShotHash = (crypto as { hash?: (alg: string, data: string | Uint8Array, enc: 'hex') => string })
  .hash;

/** "20130524T000000Z" → ms since the epoch, or NaN. */
export function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return Number.NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

export interface Credential {
  accessKeyId: string;
  shortDate: string;
  region: string;
  service: string;
}

function parseCredential(
  value: string,
  err: 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError',
): Credential {
  const parts = value.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1]!)) {
    throw new S3Error(err, `The credential is malformed: "${value}"`);
  }
  if (parts[3] !== 's3') throw new S3Error(err, `The credential's service must be "s3", not "${parts[3]}"`);
  return { accessKeyId: parts[0]!, shortDate: parts[1]!, region: parts[2]!, service: parts[3]! };
}

export interface AuthOptions {
  readonly credentials: CredentialSource;
  /** The region signatures must be scoped to (default us-east-1). */
  readonly region?: string;
  readonly nowMs?: number;
}

/**
 * A credential scope for another region than the gateway's is refused as AWS refuses it (400,
 * AuthorizationHeaderMalformed or AuthorizationQueryParametersError, with the expected Region),
 * before the signature is checked: a client configured for the wrong region learns which one.
 */
function checkRegion(cred: Credential, options: AuthOptions, presigned: boolean): void {
  const region = options.region ?? DEFAULT_REGION;
  if (cred.region === region) return;
  const why = `the region '${cred.region}' is wrong; expecting '${region}'`;
  throw presigned
    ? new S3Error(
        'AuthorizationQueryParametersError',
        `Error parsing the X-Amz-Credential parameter; ${why}`,
        {
          extra: { Region: region },
        },
      )
    : new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${why}`, {
        extra: { Region: region },
      });
}

/**
 * The x-amz-content-sha256 forms this gateway verifies: a hex SHA-256 of the body,
 * UNSIGNED-PAYLOAD, and the aws-chunked forms STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER) (every
 * chunk signature checked; header-signed requests only, their signature seeds the chain) and
 * STREAMING-UNSIGNED-PAYLOAD-TRAILER. Anything else would leave the body unverified: refused.
 */
function checkPayloadHash(value: string, presigned: boolean): void {
  if (value === UNSIGNED_PAYLOAD || value === STREAMING_UNSIGNED_TRAILER || HEX_SHA256.test(value)) return;
  if (value === STREAMING_SIGNED || value === STREAMING_SIGNED_TRAILER) {
    if (!presigned) return;
    throw new S3Error(
      'InvalidRequest',
      `x-amz-content-sha256 ${value} needs the Authorization header: its chunk signatures chain from the request signature`,
    );
  }
  if (ECDSA_PAYLOADS.has(value))
    throw new S3Error(
      'NotImplemented',
      `x-amz-content-sha256 ${value} (SigV4a) is not implemented by this gateway`,
    );
  throw new S3Error(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    { extra: { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value } },
  );
}

function lookupSecret(source: CredentialSource, id: string): string | undefined {
  return typeof source === 'function' ? source(id) : source.get(id);
}

/** Verifies a request's signature (header or presigned). Unsigned requests are "anonymous". */
export async function authenticate(
  req: IncomingMessage,
  target: RawTarget,
  options: AuthOptions,
): Promise<AuthResult> {
  const now = options.nowMs ?? Date.now();
  const query = target.pairs ?? parseQuery(target.rawQuery);
  const q = (k: string) => query.find(([key]) => key === k)?.[1];
  // An empty Authorization header carries no credentials: the request is anonymous (as S3 treats it).
  const authz = req.headers.authorization === '' ? undefined : req.headers.authorization;
  if (authz === undefined && q('X-Amz-Signature') === undefined && q('X-Amz-Credential') === undefined) {
    if (q('Signature') !== undefined && q('AWSAccessKeyId') !== undefined) {
      throw new S3Error('InvalidRequest', 'Signature Version 2 is not supported; use AWS4-HMAC-SHA256');
    }
    return { kind: 'anonymous' };
  }
  if (authz !== undefined) return verifyHeader(req, target, query, authz, options, now);
  return recallPresigned(req, target, options, now) ?? verifyPresigned(req, target, query, q, options, now);
}

/**
 * Derived signing keys by (key id, secret, date, region, service): four HMACs saved per request.
 * The secret is part of the cache key, so a rotated secret never matches an old entry.
 */
const signingKeys = new Map<string, Promise<Uint8Array>>();
const MAX_SIGNING_KEYS = 1024;

export async function deriveKey(source: CredentialSource, cred: Credential): Promise<Uint8Array> {
  const secret = lookupSecret(source, cred.accessKeyId);
  if (secret === undefined) {
    throw new S3Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    );
  }
  const id = `${cred.accessKeyId}\n${secret}\n${cred.shortDate}\n${cred.region}\n${cred.service}`;
  let key = signingKeys.get(id);
  if (key === undefined) {
    if (signingKeys.size >= MAX_SIGNING_KEYS) signingKeys.clear();
    key = getSigningKey(
      NodeSha256,
      { accessKeyId: cred.accessKeyId, secretAccessKey: secret },
      cred.shortDate,
      cred.region,
      cred.service,
    );
    signingKeys.set(id, key);
    key.catch(() => signingKeys.delete(id));
  }
  return key;
}

function checkSignature(expected: string, given: string, stringToSign: string, canonical: string): void {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new S3Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { extra: { StringToSign: stringToSign, CanonicalRequest: canonical } },
    );
  }
}

async function verifyHeader(
  req: IncomingMessage,
  target: RawTarget,
  query: [string, string][],
  authz: string,
  options: AuthOptions,
  now: number,
): Promise<AuthResult> {
  if (authz.startsWith('AWS ')) {
    throw new S3Error('InvalidRequest', 'Signature Version 2 is not supported; use AWS4-HMAC-SHA256');
  }
  if (!authz.startsWith('AWS4-HMAC-SHA256 ')) {
    throw new S3Error('AuthorizationHeaderMalformed', 'Unsupported authorization type');
  }
  const fields = new Map<string, string>();
  for (const part of authz.slice('AWS4-HMAC-SHA256 '.length).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature) {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      'The authorization header is malformed; Credential, SignedHeaders and Signature are required.',
    );
  }
  const cred = parseCredential(credential, 'AuthorizationHeaderMalformed');
  checkRegion(cred, options, false);
  const amzDate = (req.headers['x-amz-date'] as string | undefined) ?? '';
  let when = parseAmzDate(amzDate);
  let longDate = amzDate;
  if (Number.isNaN(when)) {
    const d = Date.parse(req.headers.date ?? '');
    if (Number.isNaN(d))
      throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    when = d;
    longDate = new Date(d)
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
  }
  if (Math.abs(now - when) > MAX_SKEW_MS) {
    throw new S3Error(
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
    );
  }
  if (longDate.slice(0, 8) !== cred.shortDate) {
    throw new S3Error('SignatureDoesNotMatch', 'The credential date does not match the request date');
  }
  const payloadHash = req.headers['x-amz-content-sha256'] as string | undefined;
  if (payloadHash === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  checkPayloadHash(payloadHash, false);
  const signed = signedHeaders.split(';');
  if (!signed.includes('host')) throw new S3Error('AccessDenied', 'The host header must be signed');
  const canonical = [
    req.method ?? 'GET',
    canonicalPath(target.rawPath),
    canonicalQuery(query, false),
    canonicalHeaders(req, signed),
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = createScope(cred.shortDate, cred.region, cred.service);
  const stringToSign = `AWS4-HMAC-SHA256\n${longDate}\n${scope}\n${sha256Hex(canonical)}`;
  const key = await deriveKey(options.credentials, cred);
  checkSignature(hmacHex(key, stringToSign), signature, stringToSign, canonical);
  const streaming = payloadHash === STREAMING_SIGNED || payloadHash === STREAMING_SIGNED_TRAILER;
  return {
    kind: 'signed',
    accessKeyId: cred.accessKeyId,
    payloadHash,
    ...(streaming ? { chunkSigning: { signingKey: key, seedSignature: signature, longDate, scope } } : {}),
  };
}

async function verifyPresigned(
  req: IncomingMessage,
  target: RawTarget,
  query: [string, string][],
  q: (k: string) => string | undefined,
  options: AuthOptions,
  now: number,
): Promise<AuthResult> {
  const bad = (m: string) => new S3Error('AuthorizationQueryParametersError', m);
  if (q('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') throw bad('X-Amz-Algorithm must be AWS4-HMAC-SHA256');
  const credential = q('X-Amz-Credential');
  const amzDate = q('X-Amz-Date');
  const expires = q('X-Amz-Expires');
  const signedHeaders = q('X-Amz-SignedHeaders');
  const signature = q('X-Amz-Signature');
  if (!credential || !amzDate || !expires || !signedHeaders || !signature) {
    throw bad(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  const cred = parseCredential(credential, 'AuthorizationQueryParametersError');
  checkRegion(cred, options, true);
  const when = parseAmzDate(amzDate);
  if (Number.isNaN(when)) throw bad("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  if (!/^-?\d+$/.test(expires)) throw bad('X-Amz-Expires should be a number');
  const seconds = Number(expires);
  // As AWS: an over-a-week lifetime is a malformed URL (400); a week exactly is valid; zero or a
  // negative one is a URL that had expired when it was signed (403, as s3-tests expect).
  if (seconds > MAX_PRESIGN_SECONDS)
    throw bad(
      'X-Amz-Expires must be less than a week (in seconds) that is; the given X-Amz-Expires must be less than 604800 seconds',
    );
  if (seconds <= 0) throw new S3Error('AccessDenied', 'Request has expired');
  checkPresignedTime(when, seconds, now);
  const signed = signedHeaders.split(';');
  const payloadHash = q('X-Amz-Content-Sha256') ?? UNSIGNED_PAYLOAD;
  checkPayloadHash(payloadHash, true);
  const headerLines = canonicalHeaders(req, signed);
  const canonical = [
    req.method ?? 'GET',
    canonicalPath(target.rawPath),
    canonicalQuery(query, true),
    headerLines,
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = createScope(cred.shortDate, cred.region, cred.service);
  const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
  const key = await deriveKey(options.credentials, cred);
  checkSignature(hmacHex(key, stringToSign), signature, stringToSign, canonical);
  const result: AuthResult = { kind: 'signed', accessKeyId: cred.accessKeyId, payloadHash };
  rememberPresigned(presignedMemoKey(req, target), {
    result,
    region: cred.region,
    secret: lookupSecret(options.credentials, cred.accessKeyId)!,
    signed,
    headers: headerLines,
    when,
    seconds,
  });
  return result;
}

function checkPresignedTime(when: number, seconds: number, now: number): void {
  if (when - now > MAX_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not valid yet');
  if (now > when + seconds * 1000) throw new S3Error('AccessDenied', 'Request has expired');
}

/**
 * Presigned URLs already verified. The same method, raw URL (its query carries the signature,
 * date, lifetime and signed header names) and signed header values give the same canonical
 * request, so the signature check would give the same answer: a URL fetched again (a shared
 * link, a data loader's manifest of presigned URLs) skips the hashing. Expiry, and that the key
 * still has the secret it was checked with, are checked on every use. Bounded; header-signed
 * requests carry a fresh signature each time and are always verified in full.
 */
interface VerifiedPresign {
  readonly result: AuthResult;
  /** The credential scope's region (the memo is shared by every gateway in the process). */
  readonly region: string;
  readonly secret: string;
  readonly signed: string[];
  /** The canonical header lines the signature covered. */
  readonly headers: string;
  readonly when: number;
  readonly seconds: number;
}
const verifiedPresigns = new Map<string, VerifiedPresign>();
/** At most 4,096 URLs of up to 2 KiB each: a few MB. */
const MAX_VERIFIED_PRESIGNS = 4096;
const MAX_REMEMBERED_URL = 2048;

function presignedMemoKey(req: IncomingMessage, target: RawTarget): string {
  return `${req.method ?? 'GET'} ${target.rawPath}?${target.rawQuery}`;
}

function rememberPresigned(key: string, v: VerifiedPresign): void {
  if (key.length > MAX_REMEMBERED_URL) return;
  if (verifiedPresigns.size >= MAX_VERIFIED_PRESIGNS) verifiedPresigns.clear();
  verifiedPresigns.set(key, v);
}

/** The remembered verdict for this exact presigned request, or undefined to verify it in full. */
function recallPresigned(
  req: IncomingMessage,
  target: RawTarget,
  options: AuthOptions,
  now: number,
): AuthResult | undefined {
  const hit = verifiedPresigns.get(presignedMemoKey(req, target));
  if (hit === undefined || hit.result.kind !== 'signed') return undefined;
  if (hit.region !== (options.region ?? DEFAULT_REGION)) return undefined; // the full check says why
  if (lookupSecret(options.credentials, hit.result.accessKeyId) !== hit.secret) return undefined;
  let headers: string;
  try {
    headers = canonicalHeaders(req, hit.signed);
  } catch {
    return undefined; // a signed header is missing now: the full check says why
  }
  if (headers !== hit.headers) return undefined;
  checkPresignedTime(hit.when, hit.seconds, now);
  return hit.result;
}
