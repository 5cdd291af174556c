import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RemoteFileSystem } from '../../src/client/remote-file-system.js';
import { loadServerConfig } from '../../src/core/config.js';
import { isStrataError } from '../../src/core/errors.js';
import { type LocalProcess, startLocal } from '../../src/server/local.js';
import { tempDir } from '../helpers/local-process.js';

/**
 * An AbortSignal given to a StrataFileSystem call reaches the under-store request it is waiting
 * on: the origin (a real HTTP server behind an http:// mount) sees its request closed. Checked
 * in process (WorkerFileSystem) and over the RPC (RemoteFileSystem → worker → store).
 */
describe('AbortSignal down to the store call', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let local: LocalProcess;
  let origin: Server;
  /** Requests for /slow/* the origin holds without answering. */
  const held: IncomingMessage[] = [];
  const arrived: Array<() => void> = [];

  before(async () => {
    tmp = await tempDir('abort');
    origin = createServer((req, res) => {
      if (req.url?.startsWith('/slow/')) {
        held.push(req);
        for (const wake of arrived.splice(0)) wake();
        return; // never answered: only the client closing ends it
      }
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': 0 }).end();
    });
    origin.listen(0, '127.0.0.1');
    await once(origin, 'listening');
    const port = (origin.address() as AddressInfo).port;
    const config = await loadServerConfig({ dataDir: join(tmp.dir, 'data'), port: '0', s3Port: 'off' });
    local = await startLocal(config);
    await local.node.fs.mount('/h', `http://127.0.0.1:${port}/`, { syncIntervalMs: 0 });
  });

  after(async () => {
    await local?.stop();
    origin?.closeAllConnections();
    origin?.close();
    await tmp?.cleanup();
  });

  /** Resolves when the client side of a held request goes away (node reports it as 'aborted'). */
  function closedBy(req: IncomingMessage): Promise<void> {
    req.on('error', () => undefined); // ECONNRESET "aborted": exactly what is expected
    return new Promise((done) => req.once('close', () => done()));
  }

  /** Resolves when the origin holds a request for `path`, with that request. */
  async function heldRequest(path: string): Promise<IncomingMessage> {
    for (;;) {
      const req = held.find((r) => r.url === path);
      if (req) return req;
      await new Promise<void>((wake) => arrived.push(wake));
    }
  }

  test('in process: aborting a status() closes the HEAD the worker sent to the origin', async () => {
    const controller = new AbortController();
    const call = local.node.fs.status('/h/slow/a.bin', { signal: controller.signal });
    const req = await heldRequest('/slow/a.bin');
    const closed = closedBy(req);
    controller.abort();
    await assert.rejects(call, (err: unknown) => isStrataError(err, 'CANCELLED'));
    await closed;
  });

  test('over the RPC: a client that aborts makes the worker close its store request', async () => {
    const client = new RemoteFileSystem(local.ready.addresses.worker!);
    try {
      const controller = new AbortController();
      const call = client.status('/h/slow/b.bin', { signal: controller.signal });
      const req = await heldRequest('/slow/b.bin');
      const closed = closedBy(req);
      controller.abort();
      await assert.rejects(call, (err: unknown) => isStrataError(err, 'CANCELLED'));
      await closed; // the worker saw its caller go away and aborted the store call
    } finally {
      await client.close();
    }
  });

  test('an already-aborted signal: every method rejects with CANCELLED and the origin sees nothing', async () => {
    const fs = local.node.fs;
    const signal = AbortSignal.abort();
    const before = held.length;
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['status', () => fs.status('/h/slow/c.bin', { signal })],
      ['list', () => fs.list('/h', { signal })],
      ['read', () => fs.read('/h/slow/c.bin', { signal })],
      ['mkdir', () => fs.mkdir('/h/d', { signal })],
      ['delete', () => fs.delete('/h/slow/c.bin', { signal })],
      ['rename', () => fs.rename('/h/slow/c.bin', '/h/slow/d.bin', { signal })],
      ['mounts', () => fs.mounts({ signal })],
      ['load', () => fs.load('/h/slow/c.bin', { signal })],
      ['free', () => fs.free('/h/slow/c.bin', { signal })],
      ['pin', () => fs.pin('/h/slow/c.bin', true, { signal })],
      ['setTtl', () => fs.setTtl('/h/slow/c.bin', 1000, 'free', { signal })],
      ['du', () => fs.du('/h', { signal })],
      ['report', () => fs.report({ signal })],
      ['unmount', () => fs.unmount('/h', { signal })],
      ['mount', () => fs.mount('/h2', 'file:///tmp', { signal })],
    ];
    for (const [name, call] of calls)
      await assert.rejects(call(), (err: unknown) => isStrataError(err, 'CANCELLED'), name);
    assert.equal(held.length, before);
    assert.deepEqual(
      (await fs.mounts()).map((m) => m.path).filter((p) => p === '/h' || p === '/h2'),
      ['/h'],
    );
  });
});
