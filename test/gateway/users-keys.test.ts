import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { USERS_REFRESH_MS } from '../../src/gateway/s3/users.js';
import { runCli, waitFor } from '../helpers/local-process.js';
import { run } from './harness.js';
import { keyRefused } from './key-probe.js';
import { type Key, startUsersLocal, type UsersLocal } from './users-harness.js';

/**
 * Users' keys on a real `strata local`: `strata s3 user key add` gives a working key at once, `key
 * rm` stops it within the documented bound (the time is printed), `user rm` ends the user, and
 * ten key adds at the same moment keep all ten keys (compare-and-set in the registry).
 */

describe('S3 user keys end to end', () => {
  let u: UsersLocal;
  let alice: Key;
  let bob: Key;
  let s3: string;
  let local: UsersLocal['local'];
  const cli = (...args: string[]) => u.cli(...args);
  const awsEnv = (k: Key) => u.awsEnv(k);
  const boto = (k: Key, calls: [string, Record<string, unknown>][]) => u.boto(k, calls);

  before(async () => {
    u = await startUsersLocal();
    ({ alice, bob, s3, local } = u);
    await u.aws(alice, ['s3', 'mb', 's3://alice-data']);
    await u.aws(alice, ['s3', 'cp', join(u.work, 'hello.txt'), 's3://alice-data/hello.txt']);
  });
  after(async () => {
    await u?.stop();
  });

  test('key add gives a working second key; key rm stops it within the documented bound; user rm ends the user', async () => {
    const second = JSON.parse(await cli('s3', 'user', 'key', 'add', '--json', 'alice')) as Key;
    assert.equal(second.name, 'alice');
    const listed = (await cli('s3', 'user', 'ls', '--json'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; accessKeyIds: string[] });
    assert.deepEqual(
      listed.find((u) => u.name === 'alice')?.accessKeyIds.sort(),
      [alice.accessKeyId, second.accessKeyId].sort(),
    );
    assert.doesNotMatch(JSON.stringify(listed), new RegExp(second.secretAccessKey));
    // The registry's watch delivers the new key (embedded: at once; at worst the refresh).
    await waitFor(
      'the new key to work',
      async () =>
        (await run('aws', ['--endpoint-url', s3, 's3', 'ls', 's3://alice-data'], awsEnv(second))).code === 0,
      USERS_REFRESH_MS + 5000,
    );
    await cli('s3', 'user', 'key', 'rm', 'alice', second.accessKeyId);
    const t0 = performance.now();
    await waitFor(
      'the removed key to be refused (probe)',
      () => keyRefused(s3, second),
      USERS_REFRESH_MS + 5000,
    );
    console.log(
      `figure: removed key refused ${Math.round(performance.now() - t0)} ms after key rm returned (embedded registry)`,
    );
    const refused = await waitFor(
      'the removed key to be refused',
      async () => {
        const [answer] = await boto(second, [['list_objects_v2', { Bucket: 'alice-data' }]]);
        return answer === '403 InvalidAccessKeyId' ? answer : undefined;
      },
      USERS_REFRESH_MS + 5000,
    );
    assert.equal(refused, '403 InvalidAccessKeyId');
    // Her first key is untouched.
    assert.deepEqual(await boto(alice, [['list_objects_v2', { Bucket: 'alice-data' }]]), [['hello.txt']]);
    const gone = await runCli(['s3', 'user', 'key', 'rm', 'alice', second.accessKeyId], {
      registry: local.registry,
    });
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /no access key/);
    await cli('s3', 'user', 'rm', 'bob');
    await waitFor(
      'bob to be gone',
      async () => (await boto(bob, [['list_buckets', {}]]))[0] === '403 InvalidAccessKeyId',
      USERS_REFRESH_MS + 5000,
    );
  });

  test('ten `strata s3 user key add` at once: all ten keys kept (compare-and-set), each one signs', async () => {
    await cli('s3', 'user', 'add', '--json', 'carol');
    const added = await Promise.all(
      Array.from(
        { length: 10 },
        async () => JSON.parse(await cli('s3', 'user', 'key', 'add', '--json', 'carol')) as Key,
      ),
    );
    const carol = (await cli('s3', 'user', 'ls', '--json'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; accessKeyIds: string[] })
      .find((u) => u.name === 'carol');
    assert.equal(carol?.accessKeyIds.length, 11);
    for (const k of added) assert.ok(carol.accessKeyIds.includes(k.accessKeyId), k.accessKeyId);
    for (const k of [added[0]!, added[9]!])
      await waitFor(
        `carol's key ${k.accessKeyId}`,
        async () => JSON.stringify(await boto(k, [['list_buckets', {}]])) === '[[]]',
        USERS_REFRESH_MS + 5000,
      );
  });
});
