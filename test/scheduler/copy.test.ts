import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { ClusterFileSystem } from '../../src/client/cluster-file-system.js';
import { isStrataError } from '../../src/core/errors.js';
import { setQuiet } from '../../src/core/log.js';
import { checkCopyPaths, copyFile, destinationOf } from '../../src/scheduler/copy.js';
import { type ListEntry, lineKey, lineOfKey, readList } from '../../src/scheduler/list-source.js';
import { compareTraversal } from '../../src/scheduler/traversal.js';
import { type InProcessWorkers, startInProcessWorkers } from '../helpers/in-process-workers.js';

setQuiet(true);

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

describe('scheduler: copy, move and list sources over 2 in-process workers', () => {
  let dir: string;
  let workers: InProcessWorkers;
  let cluster: ClusterFileSystem;
  let srcStore: string;
  let dstStore: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-copy-'));
    srcStore = join(dir, 'src');
    dstStore = join(dir, 'dst');
    await mkdir(join(srcStore, 'tree', 'sub'), { recursive: true });
    await mkdir(dstStore, { recursive: true });
    await writeFile(join(srcStore, 'tree', 'a.bin'), Buffer.alloc(300_000, 7));
    await writeFile(join(srcStore, 'tree', 'sub', 'b.txt'), 'bee\n');
    await writeFile(join(srcStore, 'single.txt'), 'one file\n');
    workers = await startInProcessWorkers(join(dir, 'nodes'), 2);
    cluster = await workers.cluster();
    await cluster.mount('/src', pathToFileURL(srcStore).href);
    await cluster.mount('/dst', pathToFileURL(dstStore).href);
    await cluster.mount('/ro', pathToFileURL(srcStore).href, { readOnly: true });
    await workers.settle();
  });
  after(async () => {
    await workers.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('destinations follow mv naming: a file becomes DST, a tree file keeps its path below DST', () => {
    assert.equal(destinationOf('/src/single.txt', '/dst/x.txt', '/src/single.txt'), '/dst/x.txt');
    assert.equal(destinationOf('/src/tree', '/dst/t', '/src/tree/sub/b.txt'), '/dst/t/sub/b.txt');
  });

  test('copy writes the bytes to the destination store; again without overwrite it is skipped', async () => {
    const a = await cluster.status('/src/tree/a.bin');
    assert.equal(await copyFile(cluster, a, '/dst/t/a.bin', { overwrite: false, move: false }), 'done');
    assert.deepEqual(await readFile(join(dstStore, 't', 'a.bin')), Buffer.alloc(300_000, 7));
    assert.equal(await copyFile(cluster, a, '/dst/t/a.bin', { overwrite: false, move: false }), 'skipped');
    assert.ok(await exists(join(srcStore, 'tree', 'a.bin')), 'copy keeps the source');
  });

  test('a different destination file is refused without overwrite and replaced with it', async () => {
    await cluster.write('/dst/other.txt', Readable.from([Buffer.from('different')]), {
      writeType: 'CACHE_THROUGH',
    });
    const one = await cluster.status('/src/single.txt');
    await assert.rejects(copyFile(cluster, one, '/dst/other.txt', { overwrite: false, move: false }), (e) =>
      isStrataError(e, 'ALREADY_EXISTS'),
    );
    assert.equal(await readFile(join(dstStore, 'other.txt'), 'utf8'), 'different', 'nothing changed');
    assert.equal(await copyFile(cluster, one, '/dst/other.txt', { overwrite: true, move: false }), 'done');
    assert.equal(await readFile(join(dstStore, 'other.txt'), 'utf8'), 'one file\n');
  });

  test('move deletes the source only after the copy is in the destination store', async () => {
    await writeFile(join(srcStore, 'moving.txt'), 'moved bytes');
    const f = await cluster.status('/src/moving.txt', { syncIntervalMs: 0 });
    assert.equal(await copyFile(cluster, f, '/dst/moved.txt', { overwrite: false, move: true }), 'done');
    assert.equal(await readFile(join(dstStore, 'moved.txt'), 'utf8'), 'moved bytes');
    assert.equal(await exists(join(srcStore, 'moving.txt')), false, 'source gone after the move');
  });

  test('bad copy and move requests are refused before anything changes', async () => {
    const refused = async (kind: string, src: string, dst: string, code: string) =>
      assert.rejects(
        checkCopyPaths(cluster, kind, src, dst),
        (e) => isStrataError(e, code as never),
        `${kind} ${src} ${dst}`,
      );
    await refused('move', '/src/tree', '/src/tree', 'INVALID_ARGUMENT');
    await refused('copy', '/src/tree', '/src/tree/inner', 'INVALID_ARGUMENT');
    await refused('copy', '/src/tree/sub', '/src/tree', 'INVALID_ARGUMENT');
    await refused('copy', '/src/single.txt', '/dst', 'INVALID_ARGUMENT');
    await refused('copy', '/src/tree', '/nowhere/x', 'NOT_MOUNTED');
    await refused('copy', '/src/tree', '/ro/x', 'READ_ONLY');
    await refused('move', '/ro/tree', '/dst/y', 'READ_ONLY');
    await refused('copy', '/src/missing', '/dst/z', 'NOT_FOUND');
    await checkCopyPaths(cluster, 'copy', '/src/tree', '/dst/fine');
    assert.equal(await exists(join(dstStore, 'fine')), false);
  });

  test('a list source yields files in line order, each bad line as its own failure, and resumes after a line', async () => {
    const list = [
      '# a comment',
      '/src/single.txt',
      '',
      '/src/tree/missing.bin',
      'relative/path',
      '/src/tree',
      '/src/tree/sub/b.txt\r',
      '/src/tree/a.bin',
    ].join('\n');
    await writeFile(join(srcStore, 'list.txt'), list);
    await cluster.status('/src/list.txt', { syncIntervalMs: 0 });
    const collect = async (afterLine: number) => {
      const out: ListEntry[] = [];
      for await (const e of readList(cluster, '/src/list.txt', afterLine, {})) out.push(e);
      return out;
    };
    const all = await collect(0);
    const shape = all.map((e) => ('file' in e ? `${e.line} ${e.file.path}` : `${e.line} ${e.error.code}`));
    assert.deepEqual(shape, [
      '2 /src/single.txt',
      '4 NOT_FOUND',
      '5 INVALID_PATH',
      '6 IS_A_DIRECTORY',
      '7 /src/tree/sub/b.txt',
      '8 /src/tree/a.bin',
    ]);
    const rest = await collect(6);
    assert.deepEqual(
      rest.map((e) => e.line),
      [7, 8],
    );
    await assert.rejects(
      collect(0).then(() => readList(cluster, '/src/tree', 0, {}).next()),
      (e) => isStrataError(e, 'IS_A_DIRECTORY'),
    );
  });

  test('line keys sort in line order under the traversal order and map back to lines', () => {
    const keys = [1, 2, 10, 99, 100, 123456].map(lineKey);
    for (let i = 1; i < keys.length; i++) assert.ok(compareTraversal(keys[i - 1]!, keys[i]!) < 0, keys[i]);
    assert.equal(lineOfKey(lineKey(123456)), 123456);
  });
});
