import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Grant } from '../../src/gateway/s3/acl-grants.js';
import {
  actionOf,
  type BucketAccess,
  decide,
  type PublicAccessBlock,
} from '../../src/gateway/s3/authorize.js';
import { S3Error } from '../../src/gateway/s3/errors.js';
import { isPublicStatement, parsePolicy } from '../../src/gateway/s3/policy.js';
import { type Principal, ROOT_PRINCIPAL } from '../../src/gateway/s3/users.js';

/**
 * decide() as a table: who (root, the bucket's owner alice, another user bob, anonymous) may do
 * what (an IAM action on the bucket or a key) given the bucket's ACL grants, an object's grants,
 * its policy (Principal, Action, Resource, aws:SourceIp, s3:prefix), public access block and
 * ownership controls. Each row names the rule that must allow, or "deny" / "explicit deny".
 */

const alice: Principal = { name: 'alice', root: false };
const bob: Principal = { name: 'bob', root: false };
const root = ROOT_PRINCIPAL;
const anon = undefined;

const B = 'photos';

function policy(...statements: Record<string, unknown>[]) {
  return parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), B);
}
const pab = (p: Partial<PublicAccessBlock>): PublicAccessBlock => ({
  BlockPublicAcls: false,
  IgnorePublicAcls: false,
  BlockPublicPolicy: false,
  RestrictPublicBuckets: false,
  ...p,
});
const user = (name: string, permission: Grant['permission']): Grant => ({
  grantee: { user: name },
  permission,
});
const group = (g: 'AllUsers' | 'AuthenticatedUsers', permission: Grant['permission']): Grant => ({
  grantee: { group: g },
  permission,
});
const bucket = (extra: Partial<BucketAccess> = {}): BucketAccess => ({
  owner: 'alice',
  anonymousRead: false,
  ...extra,
});

interface Row {
  readonly who: Principal | undefined;
  readonly action: string;
  readonly key?: string;
  readonly bucket?: BucketAccess | undefined;
  readonly bucketName?: string;
  readonly ip?: string;
  readonly prefix?: string;
  readonly objectGrants?: readonly Grant[];
  /** The rule that allows, "deny" (nothing allowed) or "explicit deny" (a policy Deny matched). */
  readonly expect: string;
}

function verdict(r: Row): string {
  const d = decide(
    {
      principal: r.who,
      action: r.action,
      bucket: r.bucketName ?? B,
      key: r.key ?? '',
      sourceIp: r.ip,
      prefix: r.prefix,
      objectGrants: r.objectGrants,
    },
    'bucket' in r ? r.bucket : bucket(),
  );
  return d.allow ? d.rule : d.explicit ? 'explicit deny' : 'deny';
}

function check(name: string, rows: readonly Row[]): void {
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

const readPolicy = policy({
  Effect: 'Allow',
  Principal: { AWS: ['bob'] },
  Action: ['s3:GetObject', 's3:ListBucket'],
  Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`],
});
const denyBobAll = policy({
  Effect: 'Deny',
  Principal: { AWS: 'bob' },
  Action: 's3:*',
  Resource: `arn:aws:s3:::${B}/*`,
});
const denyEveryoneDelete = policy({
  Effect: 'Deny',
  Principal: '*',
  Action: ['s3:DeleteObject', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy'],
  Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`],
});
const publicRead = policy({
  Effect: 'Allow',
  Principal: '*',
  Action: 's3:GetObject',
  Resource: `arn:aws:s3:::${B}/*`,
});
const lanRead = policy({
  Effect: 'Allow',
  Principal: '*',
  Action: 's3:GetObject',
  Resource: `arn:aws:s3:::${B}/*`,
  Condition: { IpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '2001:db8::/32'] } },
});
const offsiteDeny = policy({
  Effect: 'Deny',
  Principal: '*',
  Action: 's3:*',
  Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`],
  Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
});
const homeDirs = policy({
  Effect: 'Allow',
  Principal: { AWS: 'arn:aws:iam::123456789012:user/bob' },
  Action: 's3:*',
  Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/home/bob/*`],
  Condition: { StringLike: { 's3:prefix': ['home/bob/*', 'home/bob/'] } },
});
const listOnlyHome = policy({
  Effect: 'Allow',
  Principal: { AWS: 'bob' },
  Action: 's3:ListBucket',
  Resource: `arn:aws:s3:::${B}`,
  Condition: { StringEquals: { 's3:prefix': 'home/bob/' } },
});
const prefixBypass = policy({
  Effect: 'Allow',
  Principal: { AWS: 'bob' },
  Action: 's3:*',
  Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`],
  Condition: { StringLike: { 's3:prefix': 'home/bob/*' } },
});
const wildcardActions = policy({
  Effect: 'Allow',
  Principal: { CanonicalUser: 'bob' },
  Action: 'S3:Get*',
  Resource: `arn:aws:s3:::${B}/pub/?.txt`,
});
const bobAll = policy({
  Effect: 'Allow',
  Principal: { AWS: 'bob' },
  Action: ['s3:*'],
  Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`],
});
const denySecretListing = policy({
  Effect: 'Deny',
  Principal: '*',
  Action: 's3:ListBucket',
  Resource: `arn:aws:s3:::${B}`,
  Condition: { StringEquals: { 's3:prefix': 'secret/' } },
});

describe('decide(): who may do what', () => {
  check('callers without grants: root everything, the owner her bucket, others and anonymous nothing', [
    { who: root, action: 's3:DeleteBucket', expect: 'root' },
    {
      who: root,
      action: 's3:GetObject',
      key: 'k',
      bucket: bucket({ policy: denyEveryoneDelete }),
      expect: 'root',
    },
    {
      who: root,
      action: 's3:DeleteObject',
      key: 'k',
      bucket: bucket({ policy: denyEveryoneDelete }),
      expect: 'root',
    },
    { who: alice, action: 's3:GetObject', key: 'k', expect: 'owner' },
    { who: alice, action: 's3:PutObject', key: 'k', expect: 'owner' },
    { who: alice, action: 's3:DeleteBucket', expect: 'owner' },
    { who: alice, action: 's3:PutBucketPolicy', expect: 'owner' },
    { who: bob, action: 's3:GetObject', key: 'k', expect: 'deny' },
    { who: bob, action: 's3:ListBucket', expect: 'deny' },
    { who: bob, action: 's3:PutObject', key: 'k', expect: 'deny' },
    { who: bob, action: 's3:DeleteBucket', expect: 'deny' },
    { who: bob, action: 's3:GetBucketAcl', expect: 'deny' },
    { who: anon, action: 's3:GetObject', key: 'k', expect: 'deny' },
    { who: anon, action: 's3:ListBucket', expect: 'deny' },
    // Not addressed to a bucket: any signed user lists (what it may see) and creates.
    { who: bob, action: 's3:ListAllMyBuckets', bucketName: '', bucket: undefined, expect: 'any user' },
    { who: bob, action: 's3:CreateBucket', bucketName: 'new', bucket: undefined, expect: 'any user' },
    { who: anon, action: 's3:ListAllMyBuckets', bucketName: '', bucket: undefined, expect: 'deny' },
    { who: anon, action: 's3:CreateBucket', bucketName: 'new', bucket: undefined, expect: 'deny' },
    // A bucket that does not exist: nobody but root.
    { who: bob, action: 's3:GetObject', key: 'k', bucket: undefined, expect: 'deny' },
    { who: anon, action: 's3:ListBucket', bucket: undefined, expect: 'deny' },
  ]);

  check('bucket ACL grants: READ lists, WRITE writes, *_ACP the ACL, FULL_CONTROL all of them', [
    ...[
      ['s3:ListBucket', '', 'bucket ACL'],
      ['s3:ListBucketMultipartUploads', '', 'bucket ACL'],
      ['s3:GetObject', 'k', 'deny'], // a bucket's READ is not its objects'
      ['s3:PutObject', 'k', 'deny'],
      ['s3:GetBucketAcl', '', 'deny'],
    ].map(([action, key, expect]) => ({
      who: bob,
      action: action!,
      key: key!,
      bucket: bucket({ grants: [user('bob', 'READ')] }),
      expect: expect!,
    })),
    ...[
      ['s3:PutObject', 'k', 'bucket ACL'],
      ['s3:DeleteObject', 'k', 'bucket ACL'],
      ['s3:AbortMultipartUpload', 'k', 'bucket ACL'],
      ['s3:ListBucket', '', 'deny'],
      ['s3:GetObject', 'k', 'deny'],
    ].map(([action, key, expect]) => ({
      who: bob,
      action: action!,
      key: key!,
      bucket: bucket({ grants: [user('bob', 'WRITE')] }),
      expect: expect!,
    })),
    {
      who: bob,
      action: 's3:GetBucketAcl',
      bucket: bucket({ grants: [user('bob', 'READ_ACP')] }),
      expect: 'bucket ACL',
    },
    {
      who: bob,
      action: 's3:PutBucketAcl',
      bucket: bucket({ grants: [user('bob', 'READ_ACP')] }),
      expect: 'deny',
    },
    {
      who: bob,
      action: 's3:PutBucketAcl',
      bucket: bucket({ grants: [user('bob', 'WRITE_ACP')] }),
      expect: 'bucket ACL',
    },
    ...['s3:ListBucket', 's3:PutBucketAcl', 's3:GetBucketAcl'].map((action) => ({
      who: bob,
      action,
      bucket: bucket({ grants: [user('bob', 'FULL_CONTROL')] }),
      expect: 'bucket ACL',
    })),
    {
      who: bob,
      action: 's3:PutObject',
      key: 'k',
      bucket: bucket({ grants: [user('bob', 'FULL_CONTROL')] }),
      expect: 'bucket ACL',
    },
    // FULL_CONTROL of the ACL is not the owner's rights: the policy and the bucket stay hers.
    {
      who: bob,
      action: 's3:PutBucketPolicy',
      bucket: bucket({ grants: [user('bob', 'FULL_CONTROL')] }),
      expect: 'deny',
    },
    {
      who: bob,
      action: 's3:DeleteBucket',
      bucket: bucket({ grants: [user('bob', 'FULL_CONTROL')] }),
      expect: 'deny',
    },
    // A grant to someone else gives bob nothing.
    {
      who: bob,
      action: 's3:ListBucket',
      bucket: bucket({ grants: [user('carol', 'FULL_CONTROL')] }),
      expect: 'deny',
    },
    // Groups: AllUsers is everyone, AuthenticatedUsers every signed caller.
    {
      who: anon,
      action: 's3:ListBucket',
      bucket: bucket({ grants: [group('AllUsers', 'READ')] }),
      expect: 'bucket ACL',
    },
    {
      who: anon,
      action: 's3:PutObject',
      key: 'k',
      bucket: bucket({ grants: [group('AllUsers', 'READ')] }),
      expect: 'deny',
    },
    {
      who: anon,
      action: 's3:PutObject',
      key: 'k',
      bucket: bucket({ grants: [group('AllUsers', 'WRITE')] }),
      expect: 'bucket ACL',
    },
    {
      who: bob,
      action: 's3:ListBucket',
      bucket: bucket({ grants: [group('AuthenticatedUsers', 'READ')] }),
      expect: 'bucket ACL',
    },
    {
      who: anon,
      action: 's3:ListBucket',
      bucket: bucket({ grants: [group('AuthenticatedUsers', 'READ')] }),
      expect: 'deny',
    },
  ]);

  check('object ACL grants: READ reads the object, *_ACP its ACL', [
    { who: bob, action: 's3:GetObject', key: 'k', objectGrants: [user('bob', 'READ')], expect: 'object ACL' },
    {
      who: bob,
      action: 's3:GetObjectAttributes',
      key: 'k',
      objectGrants: [user('bob', 'READ')],
      expect: 'object ACL',
    },
    {
      who: bob,
      action: 's3:PutObject',
      key: 'k',
      objectGrants: [user('bob', 'FULL_CONTROL')],
      expect: 'deny',
    },
    { who: bob, action: 's3:GetObjectAcl', key: 'k', objectGrants: [user('bob', 'READ')], expect: 'deny' },
    {
      who: bob,
      action: 's3:GetObjectAcl',
      key: 'k',
      objectGrants: [user('bob', 'READ_ACP')],
      expect: 'object ACL',
    },
    {
      who: bob,
      action: 's3:PutObjectAcl',
      key: 'k',
      objectGrants: [user('bob', 'WRITE_ACP')],
      expect: 'object ACL',
    },
    {
      who: bob,
      action: 's3:GetObject',
      key: 'k',
      objectGrants: [user('bob', 'FULL_CONTROL')],
      expect: 'object ACL',
    },
    {
      who: anon,
      action: 's3:GetObject',
      key: 'k',
      objectGrants: [group('AllUsers', 'READ')],
      expect: 'object ACL',
    },
    { who: anon, action: 's3:GetObject', key: 'k', objectGrants: [user('bob', 'READ')], expect: 'deny' },
    // An object's grants never reach the bucket.
    { who: bob, action: 's3:ListBucket', objectGrants: [user('bob', 'FULL_CONTROL')], expect: 'deny' },
  ]);

  check(
    'public access block: IgnorePublicAcls drops public grants and anonymous read, RestrictPublicBuckets public policies',
    [
      ...[
        { g: [group('AllUsers', 'READ')], who: anon },
        { g: [group('AuthenticatedUsers', 'READ')], who: bob },
      ].flatMap(({ g, who }) => [
        { who, action: 's3:ListBucket', bucket: bucket({ grants: g }), expect: 'bucket ACL' },
        {
          who,
          action: 's3:ListBucket',
          bucket: bucket({ grants: g, publicAccessBlock: pab({ IgnorePublicAcls: true }) }),
          expect: 'deny',
        },
        // BlockPublicAcls refuses new public ACLs (acl.ts); it does not ignore stored ones.
        {
          who,
          action: 's3:ListBucket',
          bucket: bucket({ grants: g, publicAccessBlock: pab({ BlockPublicAcls: true }) }),
          expect: 'bucket ACL',
        },
      ]),
      {
        who: anon,
        action: 's3:GetObject',
        key: 'k',
        objectGrants: [group('AllUsers', 'READ')],
        bucket: bucket({ publicAccessBlock: pab({ IgnorePublicAcls: true }) }),
        expect: 'deny',
      },
      // A grant to a named user is not public: IgnorePublicAcls keeps it.
      {
        who: bob,
        action: 's3:ListBucket',
        bucket: bucket({ grants: [user('bob', 'READ')], publicAccessBlock: pab({ IgnorePublicAcls: true }) }),
        expect: 'bucket ACL',
      },
      {
        who: bob,
        action: 's3:GetObject',
        key: 'k',
        objectGrants: [user('bob', 'READ')],
        bucket: bucket({ publicAccessBlock: pab({ IgnorePublicAcls: true, RestrictPublicBuckets: true }) }),
        expect: 'object ACL',
      },
      // Anonymous read (strata fs anonymous) is a public-read ACL: IgnorePublicAcls drops it too.
      {
        who: anon,
        action: 's3:GetObject',
        key: 'k',
        bucket: bucket({ anonymousRead: true }),
        expect: 'anonymous read',
      },
      {
        who: anon,
        action: 's3:ListBucket',
        bucket: bucket({ anonymousRead: true }),
        expect: 'anonymous read',
      },
      {
        who: anon,
        action: 's3:PutObject',
        key: 'k',
        bucket: bucket({ anonymousRead: true }),
        expect: 'deny',
      },
      {
        who: anon,
        action: 's3:DeleteObject',
        key: 'k',
        bucket: bucket({ anonymousRead: true }),
        expect: 'deny',
      },
      {
        who: anon,
        action: 's3:GetObject',
        key: 'k',
        bucket: bucket({ anonymousRead: true, publicAccessBlock: pab({ IgnorePublicAcls: true }) }),
        expect: 'deny',
      },
      // Public policy statements.
      {
        who: anon,
        action: 's3:GetObject',
        key: 'k',
        bucket: bucket({ policy: publicRead }),
        expect: 'bucket policy',
      },
      {
        who: bob,
        action: 's3:GetObject',
        key: 'k',
        bucket: bucket({ policy: publicRead }),
        expect: 'bucket policy',
      },
      {
        who: anon,
        action: 's3:GetObject',
        key: 'k',
        bucket: bucket({ policy: publicRead, publicAccessBlock: pab({ RestrictPublicBuckets: true }) }),
        expect: 'deny',
      },
      {
        who: anon,
        action: 's3:GetObject',
        key: 'k',
        bucket: bucket({
          policy: publicRead,
          publicAccessBlock: pab({ IgnorePublicAcls: true, BlockPublicPolicy: true }),
        }),
        expect: 'bucket policy',
      },
      // A statement narrowed to addresses is not public: RestrictPublicBuckets keeps it.
      {
        who: anon,
        action: 's3:GetObject',
        key: 'k',
        ip: '127.0.0.1',
        bucket: bucket({ policy: lanRead, publicAccessBlock: pab({ RestrictPublicBuckets: true }) }),
        expect: 'bucket policy',
      },
      // A named user's statement is not public either.
      {
        who: bob,
        action: 's3:GetObject',
        key: 'k',
        bucket: bucket({ policy: readPolicy, publicAccessBlock: pab({ RestrictPublicBuckets: true }) }),
        expect: 'bucket policy',
      },
      // The owner keeps her bucket whatever the block says.
      {
        who: alice,
        action: 's3:GetObject',
        key: 'k',
        bucket: bucket({ publicAccessBlock: pab({ IgnorePublicAcls: true, RestrictPublicBuckets: true }) }),
        expect: 'owner',
      },
    ],
  );

  check('ownership controls: BucketOwnerEnforced switches every ACL off, the owner keeps all', [
    {
      who: bob,
      action: 's3:ListBucket',
      bucket: bucket({ grants: [user('bob', 'READ')], ownership: 'BucketOwnerEnforced' }),
      expect: 'deny',
    },
    {
      who: bob,
      action: 's3:GetObject',
      key: 'k',
      objectGrants: [user('bob', 'READ')],
      bucket: bucket({ ownership: 'BucketOwnerEnforced' }),
      expect: 'deny',
    },
    {
      who: anon,
      action: 's3:GetObject',
      key: 'k',
      objectGrants: [group('AllUsers', 'READ')],
      bucket: bucket({ ownership: 'BucketOwnerEnforced' }),
      expect: 'deny',
    },
    {
      who: bob,
      action: 's3:ListBucket',
      bucket: bucket({ grants: [user('bob', 'READ')], ownership: 'BucketOwnerPreferred' }),
      expect: 'bucket ACL',
    },
    {
      who: bob,
      action: 's3:ListBucket',
      bucket: bucket({ grants: [user('bob', 'READ')], ownership: 'ObjectWriter' }),
      expect: 'bucket ACL',
    },
    {
      who: alice,
      action: 's3:PutObject',
      key: 'k',
      bucket: bucket({ ownership: 'BucketOwnerEnforced' }),
      expect: 'owner',
    },
    // Policies still apply.
    {
      who: bob,
      action: 's3:GetObject',
      key: 'k',
      bucket: bucket({ policy: readPolicy, ownership: 'BucketOwnerEnforced' }),
      expect: 'bucket policy',
    },
  ]);

  check('policy Allow: Principal, Action (wildcards, any case), Resource patterns', [
    {
      who: bob,
      action: 's3:GetObject',
      key: 'any/key',
      bucket: bucket({ policy: readPolicy }),
      expect: 'bucket policy',
    },
    { who: bob, action: 's3:ListBucket', bucket: bucket({ policy: readPolicy }), expect: 'bucket policy' },
    { who: bob, action: 's3:PutObject', key: 'k', bucket: bucket({ policy: readPolicy }), expect: 'deny' },
    { who: bob, action: 's3:DeleteObject', key: 'k', bucket: bucket({ policy: readPolicy }), expect: 'deny' },
    { who: bob, action: 's3:PutBucketPolicy', bucket: bucket({ policy: readPolicy }), expect: 'deny' },
    {
      who: { name: 'carol', root: false },
      action: 's3:GetObject',
      key: 'k',
      bucket: bucket({ policy: readPolicy }),
      expect: 'deny',
    },
    { who: anon, action: 's3:GetObject', key: 'k', bucket: bucket({ policy: readPolicy }), expect: 'deny' },
    // s3:Get* on pub/?.txt: one character, any Get action, that resource only.
    {
      who: bob,
      action: 's3:GetObject',
      key: 'pub/a.txt',
      bucket: bucket({ policy: wildcardActions }),
      expect: 'bucket policy',
    },
    {
      who: bob,
      action: 's3:GetObjectTagging',
      key: 'pub/a.txt',
      bucket: bucket({ policy: wildcardActions }),
      expect: 'bucket policy',
    },
    {
      who: bob,
      action: 's3:GetObject',
      key: 'pub/ab.txt',
      bucket: bucket({ policy: wildcardActions }),
      expect: 'deny',
    },
    {
      who: bob,
      action: 's3:GetObject',
      key: 'pub/a.txt.bak',
      bucket: bucket({ policy: wildcardActions }),
      expect: 'deny',
    },
    {
      who: bob,
      action: 's3:PutObject',
      key: 'pub/a.txt',
      bucket: bucket({ policy: wildcardActions }),
      expect: 'deny',
    },
    { who: bob, action: 's3:ListBucket', bucket: bucket({ policy: wildcardActions }), expect: 'deny' },
    // A policy cannot hand its own administration out: s3:* stops short of it.
    { who: bob, action: 's3:GetBucketPolicy', bucket: bucket({ policy: bobAll }), expect: 'deny' },
    { who: bob, action: 's3:PutBucketPolicy', bucket: bucket({ policy: bobAll }), expect: 'deny' },
    { who: bob, action: 's3:DeleteBucketPolicy', bucket: bucket({ policy: bobAll }), expect: 'deny' },
    { who: bob, action: 's3:GetBucketAcl', bucket: bucket({ policy: bobAll }), expect: 'bucket policy' },
    {
      who: bob,
      action: 's3:PutObject',
      key: 'k',
      bucket: bucket({ policy: bobAll }),
      expect: 'bucket policy',
    },
  ]);

  check(
    'explicit Deny beats every Allow: owner, ACL, policy, anonymous read; never root; the owner keeps the policy',
    [
      {
        who: bob,
        action: 's3:GetObject',
        key: 'k',
        bucket: bucket({ policy: denyBobAll, grants: [user('bob', 'FULL_CONTROL')] }),
        expect: 'explicit deny',
      },
      {
        who: bob,
        action: 's3:GetObject',
        key: 'k',
        objectGrants: [user('bob', 'READ')],
        bucket: bucket({ policy: denyBobAll }),
        expect: 'explicit deny',
      },
      {
        who: bob,
        action: 's3:ListBucket',
        bucket: bucket({ policy: denyBobAll, grants: [user('bob', 'READ')] }),
        expect: 'bucket ACL',
      },
      {
        who: alice,
        action: 's3:DeleteObject',
        key: 'k',
        bucket: bucket({ policy: denyEveryoneDelete }),
        expect: 'explicit deny',
      },
      {
        who: alice,
        action: 's3:GetObject',
        key: 'k',
        bucket: bucket({ policy: denyEveryoneDelete }),
        expect: 'owner',
      },
      {
        who: alice,
        action: 's3:PutBucketPolicy',
        bucket: bucket({ policy: denyEveryoneDelete }),
        expect: 'owner',
      },
      {
        who: alice,
        action: 's3:DeleteBucketPolicy',
        bucket: bucket({ policy: denyEveryoneDelete }),
        expect: 'owner',
      },
      {
        who: bob,
        action: 's3:DeleteBucketPolicy',
        bucket: bucket({ policy: denyEveryoneDelete, grants: [user('bob', 'FULL_CONTROL')] }),
        expect: 'explicit deny',
      },
      {
        who: anon,
        action: 's3:DeleteObject',
        key: 'k',
        bucket: bucket({ policy: denyEveryoneDelete, grants: [group('AllUsers', 'WRITE')] }),
        expect: 'explicit deny',
      },
      {
        who: anon,
        action: 's3:PutObject',
        key: 'k',
        bucket: bucket({ policy: denyEveryoneDelete, grants: [group('AllUsers', 'WRITE')] }),
        expect: 'bucket ACL',
      },
      { who: bob, action: 's3:CreateBucket', bucketName: 'new', bucket: undefined, expect: 'any user' },
      // Deny on addresses: only 10/8 may do anything, the owner included.
      {
        who: alice,
        action: 's3:GetObject',
        key: 'k',
        ip: '192.168.1.5',
        bucket: bucket({ policy: offsiteDeny }),
        expect: 'explicit deny',
      },
      {
        who: alice,
        action: 's3:GetObject',
        key: 'k',
        ip: '10.1.2.3',
        bucket: bucket({ policy: offsiteDeny }),
        expect: 'owner',
      },
      {
        who: alice,
        action: 's3:GetObject',
        key: 'k',
        ip: '::ffff:10.1.2.3',
        bucket: bucket({ policy: offsiteDeny }),
        expect: 'owner',
      },
      {
        who: anon,
        action: 's3:GetObject',
        key: 'k',
        ip: '192.168.1.5',
        bucket: bucket({ policy: offsiteDeny, anonymousRead: true }),
        expect: 'explicit deny',
      },
      {
        who: anon,
        action: 's3:GetObject',
        key: 'k',
        ip: '10.9.9.9',
        bucket: bucket({ policy: offsiteDeny, anonymousRead: true }),
        expect: 'anonymous read',
      },
      // A Deny whose condition key the request lacks does not match (IAM: the condition is false).
      { who: alice, action: 's3:ListBucket', bucket: bucket({ policy: denySecretListing }), expect: 'owner' },
      {
        who: alice,
        action: 's3:ListBucket',
        prefix: 'public/',
        bucket: bucket({ policy: denySecretListing }),
        expect: 'owner',
      },
      {
        who: alice,
        action: 's3:ListBucket',
        prefix: 'secret/',
        bucket: bucket({ policy: denySecretListing }),
        expect: 'explicit deny',
      },
    ],
  );

  check('conditions: aws:SourceIp (IPv4, IPv6, mapped) and s3:prefix (listings only)', [
    {
      who: anon,
      action: 's3:GetObject',
      key: 'k',
      ip: '127.0.0.1',
      bucket: bucket({ policy: lanRead }),
      expect: 'bucket policy',
    },
    {
      who: anon,
      action: 's3:GetObject',
      key: 'k',
      ip: '::ffff:127.0.0.1',
      bucket: bucket({ policy: lanRead }),
      expect: 'bucket policy',
    },
    {
      who: anon,
      action: 's3:GetObject',
      key: 'k',
      ip: '2001:db8::7',
      bucket: bucket({ policy: lanRead }),
      expect: 'bucket policy',
    },
    {
      who: anon,
      action: 's3:GetObject',
      key: 'k',
      ip: '192.0.2.1',
      bucket: bucket({ policy: lanRead }),
      expect: 'deny',
    },
    {
      who: anon,
      action: 's3:GetObject',
      key: 'k',
      ip: '2001:db9::7',
      bucket: bucket({ policy: lanRead }),
      expect: 'deny',
    },
    { who: anon, action: 's3:GetObject', key: 'k', bucket: bucket({ policy: lanRead }), expect: 'deny' },
    // Home directories: list own prefix only, read and write own keys only.
    {
      who: bob,
      action: 's3:ListBucket',
      prefix: 'home/bob/',
      bucket: bucket({ policy: homeDirs }),
      expect: 'bucket policy',
    },
    {
      who: bob,
      action: 's3:ListBucket',
      prefix: 'home/bob/photos/',
      bucket: bucket({ policy: homeDirs }),
      expect: 'bucket policy',
    },
    {
      who: bob,
      action: 's3:ListBucket',
      prefix: 'home/alice/',
      bucket: bucket({ policy: homeDirs }),
      expect: 'deny',
    },
    { who: bob, action: 's3:ListBucket', bucket: bucket({ policy: homeDirs }), expect: 'deny' },
    {
      who: bob,
      action: 's3:ListBucket',
      prefix: 'home/bob/',
      bucket: bucket({ policy: listOnlyHome }),
      expect: 'bucket policy',
    },
    {
      who: bob,
      action: 's3:ListBucket',
      prefix: 'home/bob/x',
      bucket: bucket({ policy: listOnlyHome }),
      expect: 'deny',
    },
    // s3:prefix belongs to listings: a ?prefix= on an object request never satisfies it.
    {
      who: bob,
      action: 's3:GetObject',
      key: 'home/alice/secret',
      prefix: 'home/bob/',
      bucket: bucket({ policy: prefixBypass }),
      expect: 'deny',
    },
    {
      who: bob,
      action: 's3:PutObject',
      key: 'home/alice/secret',
      prefix: 'home/bob/',
      bucket: bucket({ policy: prefixBypass }),
      expect: 'deny',
    },
    {
      who: bob,
      action: 's3:ListBucket',
      prefix: 'home/bob/',
      bucket: bucket({ policy: prefixBypass }),
      expect: 'bucket policy',
    },
    {
      who: bob,
      action: 's3:ListBucketVersions',
      prefix: 'home/bob/',
      bucket: bucket({ policy: prefixBypass }),
      expect: 'bucket policy',
    },
  ]);
});

describe('policy documents: the supported subset, everything else MalformedPolicy', () => {
  const doc = (statement: Record<string, unknown>) =>
    JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
  const base = { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` };

  test('refused with a reason', () => {
    const cases: [string, RegExp][] = [
      ['not json', /valid JSON/],
      ['[]', /JSON object/],
      [JSON.stringify({ Version: '2012-10-17' }), /Statement/],
      [JSON.stringify({ Version: '2020-01-01', Statement: [base] }), /Version/],
      [JSON.stringify({ Version: '2012-10-17', Statement: [base], Extra: 1 }), /Extra/],
      [doc({ ...base, Effect: 'Maybe' }), /Effect/],
      [doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` }), /Principal/],
      [doc({ ...base, Principal: { Service: 'ec2.amazonaws.com' } }), /Service/],
      [doc({ ...base, NotPrincipal: { AWS: 'bob' } }), /NotPrincipal/],
      [doc({ ...base, NotAction: 's3:PutObject' }), /NotAction/],
      [doc({ ...base, NotResource: `arn:aws:s3:::${B}/x` }), /NotResource/],
      [doc({ ...base, Action: 'iam:CreateUser' }), /not an s3: action/],
      [doc({ ...base, Action: [] }), /Action/],
      [doc({ ...base, Resource: 'arn:aws:s3:::other/*' }), /invalid resource/],
      [doc({ ...base, Resource: `arn:aws:s3:::${B}x` }), /invalid resource/],
      [doc({ ...base, Condition: { StringNotLike: { 's3:prefix': 'x' } } }), /StringNotLike/],
      [doc({ ...base, Condition: { StringEquals: { 'aws:Referer': 'x' } } }), /aws:Referer/],
      [doc({ ...base, Condition: { IpAddress: { 'aws:SourceIp': '300.1.1.1/8' } } }), /300\.1\.1\.1/],
      [doc({ ...base, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } }), /10\.0\.0\.0\/33/],
      ['x'.repeat(21 * 1024), /at most/],
    ];
    for (const [text, reason] of cases)
      assert.throws(
        () => parsePolicy(text, B),
        (e: unknown) =>
          e instanceof S3Error && e.code === 'MalformedPolicy' && e.status === 400 && reason.test(e.message),
        text.slice(0, 120),
      );
  });

  test('accepted: one statement or a list, Sid, Id, both versions, ARNs and names, CanonicalUser', () => {
    for (const text of [
      JSON.stringify({ Version: '2008-10-17', Statement: base }),
      JSON.stringify({ Id: 'p1', Statement: [{ Sid: 'one', ...base }] }),
      doc({
        ...base,
        Principal: { AWS: ['arn:aws:iam::1:user/bob', 'alice'] },
        Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/a/*`],
      }),
      doc({ ...base, Principal: { CanonicalUser: 'bob' }, Action: '*' }),
      doc({
        ...base,
        Condition: {
          IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '::1'] },
          StringLike: { 's3:prefix': 'a/*' },
        },
      }),
    ])
      assert.ok(parsePolicy(text, B).statements.length >= 1, text);
    const p = parsePolicy(doc({ ...base, Principal: { AWS: ['arn:aws:iam::1:user/bob', '*'] } }), B);
    assert.equal(p.statements[0]!.principals, '*');
  });

  test('isPublicStatement: Allow to "*" without an address condition', () => {
    const st = (s: Record<string, unknown>) => parsePolicy(doc({ ...base, ...s }), B).statements[0]!;
    assert.equal(isPublicStatement(st({})), true);
    assert.equal(isPublicStatement(st({ Principal: { AWS: '*' } })), true);
    assert.equal(isPublicStatement(st({ Principal: { AWS: 'bob' } })), false);
    assert.equal(isPublicStatement(st({ Effect: 'Deny' })), false);
    assert.equal(
      isPublicStatement(st({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })),
      false,
    );
    assert.equal(isPublicStatement(st({ Condition: { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } } })), true);
    assert.equal(isPublicStatement(st({ Condition: { StringLike: { 's3:prefix': 'a/*' } } })), true);
  });
});

describe('actionOf: S3 operations to IAM actions', () => {
  test('as AWS names them; unknown operations need the owner', () => {
    const rows: [string, string, string][] = [
      ['ListBuckets', '', 's3:ListAllMyBuckets'],
      ['HeadBucket', B, 's3:ListBucket'],
      ['ListObjectsV2', B, 's3:ListBucket'],
      ['HeadObject', B, 's3:GetObject'],
      ['CopyObject', B, 's3:PutObject'],
      ['CompleteMultipartUpload', B, 's3:PutObject'],
      ['DeleteObjects', B, 's3:DeleteObject'],
      ['GetBucketTagging', B, 's3:GetBucketTagging'],
      ['PutBucketTagging', B, 's3:PutBucketTagging'],
      ['DeleteBucketTagging', B, 's3:PutBucketTagging'],
      ['DeletePublicAccessBlock', B, 's3:PutBucketPublicAccessBlock'],
      ['Unknown', B, 's3:*'],
      ['Unknown', '', 's3:ListAllMyBuckets'],
    ];
    for (const [op, b, action] of rows) assert.equal(actionOf(op, b), action, op);
    // "s3:*" is nobody's but the owner's (and root's).
    assert.equal(
      verdict({
        who: bob,
        action: 's3:*',
        bucket: bucket({ grants: [user('bob', 'FULL_CONTROL')] }),
        expect: '',
      }),
      'deny',
    );
    assert.equal(verdict({ who: alice, action: 's3:*', expect: '' }), 'owner');
  });
});
