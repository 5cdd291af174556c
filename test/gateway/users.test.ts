import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from './harness.js';
import { type Key, ROOT, startUsersLocal, type UsersLocal } from './users-harness.js';

/**
 * Two S3 users of one real `strata local`, created with `strata s3 user add --json`, driven by the
 * aws CLI (alice) and boto3 (bob; s3cmd and rclone for the grants): each owns what it creates
 * and sees nothing of the other's until given read-only access (a bucket policy, then separately
 * ACL grants); ownership controls switch ACLs off; anonymous GETs follow policy, ACLs and public
 * access block. Keys: users-keys.test.ts.
 */

/** `aws s3api put-bucket-ownership-controls` arguments: one ObjectOwnership rule for the bucket. */
const ownershipControls = (bucket: string, ownership: string) => [
  's3api',
  'put-bucket-ownership-controls',
  '--bucket',
  bucket,
  '--ownership-controls',
  `Rules=[{ObjectOwnership=${ownership}}]`,
];

describe('S3 users end to end: alice (aws CLI) and bob (boto3) on one strata local', () => {
  let u: UsersLocal;
  let alice: Key;
  let bob: Key;
  let s3: string;
  let work: string;
  const aws = (k: Key, args: string[], fails?: 'fails') => u.aws(k, args, fails);
  const awsJson = (k: Key, args: string[]) => u.awsJson(k, args);
  const boto = (k: Key, calls: [string, Record<string, unknown>][]) => u.boto(k, calls);
  const anonymousGet = (path: string) => u.anonymousGet(path);

  before(async () => {
    u = await startUsersLocal();
    ({ alice, bob, s3, work } = u);
    assert.equal(alice.name, 'alice');
    assert.match(alice.accessKeyId, /^SK[A-Z2-7]{18}$/);
    assert.equal(alice.secretAccessKey.length, 40);
  });
  after(async () => {
    await u?.stop();
  });

  test('each creates a bucket; neither lists, reads, writes or deletes in the other’s (403 AccessDenied)', async () => {
    await aws(alice, ['s3', 'mb', 's3://alice-data']);
    await aws(alice, ['s3', 'cp', join(work, 'hello.txt'), 's3://alice-data/hello.txt']);
    assert.deepEqual(
      await boto(bob, [
        ['create_bucket', { Bucket: 'bob-data' }],
        ['put_object', { Bucket: 'bob-data', Key: 'b.txt', Body: 'bob was here' }],
        ['list_buckets', {}],
        ['list_objects_v2', { Bucket: 'alice-data' }],
        ['get_object', { Bucket: 'alice-data', Key: 'hello.txt' }],
        ['put_object', { Bucket: 'alice-data', Key: 'intruder.txt', Body: 'x' }],
        ['delete_object', { Bucket: 'alice-data', Key: 'hello.txt' }],
        ['get_bucket_acl', { Bucket: 'alice-data' }],
        ['put_bucket_policy', { Bucket: 'alice-data', Policy: '{"Statement":[]}' }],
        ['delete_bucket', { Bucket: 'alice-data' }],
        // The name is taken by someone else; one's own again is "already owned".
        ['create_bucket', { Bucket: 'alice-data' }],
        ['create_bucket', { Bucket: 'bob-data' }],
      ]),
      [
        'ok',
        'ok',
        ['bob-data'],
        '403 AccessDenied',
        '403 AccessDenied',
        '403 AccessDenied',
        '403 AccessDenied',
        '403 AccessDenied',
        '403 AccessDenied',
        '403 AccessDenied',
        '409 BucketAlreadyExists',
        '409 BucketAlreadyOwnedByYou',
      ],
    );
    const mine = (await awsJson(alice, ['s3api', 'list-buckets'])) as {
      Buckets: { Name: string }[];
      Owner: { ID: string };
    };
    assert.deepEqual(
      mine.Buckets.map((b) => b.Name),
      ['alice-data'],
    );
    assert.equal(mine.Owner.ID, 'alice');
    for (const args of [
      ['s3', 'ls', 's3://bob-data'],
      ['s3', 'cp', 's3://bob-data/b.txt', join(work, 'stolen')],
      ['s3', 'cp', join(work, 'hello.txt'), 's3://bob-data/alice.txt'],
      ['s3api', 'delete-object', '--bucket', 'bob-data', '--key', 'b.txt'],
    ]) {
      const r = await aws(alice, args, 'fails');
      assert.match(r.stderr, /AccessDenied|Forbidden/, args.join(' '));
    }
    // The owner's own objects are hers; root sees every bucket.
    assert.equal(
      (await aws(alice, ['s3', 'cp', 's3://alice-data/hello.txt', '-'])).stdout,
      'hello from alice\n',
    );
    assert.deepEqual(await boto(ROOT, [['list_buckets', {}]]), [['alice-data', 'bob-data']]);
  });

  test('read-only by bucket policy: bob lists and reads alice-data, cannot write; removing the policy ends it', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'BobReads',
          Effect: 'Allow',
          Principal: { AWS: ['bob'] },
          Action: ['s3:GetObject', 's3:ListBucket'],
          Resource: ['arn:aws:s3:::alice-data', 'arn:aws:s3:::alice-data/*'],
        },
      ],
    });
    await aws(alice, ['s3api', 'put-bucket-policy', '--bucket', 'alice-data', '--policy', policy]);
    assert.deepEqual(
      JSON.parse(
        (
          (await awsJson(alice, ['s3api', 'get-bucket-policy', '--bucket', 'alice-data'])) as {
            Policy: string;
          }
        ).Policy,
      ),
      JSON.parse(policy),
    );
    assert.deepEqual(
      await boto(bob, [
        ['list_objects_v2', { Bucket: 'alice-data' }],
        ['get_object', { Bucket: 'alice-data', Key: 'hello.txt' }],
        ['head_object', { Bucket: 'alice-data', Key: 'hello.txt' }],
        ['put_object', { Bucket: 'alice-data', Key: 'intruder.txt', Body: 'x' }],
        ['delete_object', { Bucket: 'alice-data', Key: 'hello.txt' }],
        ['copy_object', { Bucket: 'alice-data', Key: 'copy.txt', CopySource: 'alice-data/hello.txt' }],
        ['put_bucket_policy', { Bucket: 'alice-data', Policy: policy }],
        // A copy out of alice-data into bob's own bucket is a read there: allowed.
        ['copy_object', { Bucket: 'bob-data', Key: 'copied.txt', CopySource: 'alice-data/hello.txt' }],
        ['get_object', { Bucket: 'bob-data', Key: 'copied.txt' }],
      ]),
      [
        ['hello.txt'],
        'hello from alice\n',
        'ok',
        '403 AccessDenied',
        '403 AccessDenied',
        '403 AccessDenied',
        '403 AccessDenied',
        'ok',
        'hello from alice\n',
      ],
    );
    // A policy the gateway cannot enforce is refused, saying why.
    const bad = await aws(
      alice,
      [
        's3api',
        'put-bucket-policy',
        '--bucket',
        'alice-data',
        '--policy',
        JSON.stringify({
          Statement: [
            {
              Effect: 'Allow',
              NotPrincipal: { AWS: 'bob' },
              Action: 's3:*',
              Resource: 'arn:aws:s3:::alice-data/*',
            },
          ],
        }),
      ],
      'fails',
    );
    assert.match(bad.stderr, /MalformedPolicy.*NotPrincipal/);
    await aws(alice, ['s3api', 'delete-bucket-policy', '--bucket', 'alice-data']);
    assert.deepEqual(await boto(bob, [['get_object', { Bucket: 'alice-data', Key: 'hello.txt' }]]), [
      '403 AccessDenied',
    ]);
  });

  test('read-only by grants: bucket READ lists, object READ reads, nothing writes', async () => {
    await aws(alice, ['s3', 'mb', 's3://alice-shared']);
    await aws(alice, ['s3api', 'put-bucket-acl', '--bucket', 'alice-shared', '--grant-read', 'id=bob']);
    await aws(alice, [
      's3api',
      'put-object',
      '--bucket',
      'alice-shared',
      '--key',
      'shared.txt',
      '--body',
      join(work, 'hello.txt'),
      '--grant-read',
      'id=bob',
    ]);
    await aws(alice, [
      's3api',
      'put-object',
      '--bucket',
      'alice-shared',
      '--key',
      'private.txt',
      '--body',
      join(work, 'hello.txt'),
    ]);
    const acl = (await awsJson(alice, [
      's3api',
      'get-object-acl',
      '--bucket',
      'alice-shared',
      '--key',
      'shared.txt',
    ])) as {
      Grants: { Grantee: { ID?: string }; Permission: string }[];
    };
    assert.deepEqual(
      acl.Grants.map((g) => `${g.Grantee.ID}:${g.Permission}`),
      ['alice:FULL_CONTROL', 'bob:READ'],
    );
    assert.deepEqual(
      await boto(bob, [
        ['list_objects_v2', { Bucket: 'alice-shared' }],
        ['get_object', { Bucket: 'alice-shared', Key: 'shared.txt' }],
        ['get_object', { Bucket: 'alice-shared', Key: 'private.txt' }],
        ['put_object', { Bucket: 'alice-shared', Key: 'intruder.txt', Body: 'x' }],
        ['delete_object', { Bucket: 'alice-shared', Key: 'shared.txt' }],
        ['put_bucket_acl', { Bucket: 'alice-shared', ACL: 'public-read-write' }],
        ['put_object_acl', { Bucket: 'alice-shared', Key: 'shared.txt', ACL: 'public-read' }],
      ]),
      [
        ['private.txt', 'shared.txt'],
        'hello from alice\n',
        '403 AccessDenied',
        '403 AccessDenied',
        '403 AccessDenied',
        '403 AccessDenied',
        '403 AccessDenied',
      ],
    );
    // ListBuckets shows bob what he may list: now alice-shared, still not alice-data.
    assert.deepEqual(await boto(bob, [['list_buckets', {}]]), [['alice-shared', 'bob-data']]);
    // The same through s3cmd and rclone as bob.
    const cfg = join(work, 'bob.s3cfg');
    const port = new URL(s3).port;
    await writeFile(
      cfg,
      `[default]\naccess_key = ${bob.accessKeyId}\nsecret_key = ${bob.secretAccessKey}\nhost_base = 127.0.0.1:${port}\nhost_bucket = 127.0.0.1:${port}\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n`,
    );
    const s3cmd = (...args: string[]) => run('s3cmd', ['-c', cfg, ...args], process.env);
    const listed = await s3cmd('ls', 's3://alice-shared/');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /s3:\/\/alice-shared\/shared\.txt/);
    const got = await s3cmd('get', '--force', 's3://alice-shared/shared.txt', join(work, 'via-s3cmd'));
    assert.equal(got.code, 0, got.stderr);
    const put = await s3cmd('put', join(work, 'hello.txt'), 's3://alice-shared/s3cmd.txt');
    assert.notEqual(put.code, 0);
    assert.match(put.stderr, /AccessDenied|403/);
    const rcloneEnv: NodeJS.ProcessEnv = {
      ...process.env,
      RCLONE_CONFIG: join(work, 'rclone.conf'),
      RCLONE_CONFIG_GW_TYPE: 's3',
      RCLONE_CONFIG_GW_PROVIDER: 'Other',
      RCLONE_CONFIG_GW_ACCESS_KEY_ID: bob.accessKeyId,
      RCLONE_CONFIG_GW_SECRET_ACCESS_KEY: bob.secretAccessKey,
      RCLONE_CONFIG_GW_ENDPOINT: s3,
      RCLONE_CONFIG_GW_REGION: 'us-east-1',
      RCLONE_CONFIG_GW_FORCE_PATH_STYLE: 'true',
    };
    delete rcloneEnv.AWS_CA_BUNDLE;
    const cat = await run('rclone', ['cat', 'gw:alice-shared/shared.txt'], rcloneEnv);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'hello from alice\n');
    const copy = await run(
      'rclone',
      ['copyto', join(work, 'hello.txt'), 'gw:alice-shared/rclone.txt'],
      rcloneEnv,
    );
    assert.notEqual(copy.code, 0);
    assert.match(copy.stderr, /AccessDenied|403/);
    // A grant to a user that does not exist is refused.
    const r = await aws(
      alice,
      ['s3api', 'put-bucket-acl', '--bucket', 'alice-shared', '--grant-read', 'id=nobody'],
      'fails',
    );
    assert.match(r.stderr, /InvalidArgument/);
  });

  test('anonymous GET follows the bucket policy, ACLs and the public access block', async () => {
    await aws(alice, ['s3', 'mb', 's3://alice-www']);
    await aws(alice, ['s3', 'cp', join(work, 'hello.txt'), 's3://alice-www/index.html']);
    assert.equal(await anonymousGet('/alice-www/index.html'), 403);
    const publicRead = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::alice-www/*' },
      ],
    });
    await aws(alice, ['s3api', 'put-bucket-policy', '--bucket', 'alice-www', '--policy', publicRead]);
    const res = await fetch(`${s3}/alice-www/index.html`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hello from alice\n');
    assert.equal(await anonymousGet('/alice-www'), 403, 'the policy grants GetObject, not ListBucket');
    const block = (flags: string) => [
      's3api',
      'put-public-access-block',
      '--bucket',
      'alice-www',
      '--public-access-block-configuration',
      flags,
    ];
    await aws(alice, block('RestrictPublicBuckets=true'));
    assert.equal(await anonymousGet('/alice-www/index.html'), 403);
    // bob is a named user, but the statement is public ("*"): restricted for him too.
    assert.deepEqual(await boto(bob, [['get_object', { Bucket: 'alice-www', Key: 'index.html' }]]), [
      '403 AccessDenied',
    ]);
    await aws(alice, ['s3api', 'delete-public-access-block', '--bucket', 'alice-www']);
    assert.equal(await anonymousGet('/alice-www/index.html'), 200);
    // BlockPublicPolicy refuses a public policy being put (the stored one keeps working).
    await aws(alice, block('BlockPublicPolicy=true'));
    const refused = await aws(
      alice,
      ['s3api', 'put-bucket-policy', '--bucket', 'alice-www', '--policy', publicRead],
      'fails',
    );
    assert.match(refused.stderr, /AccessDenied/);
    assert.equal(await anonymousGet('/alice-www/index.html'), 200);
    await aws(alice, ['s3api', 'delete-bucket-policy', '--bucket', 'alice-www']);
    assert.equal(await anonymousGet('/alice-www/index.html'), 403);
    // A public-read object ACL; IgnorePublicAcls turns it off, BlockPublicAcls refuses a new one.
    await aws(alice, [
      's3api',
      'put-object-acl',
      '--bucket',
      'alice-www',
      '--key',
      'index.html',
      '--acl',
      'public-read',
    ]);
    assert.equal(await anonymousGet('/alice-www/index.html'), 200);
    await aws(alice, block('IgnorePublicAcls=true'));
    assert.equal(await anonymousGet('/alice-www/index.html'), 403);
    await aws(alice, block('BlockPublicAcls=true'));
    const acl = await aws(
      alice,
      ['s3api', 'put-object-acl', '--bucket', 'alice-www', '--key', 'index.html', '--acl', 'public-read'],
      'fails',
    );
    assert.match(acl.stderr, /AccessDenied/);
  });

  test('ownership controls: BucketOwnerEnforced needs the ACLs cleared first, then switches every grant off', async () => {
    const none = await aws(
      alice,
      ['s3api', 'get-bucket-ownership-controls', '--bucket', 'alice-shared'],
      'fails',
    );
    assert.match(none.stderr, /OwnershipControlsNotFoundError/);
    // The bucket still grants bob READ: S3 refuses to switch ACLs off over it.
    const refused = await aws(alice, ownershipControls('alice-shared', 'BucketOwnerEnforced'), 'fails');
    assert.match(refused.stderr, /InvalidBucketAclWithObjectOwnership/);
    await aws(alice, ['s3api', 'put-bucket-acl', '--bucket', 'alice-shared', '--acl', 'private']);
    await aws(alice, ownershipControls('alice-shared', 'BucketOwnerEnforced'));
    const got = (await awsJson(alice, [
      's3api',
      'get-bucket-ownership-controls',
      '--bucket',
      'alice-shared',
    ])) as {
      OwnershipControls: { Rules: { ObjectOwnership: string }[] };
    };
    assert.deepEqual(got.OwnershipControls.Rules, [{ ObjectOwnership: 'BucketOwnerEnforced' }]);
    // shared.txt's own grant to bob is ignored now, and no new ACL may be set.
    assert.deepEqual(await boto(bob, [['get_object', { Bucket: 'alice-shared', Key: 'shared.txt' }]]), [
      '403 AccessDenied',
    ]);
    const acl = await aws(
      alice,
      [
        's3api',
        'put-object-acl',
        '--bucket',
        'alice-shared',
        '--key',
        'shared.txt',
        '--grant-read',
        'id=bob',
      ],
      'fails',
    );
    assert.match(acl.stderr, /AccessControlListNotSupported/);
    await aws(alice, [
      's3api',
      'put-object-acl',
      '--bucket',
      'alice-shared',
      '--key',
      'shared.txt',
      '--acl',
      'bucket-owner-full-control',
    ]);
    await aws(alice, ['s3api', 'delete-bucket-ownership-controls', '--bucket', 'alice-shared']);
    await aws(alice, [
      's3api',
      'put-object-acl',
      '--bucket',
      'alice-shared',
      '--key',
      'shared.txt',
      '--grant-read',
      'id=bob',
    ]);
    assert.deepEqual(await boto(bob, [['get_object', { Bucket: 'alice-shared', Key: 'shared.txt' }]]), [
      'hello from alice\n',
    ]);
    // Public access block: read back as put, 404 once deleted.
    await aws(alice, [
      's3api',
      'put-public-access-block',
      '--bucket',
      'alice-shared',
      '--public-access-block-configuration',
      'BlockPublicAcls=true,IgnorePublicAcls=false,BlockPublicPolicy=true,RestrictPublicBuckets=false',
    ]);
    const pab = (await awsJson(alice, ['s3api', 'get-public-access-block', '--bucket', 'alice-shared'])) as {
      PublicAccessBlockConfiguration: Record<string, boolean>;
    };
    assert.deepEqual(pab.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      IgnorePublicAcls: false,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: false,
    });
    // Only the owner may see or change it.
    assert.deepEqual(
      await boto(bob, [
        ['get_public_access_block', { Bucket: 'alice-shared' }],
        ['delete_public_access_block', { Bucket: 'alice-shared' }],
        [
          'put_bucket_ownership_controls',
          { Bucket: 'alice-shared', OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } },
        ],
      ]),
      ['403 AccessDenied', '403 AccessDenied', '403 AccessDenied'],
    );
    await aws(alice, ['s3api', 'delete-public-access-block', '--bucket', 'alice-shared']);
    assert.match(
      (await aws(alice, ['s3api', 'get-public-access-block', '--bucket', 'alice-shared'], 'fails')).stderr,
      /NoSuchPublicAccessBlockConfiguration/,
    );
  });
  test("ownership controls: under ObjectWriter an upload is its writer's (the bucket owner needs its grant); BucketOwnerPreferred with bucket-owner-full-control, and BucketOwnerEnforced, make it the bucket owner's", async () => {
    const ownership = (o: string) => ownershipControls('alice-drop', o);
    const ownerOf = async (k: Key, key: string) =>
      (
        (await awsJson(k, ['s3api', 'get-object-acl', '--bucket', 'alice-drop', '--key', key])) as {
          Owner: { ID: string };
        }
      ).Owner.ID;
    const get = (k: Key, key: string, fails?: 'fails') =>
      aws(k, ['s3', 'cp', `s3://alice-drop/${key}`, '-'], fails);
    await aws(alice, ['s3', 'mb', 's3://alice-drop']);
    await aws(alice, ownership('ObjectWriter'));
    await aws(alice, ['s3api', 'put-bucket-acl', '--bucket', 'alice-drop', '--grant-write', 'id=bob']);
    assert.deepEqual(
      await boto(bob, [
        ['put_object', { Bucket: 'alice-drop', Key: 'bob.txt', Body: 'from bob' }],
        ['put_object', { Bucket: 'alice-drop', Key: 'bob2.txt', Body: 'also bob' }],
        ['get_object', { Bucket: 'alice-drop', Key: 'bob.txt' }],
      ]),
      ['ok', 'ok', 'from bob'],
    );
    assert.equal(await ownerOf(bob, 'bob.txt'), 'bob');
    // The bucket's owner may neither read the object nor its ACL without a grant …
    assert.match((await get(alice, 'bob.txt', 'fails')).stderr, /403|Forbidden|AccessDenied/);
    assert.match(
      (await aws(alice, ['s3api', 'get-object-acl', '--bucket', 'alice-drop', '--key', 'bob.txt'], 'fails'))
        .stderr,
      /AccessDenied/,
    );
    // … until the writer grants it; and may always delete it.
    await aws(bob, [
      's3api',
      'put-object-acl',
      '--bucket',
      'alice-drop',
      '--key',
      'bob.txt',
      '--acl',
      'bucket-owner-full-control',
    ]);
    assert.equal((await get(alice, 'bob.txt')).stdout, 'from bob');
    assert.equal(
      await ownerOf(alice, 'bob.txt'),
      'bob',
      'still the writer’s, with a grant to the bucket owner',
    );
    await aws(alice, ['s3api', 'delete-object', '--bucket', 'alice-drop', '--key', 'bob2.txt']);
    const left = (await awsJson(alice, ['s3api', 'list-objects-v2', '--bucket', 'alice-drop'])) as {
      Contents: { Key: string }[];
    };
    assert.deepEqual(
      left.Contents.map((c) => c.Key),
      ['bob.txt'],
    );
    // The bucket's own objects stay the bucket owner's.
    await aws(alice, ['s3', 'cp', join(work, 'hello.txt'), 's3://alice-drop/alice.txt']);
    assert.equal(await ownerOf(alice, 'alice.txt'), 'alice');

    // BucketOwnerPreferred: bucket-owner-full-control hands the upload to the bucket's owner.
    await aws(alice, ownership('BucketOwnerPreferred'));
    assert.deepEqual(
      await boto(bob, [
        [
          'put_object',
          { Bucket: 'alice-drop', Key: 'handed.txt', Body: 'handed over', ACL: 'bucket-owner-full-control' },
        ],
        ['put_object', { Bucket: 'alice-drop', Key: 'kept.txt', Body: 'kept' }],
      ]),
      ['ok', 'ok'],
    );
    assert.equal((await get(alice, 'handed.txt')).stdout, 'handed over');
    assert.equal(await ownerOf(alice, 'handed.txt'), 'alice');
    assert.equal(await ownerOf(bob, 'kept.txt'), 'bob');
    assert.match((await get(alice, 'kept.txt', 'fails')).stderr, /403|Forbidden|AccessDenied/);

    // BucketOwnerEnforced: every object is the bucket owner's, whoever wrote it.
    await aws(alice, ['s3api', 'put-bucket-acl', '--bucket', 'alice-drop', '--acl', 'private']);
    await aws(alice, ownership('BucketOwnerEnforced'));
    assert.equal((await get(alice, 'kept.txt')).stdout, 'kept');
    assert.equal(await ownerOf(alice, 'kept.txt'), 'alice');
    assert.deepEqual(await boto(bob, [['get_object', { Bucket: 'alice-drop', Key: 'kept.txt' }]]), [
      '403 AccessDenied',
    ]);
  });
});
