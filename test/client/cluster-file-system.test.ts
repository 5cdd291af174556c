import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { ClusterFileSystem } from '../../src/client/cluster-file-system.js';
import type { ReadOptions } from '../../src/client/types.js';
import { isStrataError } from '../../src/core/errors.js';
import type { WorkerInfo } from '../../src/registry/registry.js';
import { createRpcHandler } from '../../src/server/rpc-server.js';
import { collect } from '../../src/worker/file-system.js';
import { MemoryFileSystem } from '../rpc/memory-file-system.js';

const DATA = randomBytes(3 * 1024 * 1024 + 5);

/** A fake worker serving DATA for every path, with a fingerprint, optionally dying after 1 MiB. */
class FakeWorker extends MemoryFileSystem {
  reads = 0;
  constructor(
    private readonly fingerprint: string,
    private readonly dieAfter?: number,
  ) {
    super();
  }
  override async read(_path: string, options: ReadOptions = {}): Promise<Readable> {
    this.reads++;
    const offset = options.offset ?? 0;
    const length = options.length ?? DATA.length - offset;
    const slice = DATA.subarray(offset, offset + length);
    const cut = this.dieAfter;
    const stream =
      cut === undefined
        ? Readable.from([slice])
        : Readable.from(
            (async function* () {
              yield slice.subarray(0, cut);
              await new Promise((r) => setTimeout(r, 10));
              throw new Error('worker crashed mid-read');
            })(),
          );
    return Object.assign(stream, { contentLength: slice.length, fingerprint: this.fingerprint });
  }
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function serve(fs: FakeWorker): Promise<string> {
  const handler = createRpcHandler(fs);
  const server = createServer((req, res) => {
    handler(req, res).catch(() => res.destroy());
  });
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const worker = (id: string, address: string): WorkerInfo => ({
  id,
  address,
  capacityBytes: 1,
  state: 'ACTIVE',
  version: 't',
  startedAtMs: 0,
});

/** A path whose primary owner is `id`. */
function pathOwnedBy(fs: ClusterFileSystem, id: string): string {
  for (let i = 0; i < 1000; i++) if (fs.location(`/f${i}`)[0]?.id === id) return `/f${i}`;
  throw new Error('no such path');
}

test('a read that breaks midway resumes on the next owner at the same byte', async () => {
  const flaky = new FakeWorker('fp1', 1024 * 1024);
  const healthy = new FakeWorker('fp1');
  const workers = [worker('a', await serve(flaky)), worker('b', await serve(healthy))];
  const fs = await ClusterFileSystem.open({ listWorkers: async () => workers });
  try {
    const path = pathOwnedBy(fs, 'a');
    assert.ok(
      (await collect(await fs.read(path))).equals(DATA),
      'whole file, no duplicated or missing bytes',
    );
    assert.equal(flaky.reads, 1);
    assert.equal(healthy.reads, 1);
  } finally {
    await fs.close();
  }
});

test('a resumed read refuses a replica whose content differs', async () => {
  const workers = [
    worker('a', await serve(new FakeWorker('fp1', 1024 * 1024))),
    worker('b', await serve(new FakeWorker('fp2'))),
  ];
  const fs = await ClusterFileSystem.open({ listWorkers: async () => workers });
  try {
    const path = pathOwnedBy(fs, 'a');
    await assert.rejects(collect(await fs.read(path)), (err: unknown) =>
      isStrataError(err, 'FINGERPRINT_CHANGED'),
    );
  } finally {
    await fs.close();
  }
});

test('a dead primary is skipped for the next owner', async () => {
  const dead = createServer();
  await new Promise<void>((ok) => dead.listen(0, '127.0.0.1', ok));
  const deadAddress = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
  await new Promise<void>((ok) => dead.close(() => ok())); // nothing listens there now
  const healthy = new FakeWorker('fp1');
  const workers = [worker('a', deadAddress), worker('b', await serve(healthy))];
  const fs = await ClusterFileSystem.open({ listWorkers: async () => workers }, { connectTimeoutMs: 500 });
  try {
    const path = pathOwnedBy(fs, 'a');
    assert.ok((await collect(await fs.read(path))).equals(DATA));
    for (let i = 0; i < 5; i++) assert.ok((await collect(await fs.read(path))).equals(DATA));
    assert.equal(healthy.reads, 6);
  } finally {
    await fs.close();
  }
});
