import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { isStrataError } from '../../src/core/errors.js';
import { DEFAULT_HTTP_TIMEOUT_MS, HttpUnderStore } from '../../src/ufs/http/http-store.js';
import { DEFAULT_STORE_DEADLINE_MS, InstrumentedStore } from '../../src/ufs/instrumented-store.js';

const code = (c: string, pattern?: RegExp) => (err: unknown) => {
  assert.ok(isStrataError(err), `not a StrataError: ${String(err)}`);
  assert.equal(err.code, c, err.message);
  if (pattern) assert.match(err.message, pattern);
  return true;
};

function urlOf(server: { address(): AddressInfo | string | null }): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

test('the http connector and the store deadline both default to 10 s', () => {
  assert.equal(DEFAULT_HTTP_TIMEOUT_MS, 10_000);
  assert.equal(DEFAULT_STORE_DEADLINE_MS, 10_000);
  assert.equal(new InstrumentedStore(new HttpUnderStore(new URL('http://127.0.0.1:1/'))).deadlineMs, 10_000);
});

describe('an origin that accepts connections and never answers', () => {
  const sockets = new Set<Socket>();
  const silent = createNetServer((socket) => {
    // Accept, read whatever is sent, never write a byte.
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  before(async () => {
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    silent.close();
    await once(silent, 'close');
  });

  test('status and read fail UFS_UNAVAILABLE after the connector timeoutMs, naming the call and the option', async () => {
    const store = new HttpUnderStore(new URL(urlOf(silent)), { timeoutMs: '200' });
    try {
      await assert.rejects(
        store.status('/file.bin'),
        code('UFS_UNAVAILABLE', /HEAD \/file\.bin.*200 ms.*timeoutMs/),
      );
      await assert.rejects(
        store.read('/file.bin', { offset: 0, length: 10 }),
        code('UFS_UNAVAILABLE', /GET \/file\.bin.*200 ms.*timeoutMs/),
      );
    } finally {
      await store.close();
    }
  });

  test('the store deadline bounds the call when the connector would wait longer', async () => {
    const store = new InstrumentedStore(new HttpUnderStore(new URL(urlOf(silent)), { timeoutMs: '600000' }), {
      deadlineMs: 200,
    });
    try {
      await assert.rejects(
        store.read('/file.bin', { offset: 0, length: 10 }),
        code('UFS_UNAVAILABLE', /read \/file\.bin.*200 ms/),
      );
      await assert.rejects(store.status('/file.bin'), code('UFS_UNAVAILABLE', /status \/file\.bin.*200 ms/));
    } finally {
      await store.close();
    }
  });
});

describe('an origin that closes pooled keep-alive connections between requests', () => {
  let server: Server;
  /** Requests seen per connection; the origin answers only the first one on each. */
  const perSocket = new Map<Socket, number>();
  let requests = 0;
  let dropped = 0;
  let alwaysClose = false;
  const body = Buffer.from('0123456789abcdef');

  before(async () => {
    server = createHttpServer((req, res) => {
      requests++;
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (n > 1 || alwaysClose) {
        // The origin had closed this idle connection just as the client reused it.
        dropped++;
        req.socket.destroy();
        return;
      }
      // Advertise a long keep-alive, so the client pools the connection.
      res.setHeader('keep-alive', 'timeout=60');
      res.setHeader('etag', '"v1"');
      if (req.method === 'HEAD') {
        res.setHeader('content-length', body.length);
        res.end();
        return;
      }
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (m) {
        const slice = body.subarray(Number(m[1]), Number(m[2]) + 1);
        res.writeHead(206, {
          'content-range': `bytes ${m[1]}-${Number(m[1]) + slice.length - 1}/${body.length}`,
          'content-length': slice.length,
        });
        res.end(slice);
        return;
      }
      res.setHeader('content-length', body.length);
      res.end(body);
    });
    server.keepAliveTimeout = 60_000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  test('an idempotent request on a connection the origin closed is retried once on a new one', async () => {
    const store = new HttpUnderStore(new URL(urlOf(server)), { timeoutMs: '5000' });
    try {
      alwaysClose = false;
      dropped = 0;
      // undici closes the connection after a HEAD, so GETs are the requests that reuse one; a few
      // in a row reuse a pooled connection (which one is undici's choice), and the origin drops it.
      for (const [offset, want] of [
        [0, '0123'],
        [2, '2345'],
        [4, '4567'],
        [6, '6789'],
        [8, '89ab'],
      ] as const) {
        assert.equal((await buffer(await store.read('/f', { offset, length: 4 }))).toString(), want);
      }
      assert.equal((await buffer(await store.read('/f'))).toString(), body.toString());
      assert.equal((await store.status('/f')).size, body.length);
      assert.ok(dropped >= 1, 'the origin dropped at least one reused connection');
    } finally {
      await store.close();
    }
  });

  test('the retry happens once: an origin that drops every request fails UFS_UNAVAILABLE after two tries', async () => {
    const store = new HttpUnderStore(new URL(urlOf(server)), { timeoutMs: '5000' });
    try {
      alwaysClose = true;
      requests = 0;
      await assert.rejects(store.status('/f'), code('UFS_UNAVAILABLE'));
      assert.equal(requests, 2);
    } finally {
      alwaysClose = false;
      await store.close();
    }
  });
});
