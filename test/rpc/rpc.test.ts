import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { RemoteFileSystem } from '../../src/client/remote-file-system.js';
import { isStrataError } from '../../src/core/errors.js';
import { createRpcHandler } from '../../src/server/rpc-server.js';
import { patternBytes } from '../../src/ufs/contract.js';
import { MemoryFileSystem } from './memory-file-system.js';

async function serve(fs: MemoryFileSystem, token?: string): Promise<{ server: Server; url: string }> {
  const handler = createRpcHandler(fs, token === undefined ? {} : { token });
  const server = createServer((req, res) => {
    handler(req, res).then((handled) => {
      if (!handled) {
        res.writeHead(404);
        res.end('not rpc');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

async function expectCode(code: string, fn: () => Promise<unknown>): Promise<void> {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(isStrataError(err), `expected StrataError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('worker RPC', () => {
  const mem = new MemoryFileSystem();
  let server: Server;
  let url: string;
  let client: RemoteFileSystem;

  before(async () => {
    ({ server, url } = await serve(mem));
    client = new RemoteFileSystem(url, { requestTimeoutMs: 5_000 });
  });

  after(async () => {
    await client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('stats issued together go as one status-batch call; each path answers for itself', async () => {
    await client.mkdir('/sb');
    for (const name of ['x', 'y', 'z'])
      await client.write(`/sb/${name}`, Readable.from([Buffer.from(name.repeat(3))]), {
        writeType: 'THROUGH',
      });
    const before = mem.calls.status ?? 0;
    const answers = await Promise.allSettled(
      ['/sb/x', '/sb/y', '/sb/missing', '/sb/z'].map((p) => client.status(p, { syncIntervalMs: 5 })),
    );
    assert.deepEqual(
      answers.map((a) => (a.status === 'fulfilled' ? a.value.name : (a.reason as { code: string }).code)),
      ['x', 'y', 'NOT_FOUND', 'z'],
    );
    assert.equal((mem.calls.status ?? 0) - before, 4, 'one status per path on the worker');
    assert.equal((mem.seen.status as { syncIntervalMs?: number }).syncIntervalMs, 5, 'the interval travels');
    // The route itself: bounds and a clear error.
    const post = (body: unknown) =>
      request(`${url}/rpc/v1/status-batch`, { method: 'POST', body: JSON.stringify(body) });
    const ok = await post({ paths: ['/sb/x', '/nope'] });
    const json = (await ok.body.json()) as {
      results: Array<{ info?: { size: number }; error?: { code: string } }>;
    };
    assert.equal(json.results[0]!.info?.size, 3);
    assert.equal(json.results[1]!.error?.code, 'NOT_FOUND');
    for (const body of [
      { paths: [] },
      { paths: Array(1001).fill('/a') },
      { paths: [7] },
      { paths: ['/a'], syncIntervalMs: 'x' },
    ]) {
      const r = await post(body);
      assert.equal(r.statusCode, 400, JSON.stringify(body).slice(0, 60));
      assert.equal(((await r.body.json()) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
    }
  });

  test('metadata methods round-trip', async () => {
    await client.mkdir('/a/b');
    const info = await client.write(
      '/a/b/hello.txt',
      Readable.from([Buffer.from('hello, '), Buffer.from('world')]),
      {
        writeType: 'THROUGH',
      },
    );
    assert.equal(info.size, 12);
    assert.equal(info.type, 'file');
    assert.deepEqual(mem.seen.write, { writeType: 'THROUGH', signal: undefined });

    const st = await client.status('/a/b/hello.txt', { syncIntervalMs: 0 });
    assert.equal(st.size, 12);
    assert.equal(st.cachedPercent, 0, 'THROUGH caches nothing');
    const seenStatus = mem.seen.status as { syncIntervalMs?: number; signal?: AbortSignal };
    assert.equal(seenStatus.syncIntervalMs, 0);
    // The server hands every call the request's signal (aborted if the caller goes away).
    assert.ok(seenStatus.signal instanceof AbortSignal);

    const listed = await client.list('/a');
    assert.deepEqual(
      listed.map((e) => [e.name, e.type]),
      [['b', 'directory']],
    );

    await client.rename('/a/b/hello.txt', '/a/b/moved.txt');
    await expectCode('NOT_FOUND', () => client.status('/a/b/hello.txt'));
    assert.equal((await buffer(await client.read('/a/b/moved.txt'))).toString(), 'hello, world');

    await client.pin('/a/b/moved.txt', true);
    await client.setTtl('/a/b/moved.txt', 60_000, 'delete');
    let moved = await client.status('/a/b/moved.txt');
    assert.equal(moved.pinned, true);
    assert.equal(moved.ttlMs, 60_000);
    assert.equal(moved.ttlAction, 'delete');
    await client.setTtl('/a/b/moved.txt', null);
    await client.pin('/a/b/moved.txt', false);
    moved = await client.status('/a/b/moved.txt');
    assert.equal(moved.ttlMs, undefined);
    assert.equal(moved.pinned, false);

    assert.deepEqual(await client.free('/a'), { files: 1, bytes: 12 });
    assert.equal((await client.status('/a/b/moved.txt')).cachedBytes, 0);
    assert.deepEqual(await client.load('/a'), { files: 1, bytes: 12 });
    // /a and /a/b: a directory counts itself.
    assert.deepEqual(await client.du('/a'), { files: 1, directories: 2, bytes: 12, cachedBytes: 12 });

    const m = await client.mount('/s3', 's3://bucket/prefix', {
      readOnly: true,
      syncIntervalMs: 1000,
      writeType: 'THROUGH',
      options: { region: 'eu-west-1', secretAccessKey: 'hunter2' },
    });
    assert.deepEqual(m, {
      path: '/s3',
      uri: 's3://bucket/prefix',
      readOnly: true,
      fallbackToUfs: false,
      syncIntervalMs: 1000,
      writeType: 'THROUGH',
      options: { region: 'eu-west-1', secretAccessKey: '****' },
    });
    assert.equal((await client.mounts()).length, 1);
    // The worker refuses before reading the upload; the client still gets the code, not a broken pipe.
    const upload = Array.from({ length: 128 }, () => Buffer.alloc(64 * 1024, 1));
    await expectCode('READ_ONLY', () => client.write('/s3/x', Readable.from(upload)));
    await expectCode('MOUNT_CONFLICT', () => client.mount('/s3', 's3://other'));
    await client.unmount('/s3');
    assert.deepEqual(await client.mounts(), []);
    await expectCode('NOT_MOUNTED', () => client.unmount('/s3'));

    const report = await client.report();
    assert.equal(report.workers.length, 1);
    assert.equal(report.workers[0]?.id, 'w1');

    await expectCode('DIRECTORY_NOT_EMPTY', () => client.delete('/a'));
    await client.delete('/a', { recursive: true });
    await expectCode('NOT_FOUND', () => client.list('/a'));
  });

  test('errors keep their code, message and details', async () => {
    await assert.rejects(client.status('/nope'), (err: unknown) => {
      assert.ok(isStrataError(err, 'NOT_FOUND'));
      assert.match(err.message, /\/nope/);
      assert.deepEqual(err.details, { path: '/nope' });
      return true;
    });
    await expectCode('INVALID_PATH', () => client.status('relative/path'));
    await expectCode('INVALID_PATH', () => client.status('/a/../etc'));
    await expectCode('NOT_A_DIRECTORY', async () => {
      await client.write('/f', Readable.from([Buffer.from('x')]));
      return client.list('/f');
    });
    await expectCode('IS_A_DIRECTORY', () => client.read('/'));
    // A source that fails on its first read is still a proper JSON error with its code.
    await expectCode('NOT_FOUND', () => client.read('/lazy-missing'));
    await expectCode('INVALID_RANGE', () => client.read('/f', { offset: 10 }));
  });

  test('a 5 MiB file streams intact, ranges and read types cross the wire', async () => {
    const data = patternBytes(5 * 1024 * 1024 + 11, 3);
    const chunks: Buffer[] = [];
    for (let i = 0; i < data.length; i += 100_000) chunks.push(data.subarray(i, i + 100_000));
    const info = await client.write('/big.bin', Readable.from(chunks), { size: data.length });
    assert.equal(info.size, data.length);
    const got = await buffer(await client.read('/big.bin'));
    assert.equal(got.length, data.length);
    assert.ok(got.equals(data), 'content differs');

    const range = await buffer(
      await client.read('/big.bin', { offset: 1024 * 1024 - 3, length: 2_000_000, readType: 'NO_CACHE' }),
    );
    assert.ok(range.equals(data.subarray(1024 * 1024 - 3, 1024 * 1024 - 3 + 2_000_000)));
    assert.deepEqual(mem.seen.read, {
      offset: 1024 * 1024 - 3,
      length: 2_000_000,
      readType: 'NO_CACHE',
      signal: undefined,
    });
  });

  test('a failure mid-stream errors the client stream instead of a short success', async () => {
    const stream = await client.read('/broken.bin');
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) received += (chunk as Buffer).length;
      })(),
      (err: unknown) => {
        assert.ok(isStrataError(err, 'UNAVAILABLE'), `got ${String(err)}`);
        return true;
      },
    );
    assert.ok(received <= 1024 * 1024, `received ${received}`);
    // The connection pool recovers for the next call.
    assert.equal((await client.status('/big.bin')).type, 'file');
  });

  test('job batches cross the wire: request and options in, one result per path out; the worker id stays home', async () => {
    await client.write('/jb/a.bin', Readable.from([Buffer.alloc(5000, 1)]), { writeType: 'THROUGH' });
    const results = await client.jobBatch(
      { op: 'load', paths: ['/jb/a.bin', '/jb/missing.bin'], options: { skipIfCached: true, verify: true } },
      { worker: 'w9' },
    );
    assert.deepEqual(results, [
      {
        path: '/jb/a.bin',
        outcome: 'done',
        bytes: 5000,
        storeBytesRead: 5000,
        cachedPercent: 100,
        repairedPages: 0,
      },
      {
        path: '/jb/missing.bin',
        error: { code: 'NOT_FOUND', message: 'no such path: /jb/missing.bin', retryable: false },
      },
    ]);
    assert.deepEqual(mem.seen.jobBatch, {
      request: {
        op: 'load',
        paths: ['/jb/a.bin', '/jb/missing.bin'],
        options: { skipIfCached: true, verify: true },
      },
      worker: undefined,
    });
  });

  test('garbage input is INVALID_ARGUMENT, never a crash', async () => {
    const cases: Array<[string, string, string | undefined]> = [
      ['GET', '/rpc/v1/read?path=/big.bin&offset=abc', undefined],
      ['GET', '/rpc/v1/read?path=/big.bin&length=-5', undefined],
      ['GET', '/rpc/v1/read?path=/big.bin&readType=FAST', undefined],
      ['GET', '/rpc/v1/status', undefined],
      ['GET', '/rpc/v1/status?syncIntervalMs=1e9999&path=/', undefined],
      ['POST', '/rpc/v1/pin', '{"path":"/big.bin","pinned":"yes"}'],
      ['POST', '/rpc/v1/ttl', '{"path":"/big.bin","ttlMs":-1}'],
      ['POST', '/rpc/v1/mkdir', '{not json'],
      ['POST', '/rpc/v1/mkdir', '[1,2]'],
      ['POST', '/rpc/v1/mount', '{"path":"/m","uri":"file:///tmp","options":{"writeType":"SOMETIMES"}}'],
      ['POST', '/rpc/v1/mount', '{"path":"/m","uri":"file:///tmp","options":{"options":{"a":1}}}'],
      ['POST', '/rpc/v1/job-batch', '{"op":"explode","paths":[]}'],
      ['POST', '/rpc/v1/job-batch', '{"op":"load"}'],
      ['POST', '/rpc/v1/job-batch', '{"op":"load","paths":["/big.bin",null]}'],
      ['POST', '/rpc/v1/job-batch', '{"op":"load","paths":[],"options":{"verify":"yes"}}'],
      ['POST', '/rpc/v1/job-batch', '{"op":"load","paths":[],"options":{"worker":"w1"}}'],
      ['POST', '/rpc/v1/job-batch', `{"op":"free","paths":[${Array(1025).fill('"/big.bin"').join(',')}]}`],
      ['GET', '/rpc/v1/job-batch', undefined],
      ['DELETE', '/rpc/v1/status?path=/', undefined],
      ['GET', '/rpc/v1/no-such-call', undefined],
    ];
    for (const [method, path, body] of cases) {
      const res = await request(`${url}${path}`, { method: method as 'GET', body: body ?? null });
      const json = (await res.body.json()) as { error?: { code?: string } };
      assert.equal(res.statusCode, 400, `${method} ${path}`);
      assert.equal(json.error?.code, 'INVALID_ARGUMENT', `${method} ${path}`);
    }
    // Non-RPC paths are left to the caller's router.
    const other = await request(`${url}/metrics`);
    assert.equal(other.statusCode, 404);
    assert.equal(await other.body.text(), 'not rpc');
  });
});

describe('worker RPC auth and availability', () => {
  test('a wrong or missing bearer token is UNAUTHENTICATED; the right one works', async () => {
    const mem = new MemoryFileSystem();
    const { server, url } = await serve(mem, 's3cret-token');
    const good = new RemoteFileSystem(url, { token: 's3cret-token' });
    const wrong = new RemoteFileSystem(url, { token: 'guess' });
    const none = new RemoteFileSystem(url);
    try {
      assert.equal((await good.status('/')).type, 'directory');
      await expectCode('UNAUTHENTICATED', () => wrong.status('/'));
      await expectCode('UNAUTHENTICATED', () => none.mounts());
      await expectCode('UNAUTHENTICATED', () =>
        wrong.write('/x', Readable.from([Buffer.alloc(1024 * 1024)])),
      );
      assert.equal(mem.files.size, 0, 'an unauthenticated write must not land');
    } finally {
      await Promise.all([good.close(), wrong.close(), none.close()]);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  // The deadline is the client's connect timeout: the outcome asserted is the error code; a hang
  // is caught by the test timeout, and the time taken is only reported.
  test('a worker that is down is UNAVAILABLE within the deadline', { timeout: 30_000 }, async (t) => {
    // Bind and release a port so nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const client = new RemoteFileSystem(`http://127.0.0.1:${port}`, { connectTimeoutMs: 1_000 });
    const started = performance.now();
    try {
      await expectCode('UNAVAILABLE', () => client.status('/'));
      await expectCode('UNAVAILABLE', () => client.read('/x'));
    } finally {
      await client.close();
    }
    t.diagnostic(
      `UNAVAILABLE after ${(performance.now() - started).toFixed(0)} ms (connect timeout 1000 ms)`,
    );
  });

  // TIMEOUT is the request deadline's own code (the connection was accepted, so only the deadline
  // can end the call); a hang is caught by the test timeout, and the time taken is only reported.
  test('a worker that accepts but never answers is TIMEOUT within the request deadline', {
    timeout: 30_000,
  }, async (t) => {
    const silent = createServer(() => {
      // never answers
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const client = new RemoteFileSystem(`http://127.0.0.1:${port}`, { requestTimeoutMs: 300 });
    const started = performance.now();
    try {
      await expectCode('TIMEOUT', () => client.status('/'));
    } finally {
      await client.close();
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
    t.diagnostic(`TIMEOUT after ${(performance.now() - started).toFixed(0)} ms (request timeout 300 ms)`);
  });
});
