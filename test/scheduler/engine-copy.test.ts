import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { ClusterFileSystem } from '../../src/client/cluster-file-system.js';
import { setQuiet } from '../../src/core/log.js';
import { runJob, submitJob } from '../../src/scheduler/engine.js';
import { type InProcessWorkers, startInProcessWorkers } from '../helpers/in-process-workers.js';

setQuiet(true);

/** `dirs` directories of `files` files each (plus one nested level): name → bytes. */
async function makeTree(root: string, dirs: number, files: number): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (let d = 0; d < dirs; d++) {
    await mkdir(join(root, `d${d}`, 'deep'), { recursive: true });
    for (let f = 0; f < files; f++) {
      const rel = f % 3 === 0 ? `d${d}/deep/f${f}` : `d${d}/f${f}`;
      const data = Buffer.alloc(500 + ((d * 31 + f * 7) % 900), (d * 13 + f) % 251);
      await writeFile(join(root, rel), data);
      out.set(rel, data);
    }
  }
  return out;
}

async function storeReadBytes(workers: InProcessWorkers): Promise<number> {
  let sum = 0;
  for (const w of workers.workers) {
    for (const v of (await w.node.metrics.ufsReadBytes.get()).values) sum += v.value;
  }
  return sum;
}

describe('scheduler: copy, move and jobs from a list over 3 in-process workers', () => {
  let dir: string;
  let workers: InProcessWorkers;
  let cluster: ClusterFileSystem;
  let n = 0;

  async function store(name: string): Promise<{ point: string; root: string }> {
    const root = join(dir, `${name}${++n}`);
    await mkdir(root, { recursive: true });
    const point = `/${name}${n}`;
    await cluster.mount(point, pathToFileURL(root).href);
    await workers.settle();
    return { point, root };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-engine-copy-'));
    workers = await startInProcessWorkers(join(dir, 'nodes'), 3);
    cluster = await workers.cluster();
  });
  after(async () => {
    await workers.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('copy of a tree to another mount: every file byte for byte in the destination store; again, all skipped', async () => {
    const src = await store('src');
    const dst = await store('dst');
    const tree = await makeTree(src.root, 4, 30);
    const job = await submitJob(workers.registry, cluster, {
      kind: 'copy',
      path: src.point,
      dst: `${dst.point}/copy`,
    });
    const end = await runJob(workers.registry, cluster, job.id, { batchSize: 16 });
    assert.equal(end.state, 'SUCCEEDED', JSON.stringify(end.failures));
    assert.equal(end.counters.doneFiles, tree.size);
    for (const [rel, data] of tree) assert.deepEqual(await readFile(join(dst.root, 'copy', rel)), data, rel);
    assert.equal((await readdir(join(src.root, 'd0'))).length > 0, true, 'the source stays');

    const again = await submitJob(workers.registry, cluster, {
      kind: 'copy',
      path: src.point,
      dst: `${dst.point}/copy`,
    });
    const second = await runJob(workers.registry, cluster, again.id, { batchSize: 16 });
    assert.equal(second.state, 'SUCCEEDED');
    assert.equal(second.counters.skippedFiles, tree.size, 'a destination with the same bytes is skipped');
  });

  test('move of a tree: the destination holds every file, the source files and their emptied directories are gone', async () => {
    const src = await store('msrc');
    const dst = await store('mdst');
    const tree = await makeTree(src.root, 3, 12);
    const job = await submitJob(workers.registry, cluster, {
      kind: 'move',
      path: `${src.point}/d1`,
      dst: `${dst.point}/d1`,
    });
    const end = await runJob(workers.registry, cluster, job.id, { batchSize: 8 });
    assert.equal(end.state, 'SUCCEEDED', JSON.stringify(end.failures));
    for (const [rel, data] of tree) {
      if (!rel.startsWith('d1/')) continue;
      assert.deepEqual(await readFile(join(dst.root, rel)), data, rel);
    }
    assert.deepEqual(
      (await readdir(src.root)).sort(),
      ['d0', 'd2'],
      'd1 and its subdirectory removed once empty',
    );
    assert.equal((await readdir(join(src.root, 'd0', 'deep'))).length > 0, true, 'other trees untouched');
  });

  test('a move whose destination already holds different bytes keeps that source file and its directory', async () => {
    const src = await store('ksrc');
    const dst = await store('kdst');
    await mkdir(join(src.root, 't'), { recursive: true });
    await mkdir(join(dst.root, 't'), { recursive: true });
    for (let i = 0; i < 20; i++) await writeFile(join(src.root, 't', `f${i}`), `file ${i}`);
    await writeFile(join(dst.root, 't', 'f7'), 'someone else');
    const job = await submitJob(workers.registry, cluster, {
      kind: 'move',
      path: `${src.point}/t`,
      dst: `${dst.point}/t`,
    });
    const end = await runJob(workers.registry, cluster, job.id, { batchSize: 8 });
    assert.equal(end.state, 'COMPLETED_WITH_FAILURES');
    assert.deepEqual(
      end.failures.map((f) => [f.path, f.code]),
      [[`${src.point}/t/f7`, 'ALREADY_EXISTS']],
    );
    assert.deepEqual(await readdir(join(src.root, 't')), ['f7'], 'only the file not moved stays');
    assert.equal(await readFile(join(dst.root, 't', 'f7'), 'utf8'), 'someone else', 'nothing overwritten');
  });

  test('a load from a list: each listed file cached once, a missing entry a listed failure; a stopped job resumes after its last line done', async () => {
    const src = await store('lsrc');
    const tree = await makeTree(src.root, 2, 40);
    const listed = [...tree.keys()].map((rel) => `${src.point}/${rel}`);
    const lines = ['# files to warm', ...listed.slice(0, 40), `${src.point}/nope`, ...listed.slice(40)];
    await writeFile(join(src.root, 'list.txt'), `${lines.join('\n')}\n`);
    const listBytes = Buffer.byteLength(`${lines.join('\n')}\n`);
    const bytes = [...tree.values()].reduce((s, b) => s + b.length, 0);
    const before = await storeReadBytes(workers);
    const job = await submitJob(workers.registry, cluster, {
      kind: 'load',
      path: `${src.point}/list.txt`,
      fromList: `${src.point}/list.txt`,
    });
    const stop = new AbortController();
    const first = await runJob(workers.registry, cluster, job.id, {
      batchSize: 10,
      concurrency: 1,
      stop: stop.signal,
      onProgress: (_j, b) => {
        if (b === 3) stop.abort();
      },
    });
    assert.equal(first.state, 'RUNNING', 'stopped, resumable');
    assert.ok(first.cursor.after !== undefined);
    const end = await runJob(workers.registry, cluster, job.id, { batchSize: 10 });
    assert.equal(end.state, 'COMPLETED_WITH_FAILURES', JSON.stringify(end));
    assert.equal(end.counters.doneFiles, tree.size);
    assert.deepEqual(
      end.failures.map((f) => [f.path, f.code]),
      [[`${src.point}/nope`, 'NOT_FOUND']],
    );
    // Each file read from the store once (the list itself is read by each run).
    const read = (await storeReadBytes(workers)) - before;
    assert.ok(read >= bytes && read <= bytes + 2 * listBytes, `store read ${read} B for ${bytes} B of files`);
    for (const p of listed.slice(0, 5)) assert.equal((await cluster.status(p)).cachedPercent, 100, p);
  });
});
