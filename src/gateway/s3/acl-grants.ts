import { S3Error } from './errors.js';
import { esc, type XmlElement } from './xml.js';

/**
 * ACL grants: what canned ACLs, `x-amz-grant-*` headers and AccessControlPolicy documents mean,
 * kept as a list of grants beside the owner's implicit FULL_CONTROL (bucket settings for a
 * bucket, the sidecar for an object) and read by authorize.ts.
 */

export type Permission = 'FULL_CONTROL' | 'READ' | 'WRITE' | 'READ_ACP' | 'WRITE_ACP';
export type GroupName = 'AllUsers' | 'AuthenticatedUsers' | 'LogDelivery';
export type Grantee = { readonly user: string } | { readonly group: GroupName };

export interface Grant {
  readonly grantee: Grantee;
  readonly permission: Permission;
}

const PERMISSIONS: readonly Permission[] = ['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP'];
const GROUP_PREFIX = 'http://acs.amazonaws.com/groups/';
const GROUP_URIS: Readonly<Record<GroupName, string>> = {
  AllUsers: `${GROUP_PREFIX}global/AllUsers`,
  AuthenticatedUsers: `${GROUP_PREFIX}global/AuthenticatedUsers`,
  LogDelivery: `${GROUP_PREFIX}s3/LogDelivery`,
};

export const CANNED_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'aws-exec-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
  'log-delivery-write',
] as const;
export type CannedAcl = (typeof CANNED_ACLS)[number];

export function isCannedAcl(value: string): value is CannedAcl {
  return (CANNED_ACLS as readonly string[]).includes(value);
}

/**
 * The grants a canned ACL adds to the owner's. Objects are owned by their bucket's owner here,
 * so bucket-owner-read/-full-control add nothing, and aws-exec-read's EC2 grantee does not exist.
 */
export function cannedGrants(acl: CannedAcl): Grant[] {
  const all = (permission: Permission, group: GroupName = 'AllUsers'): Grant => ({
    grantee: { group },
    permission,
  });
  switch (acl) {
    case 'public-read':
      return [all('READ')];
    case 'public-read-write':
      return [all('READ'), all('WRITE')];
    case 'authenticated-read':
      return [all('READ', 'AuthenticatedUsers')];
    case 'log-delivery-write':
      return [all('WRITE', 'LogDelivery'), all('READ_ACP', 'LogDelivery')];
    default:
      return [];
  }
}

function groupOf(uri: string): GroupName {
  const found = (Object.keys(GROUP_URIS) as GroupName[]).find((g) => GROUP_URIS[g] === uri);
  if (found === undefined) throw new S3Error('InvalidArgument', `Invalid group uri: ${uri}`);
  return found;
}

/** One `x-amz-grant-<permission>` header: `id="alice", uri="http://acs…/AllUsers"`. */
export function parseGrantHeader(permission: Permission, value: string): Grant[] {
  const out: Grant[] = [];
  for (const part of value.split(',')) {
    const m = /^\s*(id|uri|emailAddress)\s*=\s*"?([^"]*)"?\s*$/i.exec(part);
    if (!m) throw new S3Error('InvalidArgument', `Invalid grantee in x-amz-grant header: ${part.trim()}`);
    const kind = m[1]!.toLowerCase();
    const v = m[2]!;
    if (kind === 'emailaddress')
      throw new S3Error(
        'UnresolvableGrantByEmailAddress',
        'The e-mail address you provided does not match any account on record.',
      );
    out.push({ grantee: kind === 'id' ? { user: v } : { group: groupOf(v) }, permission });
  }
  return out;
}

/** The grants of the request's x-amz-acl / x-amz-grant-* headers; undefined when it has none. */
export function grantsFromHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): { canned?: CannedAcl; grants: Grant[] } | undefined {
  const one = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
  const acl = one('x-amz-acl');
  const grants: Grant[] = [];
  for (const p of PERMISSIONS) {
    const v = one(`x-amz-grant-${p.toLowerCase().replace('_', '-')}`);
    if (v !== undefined) grants.push(...parseGrantHeader(p, v));
  }
  if (acl === undefined && grants.length === 0) return undefined;
  if (acl !== undefined) {
    if (!isCannedAcl(acl)) throw new S3Error('InvalidArgument', `Unknown canned ACL: ${acl}`);
    if (grants.length > 0)
      throw new S3Error('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed');
    return { canned: acl, grants: cannedGrants(acl) };
  }
  return { grants };
}

/** The grants of an AccessControlPolicy document; the owner's own FULL_CONTROL grant is implied. */
export function grantsFromXml(doc: XmlElement, owner: string): Grant[] {
  const malformed = () =>
    new S3Error(
      'MalformedACLError',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  if (doc.name !== 'AccessControlPolicy') throw malformed();
  const ownerId = doc.children
    .find((c) => c.name === 'Owner')
    ?.children.find((c) => c.name === 'ID')
    ?.text.trim();
  if (ownerId !== undefined && ownerId !== owner) throw new S3Error('AccessDenied', 'Access Denied');
  const list = doc.children.find((c) => c.name === 'AccessControlList');
  const out: Grant[] = [];
  for (const g of list?.children.filter((c) => c.name === 'Grant') ?? []) {
    const grantee = g.children.find((c) => c.name === 'Grantee');
    const permission = g.children.find((c) => c.name === 'Permission')?.text.trim() as Permission | undefined;
    if (grantee === undefined || permission === undefined || !PERMISSIONS.includes(permission))
      throw malformed();
    const id = grantee.children.find((c) => c.name === 'ID')?.text.trim();
    const uri = grantee.children.find((c) => c.name === 'URI')?.text.trim();
    if (grantee.children.some((c) => c.name === 'EmailAddress'))
      throw new S3Error(
        'UnresolvableGrantByEmailAddress',
        'The e-mail address you provided does not match any account on record.',
      );
    if (id !== undefined) {
      if (id !== owner || permission !== 'FULL_CONTROL') out.push({ grantee: { user: id }, permission });
    } else if (uri !== undefined) out.push({ grantee: { group: groupOf(uri) }, permission });
    else throw malformed();
  }
  return out;
}

/** The grants a grantee has from a list, for a principal (undefined: anonymous). */
export function permissionsOf(grants: readonly Grant[], user: string | undefined): Set<Permission> {
  const out = new Set<Permission>();
  for (const g of grants) {
    const applies =
      'user' in g.grantee
        ? g.grantee.user === user
        : g.grantee.group === 'AllUsers' || (g.grantee.group === 'AuthenticatedUsers' && user !== undefined);
    if (applies) out.add(g.permission);
  }
  return out;
}

/** A grant to everyone (AllUsers, or AuthenticatedUsers: anyone with any key). */
export function isPublicGrant(g: Grant): boolean {
  return 'group' in g.grantee && (g.grantee.group === 'AllUsers' || g.grantee.group === 'AuthenticatedUsers');
}

/** The AccessControlPolicy XML: the owner's FULL_CONTROL, then the stored grants. */
export function aclXml(owner: string, grants: readonly Grant[]): string {
  const who = `<ID>${esc(owner)}</ID><DisplayName>${esc(owner)}</DisplayName>`;
  const xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
  let body = `<Grant><Grantee ${xsi} xsi:type="CanonicalUser">${who}</Grantee><Permission>FULL_CONTROL</Permission></Grant>`;
  for (const g of grants) {
    const grantee =
      'user' in g.grantee
        ? `<Grantee ${xsi} xsi:type="CanonicalUser"><ID>${esc(g.grantee.user)}</ID><DisplayName>${esc(g.grantee.user)}</DisplayName></Grantee>`
        : `<Grantee ${xsi} xsi:type="Group"><URI>${GROUP_URIS[g.grantee.group]}</URI></Grantee>`;
    body += `<Grant>${grantee}<Permission>${g.permission}</Permission></Grant>`;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner>${who}</Owner><AccessControlList>${body}</AccessControlList></AccessControlPolicy>`;
}
