import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { StrataFileSystem } from '../../src/client/types.js';
import { type S3GatewayServer, startS3GatewayServer } from '../../src/gateway/s3/index.js';
import { MemoryFileSystem } from '../rpc/memory-file-system.js';
import { ACCESS_KEY, SECRET_KEY } from './harness.js';
import { signedHeaders } from './sign.js';

/**
 * The gateway's listener closes connections whose client stalls — no header section, an idle
 * keep-alive connection, a body that stops coming, an answer nobody reads — and keeps the ones
 * that make progress however long they take, and the ones waiting on the gateway itself. Small
 * timeouts (the `timeouts` option); every wait is for an event (a socket's 'close', a response),
 * bounded by a deadline that fails the test, never a sleep.
 */

const TIMEOUTS = { headersMs: 300, keepAliveMs: 300, idleMs: 400, checkIntervalMs: 50 };
const DEADLINE_MS = 10_000;
const MiB = 1024 * 1024;

/** Resolves with the socket's 'close' (and what it received); rejects after the deadline. */
function closed(socket: Socket, what: string, read = true): Promise<{ ms: number; data: string }> {
  const start = Date.now();
  let data = '';
  if (read)
    socket.setEncoding('latin1').on('data', (d: string) => {
      data += d;
    });
  socket.on('error', () => undefined);
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new Error(`${what}: still open after ${DEADLINE_MS} ms`));
    }, DEADLINE_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      ok({ ms: Date.now() - start, data });
    });
  });
}

async function open(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}

describe('S3 gateway connection timeouts', () => {
  const mem = new MemoryFileSystem();
  /** Resolves the held status() call of /b/slow. */
  let releaseSlow: (() => void) | undefined;
  let slowEntered: (() => void) | undefined;
  const fs = new Proxy(mem, {
    get(target, prop, receiver) {
      if (prop === 'status')
        return async (path: string, o?: object) => {
          if (path === '/b/slow') {
            slowEntered?.();
            await new Promise<void>((ok) => {
              releaseSlow = ok;
            });
          }
          return target.status(path, o);
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as StrataFileSystem;
  let gw: S3GatewayServer;
  let port: number;

  before(async () => {
    await mem.mkdir('/b');
    await mem.write('/b/slow', Readable.from([Buffer.from('worth the wait')]));
    await mem.write('/b/big', Readable.from([Buffer.alloc(32 * MiB, 7)]));
    gw = await startS3GatewayServer(fs, {
      credentials: new Map([[ACCESS_KEY, SECRET_KEY]]),
      port: 0,
      timeouts: TIMEOUTS,
    });
    port = Number(new URL(gw.url).port);
  });
  after(async () => {
    await gw?.close();
  });

  test('a connection that sends nothing is closed after the header timeout, unanswered', async (t) => {
    const socket = await open(port);
    const r = await closed(socket, 'idle connection');
    t.diagnostic(`closed after ${r.ms} ms (timeout ${TIMEOUTS.headersMs} ms)`); // reported, not asserted (no elapsed-time assertions)
    assert.equal(r.data, '', 'nothing sent to a client that asked nothing');
  });

  test('a half-sent header section is closed with 400 RequestTimeout', async (t) => {
    const socket = await open(port);
    socket.write(`GET /b/slow HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nx-amz-date: 2026`);
    const r = await closed(socket, 'half-sent header');
    t.diagnostic(`closed after ${r.ms} ms (timeout ${TIMEOUTS.headersMs} ms)`); // reported, not asserted (no elapsed-time assertions)
    assert.match(r.data, /^HTTP\/1\.1 400 /);
    assert.match(r.data, /<Code>RequestTimeout<\/Code>/);
  });

  test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const socket = await open(port);
    const done = closed(socket, 'keep-alive connection');
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    const r = await done;
    assert.match(r.data, /^HTTP\/1\.1 403 /, 'answered, then closed once idle');
    assert.doesNotMatch(r.data, /connection: close/i, 'closed by the keep-alive timeout, not by the answer');
  });

  test('a body that stops coming is cut with 400 RequestTimeout; nothing is stored', async () => {
    const url = `http://127.0.0.1:${port}/b/stalled`;
    const headers = await signedHeaders(url, 'PUT', { 'content-length': '1000' });
    const socket = await open(port);
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.write(`PUT /b/stalled HTTP/1.1\r\n${lines.join('')}\r\n${'x'.repeat(10)}`);
    const r = await closed(socket, 'stalled body');
    assert.match(r.data, /^HTTP\/1\.1 400 /);
    assert.match(r.data, /<Code>RequestTimeout<\/Code>/);
    await assert.rejects(mem.status('/b/stalled'), { code: 'NOT_FOUND' });
  });

  test('an upload that keeps sending is never cut, however long it takes', async () => {
    const url = `http://127.0.0.1:${port}/b/trickle`;
    const pieces = 12; // one every 100 ms: 1.2 s in all, three times the idle timeout
    const headers = await signedHeaders(url, 'PUT', { 'content-length': String(pieces * 100) });
    const status = await new Promise<number>((ok, fail) => {
      const req = request(url, { method: 'PUT', headers }, (res) => {
        res.resume();
        ok(res.statusCode ?? 0);
      });
      req.on('error', fail);
      let sent = 0;
      const tick = setInterval(() => {
        req.write(Buffer.alloc(100, 'a'));
        if (++sent === pieces) {
          clearInterval(tick);
          req.end();
        }
      }, 100);
    });
    assert.equal(status, 200);
    assert.equal((await mem.status('/b/trickle')).size, pieces * 100);
  });

  test("time the gateway spends waiting on its store does not count as the client's idleness", async () => {
    const entered = new Promise<void>((ok) => {
      slowEntered = ok;
    });
    const url = `http://127.0.0.1:${port}/b/slow`;
    const headers = await signedHeaders(url, 'GET');
    const answer = new Promise<{ status: number; body: string }>((ok, fail) => {
      const req = request(url, { headers }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', fail);
      req.end();
    });
    await entered;
    // Two idle probes closed one after the other: more than the idle timeout has passed.
    for (let i = 0; i < 2; i++) await closed(await open(port), 'probe');
    releaseSlow!();
    assert.deepEqual(await answer, { status: 200, body: 'worth the wait' });
  });

  test('a download nobody reads is cut; a slow reader is not', async (t) => {
    const url = `http://127.0.0.1:${port}/b/big`;
    // The gateway's side of the connection: the client's side cannot see the close while the
    // answer's bytes sit unread in front of it.
    const serverSide = new Map<number, Socket>();
    const onConnection = (s: Socket) => serverSide.set(s.remotePort ?? 0, s);
    gw.server.on('connection', onConnection);
    const stalled = await new Promise<Socket>((ok, fail) => {
      signedHeaders(url, 'GET').then((headers) => {
        const req = request(url, { headers, agent: false }, (res) => {
          res.pause(); // never read
          ok(res.socket);
        });
        req.on('error', () => undefined);
        req.on('socket', (s) => s.on('error', () => undefined));
        req.end();
      }, fail);
    });
    gw.server.off('connection', onConnection);
    const theirs = serverSide.get(stalled.localPort ?? -1);
    assert.ok(theirs, "the gateway's socket of the download");
    const r = await closed(theirs, 'unread download', false);
    t.diagnostic(`closed after ${r.ms} ms (timeout ${TIMEOUTS.idleMs} ms)`); // reported, not asserted (no elapsed-time assertions)
    stalled.destroy();

    // Reads 1 MiB, pauses 100 ms, and so on: far longer than the idle timeout, never idle that long.
    const got = await new Promise<number>((ok, fail) => {
      signedHeaders(url, 'GET').then((headers) => {
        const req = request(url, { headers, agent: false }, (res) => {
          let n = 0;
          let sinceBreak = 0;
          res.on('data', (d: Buffer) => {
            n += d.length;
            sinceBreak += d.length;
            if (sinceBreak >= MiB) {
              sinceBreak = 0;
              res.pause();
              setTimeout(() => res.resume(), 100);
            }
          });
          res.on('end', () => ok(n));
          res.on('error', fail);
        });
        req.on('error', fail);
        req.end();
      }, fail);
    });
    assert.equal(got, 32 * MiB);
  });
});
