import assert from 'node:assert/strict';
import { mkdir, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compareUtf8 } from '../../src/core/utf8-order.js';
import { READDIR_PAGE } from '../../src/fuse/ops.js';
import { type RunningStrata, startLocal, tempDir } from '../helpers/local-process.js';
import { forceUnmount, fuseSkipReason, type RunningFuse, sh, startFuse } from './fuse-helpers.js';

/**
 * readdir of directories larger than one page (READDIR_PAGE children) through a real mount of a
 * real `strata local`: the addon pages with offsets, so every child must show exactly once, with
 * its type, whatever buffer size the reader uses — compared with the origin folder on disk.
 */

const skip = fuseSkipReason();
const COUNT = READDIR_PAGE * 2 + 345;

describe('strata fuse mount: readdir larger than one page', { skip: skip ?? false }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let origin: string;
  let mnt: string;
  let local: RunningStrata;
  let fuse: RunningFuse;
  let names: string[];

  before(async () => {
    tmp = await tempDir('fuse-readdir');
    origin = join(tmp.dir, 'origin');
    mnt = join(tmp.dir, 'mnt');
    await mkdir(join(origin, 'big'), { recursive: true });
    await mkdir(mnt);
    names = Array.from(
      { length: COUNT },
      (_, i) => `f-${String(i).padStart(5, '0')}${i % 7 === 0 ? ' ü' : ''}`,
    );
    for (let i = 0; i < names.length; i += 500)
      await Promise.all(names.slice(i, i + 500).map((n) => writeFile(join(origin, 'big', n), n)));
    for (const d of ['d-a', 'd-b']) await mkdir(join(origin, 'big', d));
    names.push('d-a', 'd-b');
    local = await startLocal(['--data-dir', join(tmp.dir, 'data'), '--mount', `/=file://${origin}`]);
    fuse = await startFuse(local.registry, mnt);
  });

  after(async () => {
    await fuse?.stop().catch(() => undefined);
    if (mnt) await forceUnmount(mnt);
    await local?.stop();
    await tmp?.cleanup();
  });

  test('readdir shows every child once, with its type, as the origin has them', async () => {
    const seen = await readdir(join(mnt, 'big'), { withFileTypes: true });
    assert.equal(seen.length, names.length);
    assert.deepEqual(
      seen.map((d) => d.name),
      [...names].sort(compareUtf8),
      'children in name order, no repeats',
    );
    const dirs = seen.filter((d) => d.isDirectory()).map((d) => d.name);
    assert.deepEqual(dirs, ['d-a', 'd-b']);
    assert.deepEqual((await readdir(join(origin, 'big'))).sort(compareUtf8), [...names].sort(compareUtf8));
  });

  test('ls -f, find and small-buffer readers agree with the origin', async () => {
    const ls = await sh(`ls -f ${JSON.stringify(join(mnt, 'big'))} | wc -l`);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(Number(ls.stdout.trim()), names.length + 2, 'ls -f: the children plus . and ..');
    const find = await sh(`find ${JSON.stringify(join(mnt, 'big'))} -mindepth 1 -type f | wc -l`);
    assert.equal(Number(find.stdout.trim()), COUNT);
    // Python's scandir reads with its own (small) buffer and stats nothing extra.
    const py = await sh(
      `python3 -c 'import os,sys; print(len(list(os.scandir(sys.argv[1]))))' ${JSON.stringify(join(mnt, 'big'))}`,
    );
    assert.equal(py.code, 0, py.stderr);
    assert.equal(Number(py.stdout.trim()), names.length);
  });

  test('a repeated walk (listing pages kept by the daemon) is the same; a removal through the mount shows at once', async () => {
    const dir = join(mnt, 'big');
    const first = await readdir(dir);
    const again = await readdir(dir);
    assert.deepEqual(again, first, 'the warm walk shows every child once, in order');
    await unlink(join(dir, names[READDIR_PAGE + 1]!));
    const after = await readdir(dir);
    assert.equal(after.length, first.length - 1);
    assert.equal(after.includes(names[READDIR_PAGE + 1]!), false, 'the kept pages were dropped');
    names.splice(READDIR_PAGE + 1, 1);
  });

  test('a file created through the mount shows in the next listing', async () => {
    await writeFile(join(mnt, 'big', 'zz-new'), 'new');
    const seen = await readdir(join(mnt, 'big'));
    assert.equal(seen.length, names.length + 1);
    assert.equal(seen[seen.length - 1], 'zz-new');
  });
});
