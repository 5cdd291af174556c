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

/**
 * A fake worker serving DATA for every path, with a fingerprint. With `dieAfter`, a read sends that
 * many bytes and then fails — not after a pause, but once the test calls die(), which it does when
 * the client has received those bytes: so the break always comes midway, after bytes that count.
 */
class FakeWorker extends MemoryFileSystem {
  reads = 0;
  /** Offset of every read served. */
  readonly offsets: number[] = [];
  die: () => void = () => undefined;
  private readonly dead = new Promise<void>((ok) => {
    this.die = ok;
  });
  constructor(
    private readonly fingerprint: string,
    private readonly dieAfter?: number,
  ) {
    super();
  }
  override async read(_path: string, options: ReadOptions = {}): Promise<Readable> {
    this.reads++;
    const offset = options.offset ?? 0;
    this.offsets.push(offset);
    const length = options.length ?? DATA.length - offset;
    const slice = DATA.subarray(offset, offset + length);
    const cut = this.dieAfter;
    const dead = this.dead;
    const stream =
      cut === undefined
        ? Readable.from([slice])
        : Readable.from(
            (async function* () {
              yield slice.subarray(0, cut);
              await dead;
              throw new Error('worker crashed mid-read');
            })(),
          );
    return Object.assign(stream, { contentLength: slice.length, fingerprint: this.fingerprint });
  }
}

/** Reads a whole stream; once `cut` bytes have arrived, the dying worker's read fails. */
async function readWhileDying(stream: Readable, dying: FakeWorker, cut: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    received += (chunk as Buffer).length;
    if (received >= cut) dying.die();
  }
  return Buffer.concat(chunks);
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
  const cut = 1024 * 1024;
  const flaky = new FakeWorker('fp1', cut);
  const healthy = new FakeWorker('fp1');
  const workers = [worker('a', await serve(flaky)), worker('b', await serve(healthy))];
  const fs = await ClusterFileSystem.open({ listWorkers: async () => workers });
  try {
    const path = pathOwnedBy(fs, 'a');
    assert.ok(
      (await readWhileDying(await fs.read(path), flaky, cut)).equals(DATA),
      'whole file, no duplicated or missing bytes',
    );
    assert.equal(flaky.reads, 1);
    assert.deepEqual(
      healthy.offsets,
      [cut],
      'the next owner is asked for the rest, from the byte it broke at',
    );
  } finally {
    await fs.close();
  }
});

test('a resumed read refuses a replica whose content differs', async () => {
  const cut = 1024 * 1024;
  const flaky = new FakeWorker('fp1', cut);
  const other = new FakeWorker('fp2');
  const workers = [worker('a', await serve(flaky)), worker('b', await serve(other))];
  const fs = await ClusterFileSystem.open({ listWorkers: async () => workers });
  try {
    const path = pathOwnedBy(fs, 'a');
    await assert.rejects(readWhileDying(await fs.read(path), flaky, cut), (err: unknown) =>
      isStrataError(err, 'FINGERPRINT_CHANGED'),
    );
    assert.deepEqual(other.offsets, [cut], 'the replica was asked to resume, and refused');
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
