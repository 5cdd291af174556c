import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Grant } from '../../src/gateway/s3/acl-grants.js';
import { type BucketAccess, decide, type PublicAccessBlock } from '../../src/gateway/s3/authorize.js';
import { parsePolicy } from '../../src/gateway/s3/policy.js';
import { type Principal, ROOT_PRINCIPAL } from '../../src/gateway/s3/users.js';

/**
 * The table the decide() tests are written in (authorize.test.ts, authorize-policy.test.ts): the
 * callers (root, alice who owns the bucket, bob, anonymous), builders of a bucket's access facts,
 * the policies the rows use, and check(): one test per table, every row's verdict compared.
 */

export const alice: Principal = { name: 'alice', root: false };
export const bob: Principal = { name: 'bob', root: false };
export const root = ROOT_PRINCIPAL;
export const anon = undefined;

export const B = 'photos';

export function policy(...statements: Record<string, unknown>[]) {
  return parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), B);
}
export const pab = (p: Partial<PublicAccessBlock>): PublicAccessBlock => ({
  BlockPublicAcls: false,
  IgnorePublicAcls: false,
  BlockPublicPolicy: false,
  RestrictPublicBuckets: false,
  ...p,
});
export const user = (name: string, permission: Grant['permission']): Grant => ({
  grantee: { user: name },
  permission,
});
export const group = (g: 'AllUsers' | 'AuthenticatedUsers', permission: Grant['permission']): Grant => ({
  grantee: { group: g },
  permission,
});
export const bucket = (extra: Partial<BucketAccess> = {}): BucketAccess => ({
  owner: 'alice',
  anonymousRead: false,
  ...extra,
});

export interface Row {
  readonly who: Principal | undefined;
  readonly action: string;
  readonly key?: string;
  readonly bucket?: BucketAccess | undefined;
  readonly bucketName?: string;
  readonly ip?: string;
  readonly prefix?: string;
  readonly objectGrants?: readonly Grant[];
  /** The object's recorded owner (its writer), when it has one. */
  readonly objectOwner?: string;
  /** The rule that allows, "deny" (nothing allowed) or "explicit deny" (a policy Deny matched). */
  readonly expect: string;
}

export function verdict(r: Row): string {
  const d = decide(
    {
      principal: r.who,
      action: r.action,
      bucket: r.bucketName ?? B,
      key: r.key ?? '',
      sourceIp: r.ip,
      prefix: r.prefix,
      objectGrants: r.objectGrants,
      objectOwner: r.objectOwner,
    },
    'bucket' in r ? r.bucket : bucket(),
  );
  return d.allow ? d.rule : d.explicit ? 'explicit deny' : 'deny';
}

export function check(name: string, rows: readonly Row[]): void {
  test(name, () => {
    const failures: string[] = [];
    rows.forEach((r, i) => {
      const got = verdict(r);
      if (got !== r.expect)
        failures.push(
          `row ${i}: ${r.who?.name ?? 'anonymous'} ${r.action} ${r.key ?? ''} → ${got}, expected ${r.expect}`,
        );
    });
    assert.deepEqual(failures, []);
  });
}

export const readPolicy = policy({
  Effect: 'Allow',
  Principal: { AWS: ['bob'] },
  Action: ['s3:GetObject', 's3:ListBucket'],
  Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`],
});
export const denyBobAll = policy({
  Effect: 'Deny',
  Principal: { AWS: 'bob' },
  Action: 's3:*',
  Resource: `arn:aws:s3:::${B}/*`,
});
export const denyEveryoneDelete = policy({
  Effect: 'Deny',
  Principal: '*',
  Action: ['s3:DeleteObject', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy'],
  Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`],
});
export const publicRead = policy({
  Effect: 'Allow',
  Principal: '*',
  Action: 's3:GetObject',
  Resource: `arn:aws:s3:::${B}/*`,
});
export const lanRead = policy({
  Effect: 'Allow',
  Principal: '*',
  Action: 's3:GetObject',
  Resource: `arn:aws:s3:::${B}/*`,
  Condition: { IpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '2001:db8::/32'] } },
});
export const offsiteDeny = policy({
  Effect: 'Deny',
  Principal: '*',
  Action: 's3:*',
  Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`],
  Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
});
export const homeDirs = policy({
  Effect: 'Allow',
  Principal: { AWS: 'arn:aws:iam::123456789012:user/bob' },
  Action: 's3:*',
  Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/home/bob/*`],
  Condition: { StringLike: { 's3:prefix': ['home/bob/*', 'home/bob/'] } },
});
export const listOnlyHome = policy({
  Effect: 'Allow',
  Principal: { AWS: 'bob' },
  Action: 's3:ListBucket',
  Resource: `arn:aws:s3:::${B}`,
  Condition: { StringEquals: { 's3:prefix': 'home/bob/' } },
});
export const prefixBypass = policy({
  Effect: 'Allow',
  Principal: { AWS: 'bob' },
  Action: 's3:*',
  Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`],
  Condition: { StringLike: { 's3:prefix': 'home/bob/*' } },
});
export const wildcardActions = policy({
  Effect: 'Allow',
  Principal: { CanonicalUser: 'bob' },
  Action: 'S3:Get*',
  Resource: `arn:aws:s3:::${B}/pub/?.txt`,
});
export const bobAll = policy({
  Effect: 'Allow',
  Principal: { AWS: 'bob' },
  Action: ['s3:*'],
  Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`],
});
export const denySecretListing = policy({
  Effect: 'Deny',
  Principal: '*',
  Action: 's3:ListBucket',
  Resource: `arn:aws:s3:::${B}`,
  Condition: { StringEquals: { 's3:prefix': 'secret/' } },
});
