import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { isStrataError } from '../../src/core/errors.js';
import { writeFixtureTree } from '../../src/ufs/contract.js';
import { createUnderStore } from '../../src/ufs/factory.js';
import { HttpUnderStore, parseEtag } from '../../src/ufs/http/http-store.js';
import { type NginxServer, startNginx } from '../helpers/nginx.js';
import { describeUfsContract } from '../helpers/ufs-contract.js';

const code = (c: string) => (err: unknown) => {
  assert.ok(isStrataError(err), `not a StrataError: ${String(err)}`);
  assert.equal(err.code, c, err.message);
  return true;
};

describeUfsContract('http (nginx)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-http-contract-'));
  await writeFixtureTree(join(dir, 'fixture'));
  const nginx = await startNginx(dir);
  return {
    store: new HttpUnderStore(new URL(nginx.url), {}),
    fixtureDir: '/fixture',
    close: async () => {
      await nginx.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('http under-store against nginx', () => {
  let dir: string;
  let nginx: NginxServer;
  let htmlNginx: NginxServer;
  let store: HttpUnderStore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-http-'));
    await writeFixtureTree(join(dir, 'data', 'fixture'));
    nginx = await startNginx(join(dir, 'data'));
    htmlNginx = await startNginx(join(dir, 'data'), { autoindexFormat: 'html' });
    // A base path below the server root, given with credentials that must not show in `uri`.
    const uri = `${nginx.url.replace('http://', 'http://user:s3cret@')}/fixture`;
    store = (await createUnderStore(uri, { timeoutMs: '5000' })) as HttpUnderStore;
  });
  after(async () => {
    await store?.close();
    await nginx?.stop();
    await htmlNginx?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('URI keeps its base path and drops credentials', async () => {
    assert.ok(store instanceof HttpUnderStore);
    assert.equal(store.uri, `${nginx.url}/fixture`);
    assert.equal((await store.status('/small.txt')).size, 14);
  });

  test('writes are READ_ONLY', async () => {
    await assert.rejects(store.write('/new.txt', Readable.from([Buffer.from('x')])), code('READ_ONLY'));
    await assert.rejects(store.delete('/small.txt'), code('READ_ONLY'));
    await assert.rejects(store.mkdir('/d'), code('READ_ONLY'));
    await assert.rejects(store.rename('/small.txt', '/b.txt'), code('READ_ONLY'));
  });

  test('status carries Last-Modified and the ETag without quotes', async () => {
    const s = await store.status('/small.txt');
    assert.match(s.etag ?? '', /^[0-9a-f]+-[0-9a-f]+$/);
    assert.ok(Math.abs(s.mtimeMs - Date.now()) < 10 * 60_000, `mtime ${s.mtimeMs}`);
    assert.equal(parseEtag('W/"abc"'), 'W/abc');
    assert.equal(parseEtag('"abc"'), 'abc');
  });

  test('reading a directory is IS_A_DIRECTORY; listing a deeper directory works', async () => {
    await assert.rejects(store.read('/dir'), code('IS_A_DIRECTORY'));
    const names = (await store.listAll('/dir')).map((e) => `${e.type}:${e.path}`);
    assert.deepEqual(names, ['directory:/dir/deeper', 'file:/dir/nested.txt']);
  });

  test('a file replaced after status() makes the next read FINGERPRINT_CHANGED, then reads the new one', async () => {
    const file = join(dir, 'data', 'mutable', 'changing.txt');
    await mkdir(join(dir, 'data', 'mutable'));
    await writeFile(file, 'version one, long enough');
    await utimes(file, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const whole = new HttpUnderStore(new URL(nginx.url), {});
    try {
      const before = await whole.status('/mutable/changing.txt');
      assert.equal(
        (await buffer(await whole.read('/mutable/changing.txt', { offset: 8, length: 3 }))).toString(),
        'one',
      );
      await writeFile(file, 'version two, long enough');
      await assert.rejects(
        whole.read('/mutable/changing.txt', { offset: 8, length: 3 }).then((s) => buffer(s)),
        code('FINGERPRINT_CHANGED'),
      );
      assert.equal(
        (await buffer(await whole.read('/mutable/changing.txt', { offset: 8, length: 3 }))).toString(),
        'two',
      );
      assert.notEqual((await whole.status('/mutable/changing.txt')).etag, before.etag);
    } finally {
      await whole.close();
    }
  });

  test('an HTML index is listed too, with sizes, and pages', async () => {
    const html = new HttpUnderStore(new URL(`${htmlNginx.url}/fixture/`), {});
    try {
      const entries = await html.listAll('/');
      assert.deepEqual(
        entries.map((e) => `${e.type}:${e.path}:${e.size}`),
        [
          'file:/big.bin:3145745',
          'directory:/dir:0',
          'file:/empty.txt:0',
          'file:/small.txt:14',
          'file:/ünï côde & space.txt:8',
        ],
      );
      const first = await html.list('/', { limit: 2 });
      assert.equal(first.entries.length, 2);
      assert.ok(first.nextToken);
      const second = await html.list('/', { limit: 2, token: first.nextToken });
      assert.notEqual(second.entries[0]?.path, first.entries[1]?.path);
    } finally {
      await html.close();
    }
  });
});

describe('http under-store against a misbehaving server', () => {
  let server: Server;
  let base: string;
  const handler: { fn: (req: IncomingMessage, res: ServerResponse) => void } = { fn: () => undefined };

  before(async () => {
    server = createServer((req, res) => handler.fn(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  test('HTTP 500 is UFS_UNAVAILABLE for status, read and list', async () => {
    handler.fn = (_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    };
    const store = new HttpUnderStore(new URL(base), {});
    try {
      await assert.rejects(store.status('/a.txt'), code('UFS_UNAVAILABLE'));
      await assert.rejects(store.read('/a.txt'), code('UFS_UNAVAILABLE'));
      await assert.rejects(store.list('/'), code('UFS_UNAVAILABLE'));
    } finally {
      await store.close();
    }
  });

  test('401/403 are PERMISSION_DENIED; header.Authorization is sent', async () => {
    handler.fn = (req, res) => {
      if (req.headers.authorization !== 'Bearer t0ken' || req.url === '/forbidden') {
        res.statusCode = req.url === '/forbidden' ? 403 : 401;
        res.end();
        return;
      }
      res.setHeader('content-length', '2');
      res.end(req.method === 'HEAD' ? undefined : 'ok');
    };
    const anonymous = new HttpUnderStore(new URL(base), {});
    const authed = new HttpUnderStore(new URL(base), { 'header.Authorization': 'Bearer t0ken' });
    try {
      await assert.rejects(anonymous.read('/a.txt'), code('PERMISSION_DENIED'));
      assert.equal((await authed.status('/a.txt')).size, 2);
      assert.equal((await buffer(await authed.read('/a.txt'))).toString(), 'ok');
      await assert.rejects(authed.status('/forbidden'), code('PERMISSION_DENIED'));
    } finally {
      await anonymous.close();
      await authed.close();
    }
  });

  // The server took the request and never answers, so only the timeoutMs deadline can end the
  // call; a store that does not answer is UFS_UNAVAILABLE (the message names the deadline). A hang is caught by the test timeout; the time is reported.
  test('a server that never answers is UFS_UNAVAILABLE after timeoutMs', { timeout: 30_000 }, async (t) => {
    let received = 0;
    handler.fn = () => {
      received++; // holds the request open
    };
    const store = new HttpUnderStore(new URL(base), { timeoutMs: '300' });
    try {
      const started = performance.now();
      await assert.rejects(store.status('/slow.txt'), code('UFS_UNAVAILABLE'));
      t.diagnostic(`UFS_UNAVAILABLE after ${(performance.now() - started).toFixed(0)} ms (timeoutMs 300)`);
      assert.ok(received >= 1, 'the server never saw the request: the failure is not the deadline');
    } finally {
      await store.close().catch(() => undefined);
    }
  });

  test('a server that ignores Range still gives the right bytes', async () => {
    const body = Buffer.from('0123456789abcdef');
    handler.fn = (req, res) => {
      res.setHeader('content-length', String(body.length));
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const store = new HttpUnderStore(new URL(base), {});
    try {
      assert.equal((await buffer(await store.read('/f', { offset: 3, length: 4 }))).toString(), '3456');
      assert.equal((await buffer(await store.read('/f', { offset: 10 }))).toString(), 'abcdef');
      await assert.rejects(store.read('/f', { offset: 17, length: 1 }), code('INVALID_RANGE'));
    } finally {
      await store.close();
    }
  });

  test('a refused connection is UFS_UNAVAILABLE', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    await once(probe, 'close');
    const store = new HttpUnderStore(new URL(`http://127.0.0.1:${port}/x`), {});
    try {
      await assert.rejects(store.status('/a'), code('UFS_UNAVAILABLE'));
    } finally {
      await store.close();
    }
  });
});
