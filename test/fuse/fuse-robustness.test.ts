import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { forceUnmount, fuseSkipReason, mounted, type RunningFuse, sh, startFuse } from './fuse-helpers.js';

/** The mount never hangs: worker crash → EIO, stalled worker → ETIMEDOUT, SIGTERM, stale mounts. */

const skip = fuseSkipReason();

describe('strata fuse mount: robustness', { skip: skip ?? false }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let origin: string;
  const fuses: RunningFuse[] = [];
  const locals: RunningStrata[] = [];
  const dirs: string[] = [];

  async function setup(name: string, fuseArgs: string[] = []) {
    const data = join(tmp.dir, `${name}-data`);
    const local = await startLocal(['--data-dir', data, '--mount', `/=file://${origin}`]);
    locals.push(local);
    const dir = join(tmp.dir, `${name}-mnt`);
    await mkdir(dir);
    dirs.push(dir);
    const fuse = await startFuse(local.registry, dir, fuseArgs);
    fuses.push(fuse);
    return { local, dir, fuse };
  }

  before(async () => {
    tmp = await tempDir('fuse-robust');
    origin = join(tmp.dir, 'origin');
    await mkdir(origin);
    await writeFile(join(origin, 'big.bin'), randomBytes(96 << 20));
    await writeFile(join(origin, 'small.txt'), 'small');
  });

  after(async () => {
    for (const f of fuses) await f.kill().catch(() => undefined);
    for (const d of dirs) await forceUnmount(d);
    for (const l of locals) await l.kill().catch(() => undefined);
    await tmp?.cleanup();
  });

  test('kill -9 of the worker during a read gives EIO, not a hang', async () => {
    const { local, dir } = await setup('crash');
    // A slow reader (1 MiB, then a pause), like a training loop; the worker dies under it.
    const reader = sh(
      `/usr/bin/python3 -c "
import os, sys, time, errno
fd = os.open(sys.argv[1], os.O_RDONLY)
n = 0
try:
    while True:
        b = os.read(fd, 1 << 20)
        if not b: break
        n += len(b)
        time.sleep(0.05)
    print('EOF', n)
except OSError as e:
    print(errno.errorcode[e.errno], n)
" ${dir}/big.bin`,
      60_000,
    );
    await new Promise((r) => setTimeout(r, 700));
    await local.kill();
    const r = await reader;
    assert.equal(r.code, 0, r.stderr);
    const [what, bytes] = r.stdout.trim().split(' ');
    assert.equal(what, 'EIO', `reader saw ${r.stdout}`);
    assert.ok(Number(bytes) > 0 && Number(bytes) < 96 << 20);
    // New calls fail fast too, and the mount is still there (not "Transport endpoint is not connected").
    const ls = await sh(`cat ${dir}/small.txt`, 20_000);
    assert.match(ls.stderr, /Input\/output error/);
    assert.ok(ls.ms < 15_000, `took ${ls.ms} ms`);
  });

  test('a stalled worker: every request ends at the deadline with ETIMEDOUT', async () => {
    const { local, dir } = await setup('stall', ['--timeout', '3s']);
    assert.equal((await sh(`cat ${dir}/small.txt`)).stdout, 'small');
    local.child.kill('SIGSTOP');
    try {
      const r = await sh(`head -c 100 ${dir}/big.bin`, 30_000);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Connection timed out/);
      assert.ok(r.ms >= 2_500 && r.ms < 12_000, `took ${r.ms} ms`);
    } finally {
      local.child.kill('SIGCONT');
    }
    // After the worker resumes, the mount serves again.
    assert.equal((await sh(`cat ${dir}/small.txt`, 20_000)).stdout, 'small');
  });

  test('SIGTERM unmounts cleanly and the process exits 0', async () => {
    const { dir, fuse } = await setup('term');
    assert.equal(await mounted(dir), true);
    const code = await fuse.stop();
    // A signal here (code null) would be a crash in teardown: show which, and what it logged.
    assert.equal(
      code,
      0,
      `exit ${code}, signal ${fuse.child.signalCode}; stderr:\n${fuse.stderr().slice(-4000)}`,
    );
    assert.equal(await mounted(dir), false);
    assert.match(fuse.stderr(), /fuse\.unmounted/);
  });

  test('a stale mount left by a crash is cleaned by the next mount; unmount command works', async () => {
    const { local, dir, fuse } = await setup('stale');
    await fuse.kill();
    const stale = await sh(`ls ${dir}`);
    assert.match(stale.stderr, /Transport endpoint is not connected/);
    const again = await startFuse(local.registry, dir);
    fuses.push(again);
    assert.match(again.stderr(), /fuse\.stale_cleaned/);
    assert.equal((await sh(`cat ${dir}/small.txt`)).stdout, 'small');
    // A second mount on a live one is refused.
    const twice = await runCli(['fuse', 'mount', dir, '--registry', local.registry, '--foreground']);
    assert.equal(twice.code, 3);
    assert.match(twice.stderr, /MOUNT_CONFLICT/);
    const un = await runCli(['fuse', 'unmount', dir]);
    assert.equal(un.code, 0, un.stderr);
    assert.equal(await again.exited, 0);
    assert.equal(await mounted(dir), false);
  });

  test('without --foreground the command returns once a daemon serves the mount', async () => {
    const l2 = await startLocal([
      '--data-dir',
      join(tmp.dir, 'daemon-data'),
      '--mount',
      `/=file://${origin}`,
    ]);
    locals.push(l2);
    const dir = join(tmp.dir, 'daemon-mnt');
    await mkdir(dir);
    dirs.push(dir);
    const r = await runCli([
      'fuse',
      'mount',
      dir,
      '--registry',
      l2.registry,
      '--log',
      join(tmp.dir, 'daemon.log'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const ready = JSON.parse(r.stdout) as {
      ready: boolean;
      role: string;
      pid: number;
      addresses: { mount: string };
    };
    assert.equal(ready.role, 'fuse');
    assert.equal(ready.addresses.mount, dir);
    assert.equal((await sh(`cat ${dir}/small.txt`)).stdout, 'small');
    process.kill(ready.pid, 'SIGTERM');
    for (let i = 0; i < 50 && (await mounted(dir)); i++) await new Promise((res) => setTimeout(res, 100));
    assert.equal(await mounted(dir), false);
  });
});
