import { ownerFields, ownerOf } from './access.js';
import { type Ctx, header } from './context.js';
import { S3Error } from './errors.js';
import { readBody, sendEmpty, sendXml } from './http.js';
import { statObject } from './object-state.js';
import { esc } from './xml.js';

/**
 * ACLs: there is one owner and everything is private to the gateway's keys. ACL headers on
 * writes, Get/Put of bucket and object ACLs.
 */

/** Canned ACLs that only restate this gateway's single-owner, private model. */
const PRIVATE_ACLS = new Set(['private', 'bucket-owner-full-control', 'bucket-owner-read']);

const CANNED_ACLS = new Set([
  ...PRIVATE_ACLS,
  'public-read',
  'public-read-write',
  'authenticated-read',
  'aws-exec-read',
  'log-delivery-write',
]);

/**
 * ACL headers on writes (PutObject, CopyObject, CreateMultipartUpload, CreateBucket): a known
 * canned ACL is accepted and not stored (every bucket and object here is private to the gateway's
 * keys, as MinIO does it); an unknown canned ACL is 400 InvalidArgument. With `strict` (the ACL
 * APIs themselves) only a canned ACL that restates "private" is accepted, any other grant is an
 * ACL write this gateway does not implement (501).
 */
export function checkAclHeaders(ctx: Ctx, strict = false): void {
  const acl = header(ctx, 'x-amz-acl');
  if (acl !== undefined && !CANNED_ACLS.has(acl))
    throw new S3Error('InvalidArgument', `Unknown canned ACL: ${acl}`);
  if (!strict) return;
  if (acl !== undefined && !PRIVATE_ACLS.has(acl))
    throw new S3Error('NotImplemented', `The canned ACL "${acl}" is not implemented by this gateway`);
  for (const name of Object.keys(ctx.req.headers)) {
    if (name.startsWith('x-amz-grant-'))
      throw new S3Error('NotImplemented', 'ACL grants (x-amz-grant-*) are not implemented by this gateway');
  }
}

/** PutObjectAcl: only a canned "private" (what the object already is) is accepted. */
export async function putObjectAcl(ctx: Ctx): Promise<void> {
  await statObject(ctx, ctx.key);
  await putAcl(ctx);
}

/** The body of a Put*Acl request: canned private via x-amz-acl; grants and policies are 501. */
export async function putAcl(ctx: Ctx): Promise<void> {
  checkAclHeaders(ctx, true);
  const body = await readBody(ctx.req, 64 * 1024);
  if (body.length > 0 || header(ctx, 'x-amz-acl') === undefined)
    throw new S3Error('NotImplemented', 'Access control policies are not implemented by this gateway');
  sendEmpty(ctx.res, 200);
}

/** GetBucketAcl / GetObjectAcl: the bucket's owner has FULL_CONTROL (of its objects too). */
export async function getAcl(ctx: Ctx): Promise<void> {
  if (ctx.key) await statObject(ctx, ctx.key);
  const o = ownerFields(await ownerOf(ctx));
  const who = `<ID>${esc(o.ID)}</ID><DisplayName>${esc(o.DisplayName)}</DisplayName>`;
  // Written by hand: the Grantee needs its xsi:type attribute.
  sendXml(
    ctx.res,
    200,
    '<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Owner>${who}</Owner><AccessControlList><Grant>` +
      `<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">${who}</Grantee>` +
      '<Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>',
  );
}
