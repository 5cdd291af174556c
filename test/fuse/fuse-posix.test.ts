import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from '../../src/client/connect.js';
import { type RunningStrata, startLocal, tempDir } from '../helpers/local-process.js';
import { forceUnmount, fuseSkipReason, type RunningFuse, sh, startFuse } from './fuse-helpers.js';

/**
 * POSIX tools on a real FUSE mount of a real `strata local` (file:// origin). Each assertion
 * compares what a tool sees through the mount with the origin on disk.
 */

const skip = fuseSkipReason();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('strata fuse mount: POSIX tools', { skip: skip ?? false }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let origin: string;
  let mnt: string;
  let local: RunningStrata;
  let fuse: RunningFuse;
  let big: Buffer;
  const extra: RunningFuse[] = [];
  const extraDirs: string[] = [];

  before(async () => {
    tmp = await tempDir('fuse-posix');
    origin = join(tmp.dir, 'origin');
    mnt = join(tmp.dir, 'mnt');
    await mkdir(join(origin, 'tree'), { recursive: true });
    await mkdir(mnt);
    big = randomBytes(24 << 20);
    await writeFile(join(origin, 'big.bin'), big);
    for (let d = 0; d < 8; d++) {
      await mkdir(join(origin, 'tree', `d${d}`), { recursive: true });
      for (let f = 0; f < 25; f++)
        await writeFile(join(origin, 'tree', `d${d}`, `f${f}.bin`), randomBytes(1000 + f * 997));
    }
    await mkdir(join(origin, 'wide'));
    await Promise.all(
      Array.from({ length: 3000 }, (_, i) =>
        writeFile(join(origin, 'wide', `n${String(i).padStart(5, '0')}`), `${i}`),
      ),
    );
    local = await startLocal(['--data-dir', join(tmp.dir, 'data'), '--mount', `/=file://${origin}`]);
    fuse = await startFuse(local.registry, mnt);
  });

  after(async () => {
    for (const f of [fuse, ...extra]) await f?.stop().catch(() => undefined);
    for (const d of [mnt, ...extraDirs]) if (d) await forceUnmount(d);
    await local?.stop();
    await tmp?.cleanup();
  });

  test('cat, cp, sha256sum and dd read the same bytes as the origin', async () => {
    const sum = await sh(`sha256sum ${mnt}/big.bin`);
    assert.equal(sum.code, 0, sum.stderr);
    assert.equal(sum.stdout.split(' ')[0], sha(big));
    const cp = await sh(`cp ${mnt}/big.bin ${tmp.dir}/copy.bin && cmp ${tmp.dir}/copy.bin ${origin}/big.bin`);
    assert.equal(cp.code, 0, cp.stderr);
    // Random ranges: dd at odd offsets (skip in 4 KiB blocks) against the origin bytes.
    for (const block of [0, 1, 777, 5000, 6143]) {
      const dd = await sh(`dd if=${mnt}/big.bin bs=4096 skip=${block} count=3 status=none | sha256sum`);
      assert.equal(
        dd.stdout.split(' ')[0],
        sha(big.subarray(block * 4096, block * 4096 + 3 * 4096)),
        `block ${block}`,
      );
    }
    const small = await sh(`cat ${mnt}/tree/d3/f7.bin | cmp - ${origin}/tree/d3/f7.bin`);
    assert.equal(small.code, 0, small.stderr);
  });

  test('ls -R and find list exactly the origin tree; a 3,000-entry directory lists whole', async () => {
    const a = await sh(`cd ${mnt}/tree && find . | sort`);
    const b = await sh(`cd ${origin}/tree && find . | sort`);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    assert.equal(a.stdout.split('\n').filter(Boolean).length, 1 + 8 + 200);
    const lsR = await sh(`cd ${mnt}/tree && ls -R`);
    const lsO = await sh(`cd ${origin}/tree && ls -R`);
    assert.equal(lsR.stdout, lsO.stdout);
    const wide = await sh(
      `ls ${mnt}/wide | wc -l; ls ${mnt}/wide | sort | sha256sum; ls ${origin}/wide | sort | sha256sum`,
    );
    const [count, h1, h2] = wide.stdout.trim().split('\n');
    assert.equal(count, '3000');
    assert.equal(h1, h2);
    const sizes = await sh(`stat -c '%s %F' ${mnt}/tree/d2/f3.bin ${mnt}/tree/d2`);
    assert.equal(sizes.stdout, `${1000 + 3 * 997} regular file\n0 directory\n`);
  });

  test('a Python data loader reads every file from 8 threads with the right bytes', async () => {
    const script = join(tmp.dir, 'loader.py');
    await writeFile(
      script,
      `import hashlib, os, sys
from concurrent.futures import ThreadPoolExecutor
mnt, origin = sys.argv[1], sys.argv[2]
files = sorted(os.path.join(r, f)[len(mnt):] for r, _, fs in os.walk(mnt) for f in fs)
def check(rel):
    with open(mnt + rel, 'rb') as a, open(origin + rel, 'rb') as b:
        return hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()
with ThreadPoolExecutor(8) as pool:
    ok = list(pool.map(check, files * 2))
print(len(ok), sum(ok))
`,
    );
    const r = await sh(`/usr/bin/python3 ${script} ${mnt}/tree ${origin}/tree`, 120_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '400 400');
  });

  test('fio sequential and random reads run without errors', async () => {
    const common = `--filename=${mnt}/big.bin --size=24m --readonly --ioengine=psync --time_based --runtime=2 --output-format=json`;
    for (const rw of ['read', 'randread']) {
      const r = await sh(
        `fio --name=${rw} --rw=${rw} --bs=256k --numjobs=2 --group_reporting ${common}`,
        60_000,
      );
      assert.equal(r.code, 0, r.stderr);
      const job = (JSON.parse(r.stdout) as { jobs: { error: number; read: { io_bytes: number } }[] })
        .jobs[0]!;
      assert.equal(job.error, 0);
      assert.ok(job.read.io_bytes > 24 << 20, `${rw} read ${job.read.io_bytes} bytes`);
    }
  });

  test('writes: cp, > and >>, truncate, random write, rename, rm, mkdir and rmdir', async () => {
    const w = (cmd: string) => sh(`cd ${mnt} && ${cmd}`);
    assert.equal((await w(`cp ${origin}/big.bin new.bin`)).code, 0);
    assert.equal(sha(await readFile(join(origin, 'new.bin'))), sha(big));

    assert.equal(
      (await w('echo first > log.txt && echo second >> log.txt && echo third >> log.txt')).code,
      0,
    );
    assert.equal(await readFile(join(origin, 'log.txt'), 'utf8'), 'first\nsecond\nthird\n');
    assert.equal((await w('echo replaced > log.txt')).stdout, '');
    assert.equal(await readFile(join(origin, 'log.txt'), 'utf8'), 'replaced\n');

    assert.equal((await w('truncate -s 3 log.txt')).code, 0);
    assert.equal(await readFile(join(origin, 'log.txt'), 'utf8'), 'rep');
    assert.equal((await w('truncate -s 6 log.txt && stat -c %s log.txt')).stdout, '6\n');
    assert.deepEqual(await readFile(join(origin, 'log.txt')), Buffer.from('rep\0\0\0'));

    // Random write into an existing file through the staging copy.
    const rw = await w('printf ABCD | dd of=new.bin bs=1 seek=1000000 conv=notrunc status=none');
    assert.equal(rw.code, 0, rw.stderr);
    const after = await readFile(join(origin, 'new.bin'));
    assert.equal(after.length, big.length);
    assert.equal(after.subarray(1_000_000, 1_000_004).toString(), 'ABCD');
    assert.ok(after.subarray(0, 1_000_000).equals(big.subarray(0, 1_000_000)));
    const back = await w('dd if=new.bin bs=1 skip=1000000 count=4 status=none');
    assert.equal(back.stdout, 'ABCD');

    assert.equal((await w('mv log.txt moved.txt && cat moved.txt')).stdout, 'rep\0\0\0');
    assert.equal((await sh(`ls ${origin}`)).stdout.includes('log.txt'), false);
    assert.equal((await w('echo x > other.txt && mv other.txt moved.txt && cat moved.txt')).stdout, 'x\n');
    assert.equal((await w('rm moved.txt new.bin && ls')).stdout.includes('moved.txt'), false);
    assert.equal((await sh(`ls ${origin}/moved.txt`)).code, 2);

    assert.equal((await w('mkdir -p dir1/dir2 && echo z > dir1/dir2/z && ls dir1/dir2')).stdout, 'z\n');
    const notEmpty = await w('rmdir dir1/dir2');
    assert.notEqual(notEmpty.code, 0);
    assert.match(notEmpty.stderr, /Directory not empty/);
    assert.equal((await w('rm dir1/dir2/z && rmdir dir1/dir2 && rmdir dir1')).code, 0);
    assert.equal((await sh(`ls ${origin}/dir1`)).code, 2);
    const unlinkDir = await w('mkdir dd && rm dd');
    assert.match(unlinkDir.stderr, /Is a directory/);
    assert.equal((await w('rmdir dd')).code, 0);
    assert.equal((await w('touch empty && stat -c %s empty && rm empty')).stdout, '0\n');
  });

  test('xattrs expose cache state; user.strata.cached_bytes grows after a read', async () => {
    await writeFile(join(origin, 'xattr.bin'), randomBytes(3 << 20));
    const get = async (name: string) =>
      (
        await sh(
          `/usr/bin/python3 -c "import os,sys; print(os.getxattr(sys.argv[1], sys.argv[2]).decode())" ${mnt}/xattr.bin ${name}`,
        )
      ).stdout.trim();
    assert.equal(await get('user.strata.cached_bytes'), '0');
    assert.equal((await sh(`cat ${mnt}/xattr.bin > /dev/null`)).code, 0);
    assert.equal(await get('user.strata.cached_bytes'), String(3 << 20));
    assert.equal(await get('user.strata.cached_percent'), '100');
    assert.equal(await get('user.strata.pinned'), 'false');
    assert.match(await get('user.strata.fingerprint'), /^3145728:/);
    const list = await sh(
      `/usr/bin/python3 -c "import os,sys; print(sorted(os.listxattr(sys.argv[1])))" ${mnt}/xattr.bin`,
    );
    assert.match(list.stdout, /user\.strata\.cached_bytes.*user\.strata\.pinned/);
    const missing = await sh(
      `/usr/bin/python3 -c "import os,sys; os.getxattr(sys.argv[1], 'user.other')" ${mnt}/xattr.bin`,
    );
    assert.match(missing.stderr, /No data available/);
  });

  test('statfs reports the cache capacity and use', async () => {
    const df = await sh(`stat -f -c '%S %b %f' ${mnt}`);
    const [bs, blocks, free] = df.stdout.trim().split(' ').map(Number) as [number, number, number];
    const fs = await connect(local.registry);
    const report = await fs.report();
    await fs.close();
    const capacity = report.workers.reduce((a, w) => a + w.capacityBytes, 0);
    assert.equal(bs * blocks, Math.floor(capacity / 4096) * 4096);
    assert.ok(free < blocks, 'some cache is used after the reads above');
  });

  test('chmod, symlink and link are refused clearly (ENOTSUP), not faked', async () => {
    const r = await sh(`cd ${mnt} && chmod 600 tree/d0/f0.bin; ln -s a lnk; ln tree/d0/f0.bin hard`);
    assert.equal((r.stderr.match(/Operation not supported/g) ?? []).length, 3, r.stderr);
  });

  test('a read-only Strata mount and -o ro both give EROFS', async () => {
    await mkdir(join(origin, 'ro-origin'));
    await writeFile(join(origin, 'ro-origin', 'keep.txt'), 'keep');
    const fs = await connect(local.registry);
    await mkdir(join(tmp.dir, 'ro-store'));
    await writeFile(join(tmp.dir, 'ro-store', 'keep.txt'), 'keep');
    await fs.mount('/ro', `file://${join(tmp.dir, 'ro-store')}`, { readOnly: true });
    await fs.close();
    for (const [root, opts] of [
      ['/ro', []],
      ['/ro-origin', ['-o', 'ro']],
    ] as const) {
      const dir = join(tmp.dir, `mnt${root.replace('/', '-')}`);
      await mkdir(dir);
      extraDirs.push(dir);
      const f = await startFuse(local.registry, dir, ['--root', root, ...opts]);
      extra.push(f);
      assert.equal((await sh(`cat ${dir}/keep.txt`)).stdout, 'keep');
      for (const cmd of [
        'echo x > new.txt',
        'echo x >> keep.txt',
        'rm keep.txt',
        'mkdir d',
        'mv keep.txt k2',
        'truncate -s 0 keep.txt',
      ]) {
        const r = await sh(`cd ${dir} && ${cmd}`);
        assert.notEqual(r.code, 0, `${root}: ${cmd}`);
        assert.match(r.stderr, /Read-only file system/, `${root}: ${cmd}: ${r.stderr}`);
      }
      assert.equal((await sh(`stat -c %A ${dir}/keep.txt`)).stdout, '-r--r--r--\n');
      await f.stop();
    }
  });

  test('with sync interval 0 a change in the store shows through the mount at once', async () => {
    const store = join(tmp.dir, 'fresh-store');
    await mkdir(store);
    await writeFile(join(store, 'a.txt'), 'v1');
    const fs = await connect(local.registry);
    await fs.mount('/fresh', `file://${store}`, { syncIntervalMs: 0 });
    await fs.close();
    const dir = join(tmp.dir, 'mnt-fresh');
    await mkdir(dir);
    extraDirs.push(dir);
    const f = await startFuse(local.registry, dir, ['--root', '/fresh']);
    extra.push(f);
    assert.match(f.stderr(), /"kernelTimeoutS":0/);
    assert.equal((await sh(`cat ${dir}/a.txt`)).stdout, 'v1');
    await writeFile(join(store, 'a.txt'), 'version 2');
    await writeFile(join(store, 'b.txt'), 'new');
    assert.equal((await sh(`cat ${dir}/a.txt`)).stdout, 'version 2');
    assert.equal((await sh(`ls ${dir}`)).stdout, 'a.txt\nb.txt\n');
    await f.stop();
  });
});
