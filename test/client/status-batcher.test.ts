import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusBatcher, type StatusBatchResult } from '../../src/client/status-batcher.js';
import type { FileInfo } from '../../src/core/file-system.js';

const info = (path: string): FileInfo =>
  ({ path, name: path.slice(1), type: 'file', size: path.length }) as unknown as FileInfo;

function parts(batchesKnown = true) {
  const log: string[] = [];
  return {
    log,
    one: async (path: string, interval: number | undefined) => {
      log.push(`one ${path} ${interval}`);
      if (path === '/bad') throw Object.assign(new Error('gone'), { code: 'NOT_FOUND' });
      return info(path);
    },
    many: async (paths: readonly string[], interval: number | undefined) => {
      log.push(`many ${paths.join(',')} ${interval}`);
      if (!batchesKnown) return undefined;
      return paths.map(
        (p): StatusBatchResult =>
          p === '/bad' ? { error: { code: 'NOT_FOUND', message: `${p} is gone` } } : { info: info(p) },
      );
    },
  };
}

test('stats of one turn share one call per sync interval; a lone stat goes alone; errors stay with their path', async () => {
  const p = parts();
  const b = new StatusBatcher(p);
  const got = await Promise.allSettled([
    b.status('/a', undefined),
    b.status('/bad', undefined),
    b.status('/c', undefined),
    b.status('/d', 0),
  ]);
  assert.deepEqual(
    got.map((g) => (g.status === 'fulfilled' ? g.value.path : (g.reason as { code: string }).code)),
    ['/a', 'NOT_FOUND', '/c', '/d'],
  );
  assert.deepEqual(p.log.sort(), ['many /a,/bad,/c undefined', 'one /d 0']);
  p.log.length = 0;
  assert.equal((await b.status('/e', undefined)).path, '/e');
  assert.deepEqual(p.log, ['one /e undefined']);
});

test('a worker without status-batch gets one call per path, from then on', async () => {
  const p = parts(false);
  const b = new StatusBatcher(p);
  const got = await Promise.all([b.status('/a', 1), b.status('/b', 1)]);
  assert.deepEqual(
    got.map((g) => g.path),
    ['/a', '/b'],
  );
  assert.deepEqual(p.log, ['many /a,/b 1', 'one /a 1', 'one /b 1']);
  p.log.length = 0;
  await Promise.all([b.status('/c', 1), b.status('/d', 1)]);
  assert.deepEqual(p.log, ['one /c 1', 'one /d 1']);
});

test('an aborted stat rejects alone; the others of its batch are answered', async () => {
  const p = parts();
  const b = new StatusBatcher(p);
  const ac = new AbortController();
  const waiting = [
    b.status('/a', undefined),
    b.status('/b', undefined, ac.signal),
    b.status('/c', undefined),
  ];
  ac.abort(new Error('caller left'));
  const got = await Promise.allSettled(waiting);
  assert.equal(got[0]!.status, 'fulfilled');
  assert.equal(got[1]!.status, 'rejected');
  assert.equal(got[2]!.status, 'fulfilled');
  assert.deepEqual(p.log, ['many /a,/c undefined']);
});
