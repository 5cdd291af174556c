import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadServerConfig } from '../../src/core/config.js';
import { EmbeddedRegistry } from '../../src/registry/embedded-registry.js';
import { WorkerNode } from '../../src/server/worker-node.js';
import { waitFor } from '../helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** One sample of a gauge from the worker's Prometheus registry. */
async function gauge(node: WorkerNode, name: string): Promise<number> {
  const metric = node.metrics.registry.getSingleMetric(name);
  assert.ok(metric, `${name} is exported`);
  return (await metric.get()).values.reduce((a, v) => a + v.value, 0);
}

/** Waits for a stream's first chunk, then pauses it: a reader that stopped consuming. */
function firstChunkThenPause(stream: Readable): Promise<Buffer> {
  return new Promise((ok, fail) => {
    stream.once('error', fail);
    stream.once('data', (chunk: Buffer) => {
      stream.pause();
      ok(chunk);
    });
  });
}

/** The rest of a paused stream. */
async function rest(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('slow readers are bounded by the memory quota (a worker with a 1 MiB memory tier)', () => {
  let dir: string;
  let registry: EmbeddedRegistry;
  let node: WorkerNode;
  const file = randomBytes(40 * MiB);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-read-budget-'));
    await mkdir(join(dir, 'ufs'));
    await writeFile(join(dir, 'ufs', 'big.bin'), file);
    registry = new EmbeddedRegistry(join(dir, 'registry'));
    await registry.open();
    const config = await loadServerConfig(
      {
        dataDir: join(dir, 'data'),
        pageSize: '64KiB',
        memoryCapacity: '1MiB',
        diskCapacity: '256MiB',
        mounts: `/m=${pathToFileURL(join(dir, 'ufs'))}`,
        s3Port: 'off',
      },
      {},
    );
    node = new WorkerNode(config, registry);
    await node.start('http://127.0.0.1:1', registry.uri, { defaultRootMount: false });
  });
  after(async () => {
    await node?.stop();
    await registry?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('60 paused readers of large ranges hold no more than the read budget ahead; every reader finishes once resumed; the bytes come back', async () => {
    const capacity = await gauge(node, 'strata_read_buffer_capacity_bytes');
    assert.equal(capacity, 256 * KiB, 'a quarter of the memory tier (and one readahead of 4 pages)');
    assert.equal(node.fs.reader.budget.capacityBytes, capacity);

    // Each reader starts at its own offset, so no two share pages: 60 × 640 KiB ranges.
    const span = 640 * KiB;
    const readers = await Promise.all(
      Array.from({ length: 60 }, async (_, k) => {
        const offset = k * span + 1000;
        const stream = await node.fs.read('/m/big.bin', { offset, length: span });
        return { offset, stream, first: await firstChunkThenPause(stream) };
      }),
    );
    // Every store run started for them settles (stored or handed to the readers).
    await waitFor(() => node.fs.reader.inflightPages === 0, { what: 'no store run in flight' });
    const held = await gauge(node, 'strata_read_buffered_bytes');
    assert.ok(held <= capacity, `held ahead ${held} <= budget ${capacity}`);
    assert.ok(node.fs.reader.budget.peakBytes <= capacity, `peak ${node.fs.reader.budget.peakBytes}`);
    assert.ok(held > 0, 'the readers that came first did read ahead');

    // Backpressure, not deadlock: resumed, every reader gets its exact bytes.
    const results = await Promise.all(
      readers.map(async (r) => Buffer.concat([r.first, await rest(r.stream)])),
    );
    for (const [k, got] of results.entries()) {
      const { offset } = readers[k]!;
      assert.ok(got.equals(file.subarray(offset, offset + span)), `reader ${k}`);
    }
    assert.ok(node.fs.reader.budget.peakBytes <= capacity, `peak ${node.fs.reader.budget.peakBytes}`);
    // Nothing stays reserved once the readers are done.
    await waitFor(async () => (await gauge(node, 'strata_read_buffered_bytes')) === 0, {
      what: 'the read budget returned',
    });
  });

  test('readers that go away return what they held ahead', async () => {
    const streams = await Promise.all(
      Array.from({ length: 10 }, async (_, k) => {
        const s = await node.fs.read('/m/big.bin', { offset: (k + 5) * MiB, length: MiB });
        await firstChunkThenPause(s);
        return s;
      }),
    );
    await waitFor(() => node.fs.reader.inflightPages === 0, { what: 'no store run in flight' });
    assert.ok((await gauge(node, 'strata_read_buffered_bytes')) > 0);
    for (const s of streams) s.destroy();
    await waitFor(async () => (await gauge(node, 'strata_read_buffered_bytes')) === 0, {
      what: 'the read budget returned',
    });
  });
});
