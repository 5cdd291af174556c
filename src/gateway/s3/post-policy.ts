import { createHmac, timingSafeEqual } from 'node:crypto';
import { type CredentialSource, DEFAULT_REGION, deriveKey, hmacHex, parseAmzDate } from './auth.js';
import { S3Error } from './errors.js';

/**
 * The signed policy of a browser POST upload (SigV4): the form's signature over its base64
 * policy, and the policy's expiration and conditions checked against the form's fields. Every
 * field but policy, x-amz-signature, file and x-ignore-* must be allowed by a condition, as S3
 * requires. The file's size (content-length-range) can only be checked while it streams:
 * checkPostPolicy returns the range for the upload to enforce.
 */

export type PostCondition =
  | { readonly kind: 'eq' | 'starts-with'; readonly field: string; readonly value: string }
  | { readonly kind: 'content-length-range'; readonly min: number; readonly max: number };

export interface PostPolicy {
  readonly expirationMs: number;
  readonly conditions: readonly PostCondition[];
}

export interface LengthRange {
  readonly min: number;
  readonly max: number;
}

/** Fields no condition needs to cover (the signature fields of both versions, the file). */
const EXEMPT = new Set(['policy', 'x-amz-signature', 'file', 'awsaccesskeyid', 'signature']);

function invalidPolicy(why: string): S3Error {
  return new S3Error('InvalidPolicyDocument', `Invalid Policy: ${why}`);
}

function notAllowed(why: string): S3Error {
  return new S3Error('AccessDenied', `Invalid according to Policy: ${why}`);
}

/** How S3 prints a condition in its refusal. */
export function conditionText(c: PostCondition): string {
  return c.kind === 'content-length-range'
    ? `["content-length-range", ${c.min}, ${c.max}]`
    : `["${c.kind}", "$${c.field}", ${JSON.stringify(c.value)}]`;
}

function lengthBound(v: unknown): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
    throw invalidPolicy('Invalid content-length-range: its bounds must be non-negative integers.');
  return n;
}

function parseCondition(c: unknown): PostCondition {
  if (Array.isArray(c)) {
    const op = typeof c[0] === 'string' ? c[0].toLowerCase() : undefined;
    if (op === 'content-length-range') {
      if (c.length !== 3) throw invalidPolicy('Invalid content-length-range: it takes two bounds.');
      const min = lengthBound(c[1]);
      const max = lengthBound(c[2]);
      if (min > max) throw invalidPolicy('Invalid content-length-range: its minimum is above its maximum.');
      return { kind: 'content-length-range', min, max };
    }
    if ((op === 'eq' || op === 'starts-with') && c.length === 3) {
      const [, field, value] = c;
      if (
        typeof field !== 'string' ||
        !field.startsWith('$') ||
        field.length < 2 ||
        typeof value !== 'string'
      )
        throw invalidPolicy(`Invalid Condition: ${JSON.stringify(c)}`);
      return { kind: op, field: field.slice(1).toLowerCase(), value };
    }
    throw invalidPolicy(`Invalid Condition: ${JSON.stringify(c)}`);
  }
  if (typeof c === 'object' && c !== null) {
    const entries = Object.entries(c);
    const [name, value] = entries[0] ?? [];
    if (entries.length !== 1 || name === undefined || typeof value !== 'string')
      throw invalidPolicy(`Invalid Simple-Condition: ${JSON.stringify(c)}`);
    return { kind: 'eq', field: name.toLowerCase(), value };
  }
  throw invalidPolicy(`Invalid Condition: ${JSON.stringify(c)}`);
}

/** The form's `policy` field (base64 JSON) → its expiration and conditions. */
export function parsePostPolicy(base64: string): PostPolicy {
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(base64)) throw invalidPolicy('Invalid base64.');
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalidPolicy('Invalid JSON.');
  const { expiration, conditions } = doc as { expiration?: unknown; conditions?: unknown };
  if (expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  const expirationMs =
    typeof expiration === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(expiration)
      ? Date.parse(expiration)
      : Number.NaN;
  if (Number.isNaN(expirationMs)) throw invalidPolicy("Invalid 'expiration' value: must be ISO 8601 UTC.");
  if (conditions === undefined) throw invalidPolicy('Policy missing conditions.');
  if (!Array.isArray(conditions)) throw invalidPolicy('Conditions must be an array.');
  return { expirationMs, conditions: conditions.map(parseCondition) };
}

function holds(c: Exclude<PostCondition, { kind: 'content-length-range' }>, value: string): boolean {
  if (c.kind === 'eq') return value === c.value;
  // A Content-Type of several values: each must start with the prefix.
  if (c.field === 'content-type') return value.split(',').every((v) => v.trim().startsWith(c.value));
  return value.startsWith(c.value);
}

/**
 * Checks the form's fields (lower-case names) against the policy: not expired, every condition
 * holds (`bucket` is the request's bucket), every field covered. Returns the content-length-range,
 * if the policy has one (the last one wins).
 */
export function checkPostPolicy(
  policy: PostPolicy,
  fields: ReadonlyMap<string, string>,
  bucket: string,
  nowMs: number,
): LengthRange | undefined {
  if (nowMs > policy.expirationMs) throw notAllowed('Policy expired.');
  // The bucket is an input too (from the URL): a policy must name it, as S3 requires.
  const covered = new Set<string>();
  let range: LengthRange | undefined;
  for (const c of policy.conditions) {
    if (c.kind === 'content-length-range') {
      range = { min: c.min, max: c.max };
      continue;
    }
    covered.add(c.field);
    const value = c.field === 'bucket' ? bucket : fields.get(c.field);
    if (value === undefined || !holds(c, value))
      throw notAllowed(`Policy Condition failed: ${conditionText(c)}`);
  }
  const extra = ['bucket', ...fields.keys()].filter(
    (f, i, all) => all.indexOf(f) === i && !EXEMPT.has(f) && !f.startsWith('x-ignore-') && !covered.has(f),
  );
  if (extra.length > 0) throw notAllowed(`Extra input fields: ${extra.join(', ')}`);
  return range;
}

export interface PostSignatureOptions {
  readonly credentials: CredentialSource;
  readonly region?: string;
}

function missing(field: string): S3Error {
  return new S3Error(
    'InvalidArgument',
    `Bucket POST must contain a field named '${field}'.  If it is specified, please check the order of the fields.`,
    { extra: { ArgumentName: field, ArgumentValue: '' } },
  );
}

/** Whether the form is signed at all (an unsigned form is an anonymous upload). */
export function isSignedForm(fields: ReadonlyMap<string, string>): boolean {
  return [
    'policy',
    'x-amz-signature',
    'x-amz-credential',
    'x-amz-algorithm',
    'awsaccesskeyid',
    'signature',
  ].some((f) => fields.has(f));
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function signatureMismatch(policy: string): S3Error {
  return new S3Error(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    { extra: { StringToSign: policy } },
  );
}

/**
 * A Signature Version 2 form (AWSAccessKeyId, signature: base64 HMAC-SHA1 of the policy with the
 * secret), as S3 still accepts for POST and as ceph's s3-tests and older SDKs sign them. Only
 * POST uploads take V2; every other request needs SigV4.
 */
function verifyV2(fields: ReadonlyMap<string, string>, options: PostSignatureOptions): string {
  for (const f of ['awsaccesskeyid', 'signature', 'policy']) if (!fields.has(f)) throw missing(f);
  const id = fields.get('awsaccesskeyid')!;
  const source = options.credentials;
  const secret = typeof source === 'function' ? source(id) : source.get(id);
  if (secret === undefined)
    throw new S3Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    );
  const policy = fields.get('policy')!;
  const expected = createHmac('sha1', secret).update(policy).digest('base64');
  if (!sameText(expected, fields.get('signature')!)) throw signatureMismatch(policy);
  return id;
}

/**
 * Verifies a signed form's signature: SigV4 (HMAC-SHA256 of the base64 policy with the signing
 * key of its credential's date and region), or V2 for a form with AWSAccessKeyId and no
 * x-amz-algorithm. Returns the access key id.
 */
export async function verifyPostSignature(
  fields: ReadonlyMap<string, string>,
  options: PostSignatureOptions,
): Promise<string> {
  if (!fields.has('x-amz-algorithm') && (fields.has('awsaccesskeyid') || fields.has('signature')))
    return verifyV2(fields, options);
  for (const f of ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature', 'policy'])
    if (!fields.has(f)) throw missing(f);
  const algorithm = fields.get('x-amz-algorithm')!;
  if (algorithm !== 'AWS4-HMAC-SHA256')
    throw new S3Error('InvalidArgument', `x-amz-algorithm must be AWS4-HMAC-SHA256, not ${algorithm}`, {
      extra: { ArgumentName: 'x-amz-algorithm', ArgumentValue: algorithm },
    });
  const credential = fields.get('x-amz-credential')!;
  const parts = credential.split('/');
  const bad = (why: string) =>
    new S3Error('InvalidArgument', `Invalid x-amz-credential "${credential}": ${why}`, {
      extra: { ArgumentName: 'x-amz-credential', ArgumentValue: credential },
    });
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1]!))
    throw bad('it must be <key>/<yyyymmdd>/<region>/s3/aws4_request');
  if (parts[3] !== 's3') throw bad(`the service must be "s3", not "${parts[3]}"`);
  const region = options.region ?? DEFAULT_REGION;
  if (parts[2] !== region) throw bad(`the region '${parts[2]}' is wrong; expecting '${region}'`);
  const date = fields.get('x-amz-date')!;
  if (Number.isNaN(parseAmzDate(date)))
    throw new S3Error(
      'InvalidArgument',
      "x-amz-date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
      {
        extra: { ArgumentName: 'x-amz-date', ArgumentValue: date },
      },
    );
  if (date.slice(0, 8) !== parts[1]) throw bad('its date is not the date of x-amz-date');
  const key = await deriveKey(options.credentials, {
    accessKeyId: parts[0]!,
    shortDate: parts[1]!,
    region: parts[2]!,
    service: 's3',
  });
  const policy = fields.get('policy')!;
  if (!sameText(hmacHex(key, policy), fields.get('x-amz-signature')!.toLowerCase()))
    throw signatureMismatch(policy);
  return parts[0]!;
}
