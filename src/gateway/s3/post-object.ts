import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline as pipelineCb, type Readable, Transform, type TransformCallback } from 'node:stream';
import type { StrataFileSystem } from '../../client/types.js';
import { authorizeRequest } from './access.js';
import { checkGrants, newObjectAccess } from './acl.js';
import { grantsFromHeaders } from './acl-grants.js';
import { type AuthResult, type CredentialSource, UNSIGNED_PAYLOAD } from './auth.js';
import type { BucketAccess } from './authorize.js';
import { CheckedBody } from './body.js';
import { requestChecksum } from './checksums.js';
import { type Ctx, type GatewayLimits, requireBucket } from './context.js';
import { S3Error } from './errors.js';
import { type Form, formBoundary, readForm } from './form-data.js';
import { sendEmpty, sendXml } from './http.js';
import { validateKey } from './keys.js';
import { contentIdentity, type ObjectMeta } from './meta.js';
import {
  checksumResponse,
  commitMeta,
  placePath,
  placeWrite,
  storedChecksum,
  writeChecked,
} from './object-write.js';
import {
  checkPostPolicy,
  isSignedForm,
  type LengthRange,
  parsePostPolicy,
  verifyPostSignature,
} from './post-policy.js';
import type { Principal } from './users.js';
import { toXml } from './xml.js';

/**
 * PostObject: a browser form upload (multipart/form-data) to a bucket. Its credentials are in
 * the form (a SigV4-signed policy, post-policy.ts), so the gateway calls this before any
 * header authentication; the fields are read first (bounded), then the upload is authorised as
 * a PutObject by its signer, and the file part streams to the store with backpressure
 * (form-data.ts), sized by the policy's content-length-range.
 */

export interface PostDeps {
  readonly fs: StrataFileSystem;
  readonly credentials: CredentialSource;
  readonly region: string;
  readonly limits: GatewayLimits;
  readonly anonymousBuckets: ReadonlySet<string>;
  /** The user an access key belongs to (undefined: no such key any more). */
  readonly principalOf: (accessKeyId: string) => Principal | undefined;
  /** The request's context once the form said who sends it and which key it writes. */
  readonly context: (
    key: string,
    auth: AuthResult,
    principal: Principal | undefined,
    access: BucketAccess | undefined,
  ) => Ctx;
  readonly nowMs?: () => number;
}

/** Fields stored as the object's headers (as the PutObject headers of the same names). */
const STORED_FIELDS = ['cache-control', 'content-disposition', 'content-encoding', 'expires'];
const MAX_META_BYTES = 2048;
/** The key field's placeholder for the uploaded file's name, as S3 has it. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: S3's literal placeholder, not a template
const FILENAME_VARIABLE = '${filename}';

/** Fails a file outside [min, max] bytes as S3 does: EntityTooLarge while it streams, EntityTooSmall at its end. */
class LengthRangeCheck extends Transform {
  private bytes = 0;
  constructor(private readonly range: LengthRange) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.range.max) {
      done(
        new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
          extra: { MaxSizeAllowed: String(this.range.max) },
        }),
      );
      return;
    }
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    if (this.bytes < this.range.min) {
      done(
        new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', {
          extra: { ProposedSize: String(this.bytes), MinSizeAllowed: String(this.range.min) },
        }),
      );
      return;
    }
    done();
  }
}

/** Object metadata from the form: Content-Type, x-amz-meta-*, the stored headers, the ACL. */
function metadataFromForm(form: Form): Pick<ObjectMeta, 'contentType' | 'headers' | 'meta'> {
  const meta: Record<string, string> = {};
  const headers: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of form.fields) {
    if (name.startsWith('x-amz-meta-')) {
      meta[name.slice(11)] = value;
      bytes += name.length - 11 + Buffer.byteLength(value);
    } else if (STORED_FIELDS.includes(name)) headers[name] = value;
  }
  if (bytes > MAX_META_BYTES)
    throw new S3Error(
      'MetadataTooLarge',
      `Your metadata headers exceed the maximum allowed metadata size (${MAX_META_BYTES} bytes)`,
    );
  const contentType = form.fields.get('content-type') ?? form.file.contentType;
  return { ...(contentType ? { contentType } : {}), headers, meta };
}

/**
 * The additional checksum a form declares (an `x-amz-checksum-<alg>` field, optionally with
 * `x-amz-checksum-algorithm`), checked as the file streams exactly as PutObject's header is.
 */
function formChecksum(fields: ReadonlyMap<string, string>) {
  const headers: Record<string, string> = {};
  for (const [name, value] of fields)
    if (name === 'x-amz-checksum-algorithm') headers['x-amz-sdk-checksum-algorithm'] = value;
    else if (name.startsWith('x-amz-checksum-')) headers[name] = value;
  const declared = requestChecksum(headers);
  if (declared !== undefined && declared.value === undefined)
    throw new S3Error(
      'InvalidRequest',
      'x-amz-checksum-algorithm needs its x-amz-checksum-<alg> field in a POST form',
    );
  return declared;
}

/** Fields asking for what a POST upload here cannot do: 501 rather than silently ignored. */
function checkUnsupportedFields(fields: ReadonlyMap<string, string>): void {
  for (const name of fields.keys()) {
    if (name.startsWith('x-amz-server-side-encryption'))
      throw new S3Error(
        'NotImplemented',
        'Server-side encryption of POST uploads is not implemented by this gateway',
      );
    if (name.startsWith('x-amz-object-lock-'))
      throw new S3Error('NotImplemented', 'Object lock is not implemented by this gateway');
    if (name === 'tagging')
      throw new S3Error(
        'NotImplemented',
        'The tagging field of POST uploads is not implemented by this gateway',
      );
  }
}

/** The redirect target with bucket, key and etag appended, or undefined when it is not an http(s) URL. */
function redirectTarget(url: string, bucket: string, key: string, etag: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  u.searchParams.append('bucket', bucket);
  u.searchParams.append('key', key);
  u.searchParams.append('etag', etag);
  return u.toString();
}

function objectUrl(req: IncomingMessage, bucket: string, key: string): string {
  const host = req.headers.host ?? 'localhost';
  const scheme = 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
  const path = key
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
  return `${scheme}://${host}/${bucket}/${path}`;
}

export async function postObject(
  deps: PostDeps,
  req: IncomingMessage,
  res: ServerResponse,
  bucket: string,
): Promise<void> {
  const boundary = formBoundary(req.headers['content-type']);
  if (boundary === undefined)
    throw new S3Error(
      'MalformedPOSTRequest',
      'The body of your POST request is not well-formed multipart/form-data: no boundary in its Content-Type',
    );
  await requireBucket({ fs: deps.fs, bucket });
  if (req.headers.expect?.toLowerCase() === '100-continue' && !res.headersSent) res.writeContinue();
  const form = await readForm(req, boundary);
  try {
    await upload(deps, req, res, bucket, form);
  } finally {
    form.file.body.destroy();
  }
}

/** The upload once the form's fields are read: authenticate, authorise, stream, commit, answer. */
async function upload(
  deps: PostDeps,
  req: IncomingMessage,
  res: ServerResponse,
  bucket: string,
  form: Form,
): Promise<void> {
  // The key's ${filename} is the file's name before anything is checked: conditions on $key see
  // the key the object gets (S3 checks `["starts-with", "$key", "uploads/"]` against it).
  const template = form.fields.get('key');
  if (template === undefined)
    throw new S3Error(
      'InvalidArgument',
      "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
      { extra: { ArgumentName: 'key', ArgumentValue: '' } },
    );
  const key = template.replaceAll(FILENAME_VARIABLE, form.file.filename);
  const fields = new Map(form.fields).set('key', key);
  let auth: AuthResult = { kind: 'anonymous' };
  let principal: Principal | undefined;
  let range: LengthRange | undefined;
  if (isSignedForm(fields)) {
    const accessKeyId = await verifyPostSignature(fields, deps);
    range = checkPostPolicy(
      parsePostPolicy(fields.get('policy')!),
      fields,
      bucket,
      deps.nowMs?.() ?? Date.now(),
    );
    principal = deps.principalOf(accessKeyId);
    if (principal === undefined)
      throw new S3Error(
        'InvalidAccessKeyId',
        'The AWS Access Key Id you provided does not exist in our records.',
      );
    auth = { kind: 'signed', accessKeyId, payloadHash: UNSIGNED_PAYLOAD };
  }
  validateKey(key);
  checkUnsupportedFields(fields);
  const access = await authorizeRequest({ fs: deps.fs, anonymousBuckets: deps.anonymousBuckets }, req, {
    principal,
    operation: 'PutObject',
    bucket,
    key,
  });
  const ctx = deps.context(key, auth, principal, access);
  const aclFields: Record<string, string> = {};
  for (const [name, value] of fields)
    if (name === 'acl') aclFields['x-amz-acl'] = value;
    else if (name.startsWith('x-amz-grant-')) aclFields[name] = value;
  const acl = grantsFromHeaders(aclFields);
  if (acl !== undefined) await checkGrants(ctx, acl.grants, acl.canned);
  const md = metadataFromForm(form);
  const declared = formChecksum(fields);
  const place = await placeWrite(ctx, key);
  const checked = new CheckedBody({
    maxBytes: deps.limits.maxObjectBytes,
    ...(declared ? { checksum: { alg: declared.alg, expected: declared.value } } : {}),
  });
  let failed: unknown;
  const chain: (Readable | Transform)[] = [form.file.body];
  if (range !== undefined) chain.push(new LengthRangeCheck(range));
  chain.push(checked);
  pipelineCb(chain as unknown as [Readable, CheckedBody], (err) => {
    if (err) failed = err;
  });
  const info = await writeChecked(ctx, placePath(ctx, key, place), {
    source: checked,
    failure: () => failed,
  });
  const etag = checked.md5Hex;
  const checksum = storedChecksum({
    source: checked,
    failure: () => failed,
    ...(declared ? { declared } : {}),
  });
  await commitMeta(ctx, key, place, {
    ...contentIdentity(info, etag),
    ...md,
    tags: {},
    ...newObjectAccess(access, principal, acl),
    ...(checksum ? { checksum } : {}),
  });
  if (!(await form.finish())) res.setHeader('connection', 'close');
  respond(req, res, fields, bucket, key, { etag: `"${etag}"`, ...checksumResponse(checksum) });
}

/** success_action_redirect (303), else success_action_status 200, 201 (PostResponse XML) or 204. */
function respond(
  req: IncomingMessage,
  res: ServerResponse,
  fields: ReadonlyMap<string, string>,
  bucket: string,
  key: string,
  headers: { etag: string } & Record<string, string>,
): void {
  const location = objectUrl(req, bucket, key);
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect');
  const target = redirect === undefined ? undefined : redirectTarget(redirect, bucket, key, headers.etag);
  if (target !== undefined) {
    sendEmpty(res, 303, { ...headers, location: target });
    return;
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    const doc = { Location: location, Bucket: bucket, Key: key, ETag: headers.etag };
    sendXml(res, 201, toXml('PostResponse', doc, ''), { ...headers, location });
    return;
  }
  sendEmpty(res, status === '200' ? 200 : 204, { ...headers, location });
}
