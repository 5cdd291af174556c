import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type InProcessWorkers, startInProcessWorkers } from '../helpers/in-process-workers.js';

/**
 * Loading many small files must not leave their puts behind: a page reaches its reader before
 * its put (a disk write, 8 at once) ends, and a load that did not wait for it moved on to the
 * next file, so puts piled up by the thousand, each holding its page, its store run and its
 * request (the closures a heap snapshot found). Every batch now returns with nothing in flight.
 */

const FILES = 3000;
const PER_BATCH = 1000;
let dir: string;
let workers: InProcessWorkers;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-load-puts-'));
  const store = join(dir, 'store');
  await mkdir(store, { recursive: true });
  const bytes = Buffer.alloc(100, 7);
  for (let i = 0; i < FILES; i += 100)
    await Promise.all(Array.from({ length: 100 }, (_, k) => writeFile(join(store, `f${i + k}`), bytes)));
  workers = await startInProcessWorkers(join(dir, 'nodes'), 1);
  const cluster = await workers.cluster();
  await cluster.mount('/m', pathToFileURL(store).href);
  await workers.settle();
});

after(async () => {
  await workers?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('a load batch of small files returns with no page in flight and no read budget held', async () => {
  const fs = workers.workers[0]!.node.fs;
  for (let from = 0; from < FILES; from += PER_BATCH) {
    const paths = Array.from({ length: PER_BATCH }, (_, k) => `/m/f${from + k}`);
    const results = await fs.jobBatch({ op: 'load', paths });
    assert.ok(
      results.every((r) => 'outcome' in r && r.outcome === 'done'),
      'every file loaded',
    );
    assert.equal(fs.reader.inflightPages, 0, `pages still being stored after files ${from}..`);
    assert.equal(fs.reader.budget.usedBytes, 0);
  }
  assert.equal((await fs.status('/m/f0')).cachedPercent, 100);
});
