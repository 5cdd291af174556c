import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { actionOf } from '../../src/gateway/s3/authorize.js';
import {
  alice,
  anon,
  B,
  bob,
  bucket,
  check,
  denyEveryoneDelete,
  group,
  lanRead,
  pab,
  policy,
  publicRead,
  type Row,
  readPolicy,
  root,
  user,
  verdict,
} from './decide-table.js';

/**
 * decide() as a table: who (root, the bucket's owner alice, another user bob, anonymous) may do
 * what (an IAM action on the bucket or a key) given the bucket's ACL grants, an object's grants,
 * its policy (Principal, Action, Resource, aws:SourceIp, s3:prefix), public access block and
 * ownership controls. Each row names the rule that must allow, or "deny" / "explicit deny".
 */

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
  type Ownership = 'ObjectWriter' | 'BucketOwnerPreferred' | 'BucketOwnerEnforced';
  const writerOwns = (ownership: Ownership) => bucket({ ownership, grants: [user('bob', 'WRITE')] });
  /** A row about key k, which bob (granted WRITE on the bucket) wrote and is recorded as owning. */
  const bobsObject = (
    who: Row['who'],
    action: string,
    ownership: Ownership,
    expect: string,
    extra: Partial<Row> = {},
  ): Row => ({ who, action, key: 'k', objectOwner: 'bob', bucket: writerOwns(ownership), expect, ...extra });
  check('ownership controls: an object its writer owns (ObjectWriter, BucketOwnerPreferred)', [
    // The writer owns what it wrote: it may read it and its ACL, and change the ACL.
    bobsObject(bob, 's3:GetObject', 'ObjectWriter', 'object owner'),
    bobsObject(bob, 's3:GetObjectAcl', 'ObjectWriter', 'object owner'),
    bobsObject(bob, 's3:PutObjectAcl', 'BucketOwnerPreferred', 'object owner'),
    // The bucket's owner needs a grant of the object's ACL to read it …
    bobsObject(alice, 's3:GetObject', 'ObjectWriter', 'deny'),
    bobsObject(alice, 's3:GetObjectAcl', 'BucketOwnerPreferred', 'deny'),
    bobsObject(alice, 's3:GetObject', 'ObjectWriter', 'object ACL', {
      objectGrants: [user('alice', 'FULL_CONTROL')],
    }),
    // … but may still delete it and do everything else in the bucket.
    bobsObject(alice, 's3:DeleteObject', 'ObjectWriter', 'owner'),
    bobsObject(alice, 's3:PutObjectTagging', 'ObjectWriter', 'owner'),
    {
      who: alice,
      action: 's3:ListBucket',
      objectOwner: 'bob',
      bucket: writerOwns('ObjectWriter'),
      expect: 'owner',
    },
    // A bucket policy's Allow does not reach another user's object (not even for the bucket's
    // owner); it still reaches the bucket owner's objects. A Deny reaches every object.
    {
      who: alice,
      action: 's3:GetObject',
      key: 'k',
      objectOwner: 'bob',
      bucket: bucket({
        ownership: 'ObjectWriter',
        policy: policy({
          Effect: 'Allow',
          Principal: { AWS: ['alice'] },
          Action: 's3:GetObject',
          Resource: `arn:aws:s3:::${B}/*`,
        }),
      }),
      expect: 'deny',
    },
    {
      who: bob,
      action: 's3:GetObject',
      key: 'k',
      objectOwner: 'carol',
      bucket: bucket({ ownership: 'ObjectWriter', policy: readPolicy }),
      expect: 'deny',
    },
    {
      who: bob,
      action: 's3:GetObject',
      key: 'k',
      bucket: bucket({ ownership: 'ObjectWriter', policy: readPolicy }),
      expect: 'bucket policy',
    },
    {
      who: bob,
      action: 's3:GetObject',
      key: 'k',
      objectOwner: 'bob',
      bucket: bucket({
        ownership: 'ObjectWriter',
        policy: policy({
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:GetObject',
          Resource: `arn:aws:s3:::${B}/*`,
        }),
      }),
      expect: 'explicit deny',
    },
    // Another user gains nothing from the object's owner being someone else.
    bobsObject(anon, 's3:GetObject', 'ObjectWriter', 'deny'),
    // BucketOwnerEnforced: recorded writers count for nothing; the bucket's owner owns everything.
    bobsObject(alice, 's3:GetObject', 'BucketOwnerEnforced', 'owner'),
    bobsObject(bob, 's3:GetObject', 'BucketOwnerEnforced', 'deny'),
    // The root user may do everything.
    bobsObject(root, 's3:GetObject', 'ObjectWriter', 'root'),
  ]);
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
