import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { waitFor } from '../helpers/wait.js';
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

  test('kill -9 of the worker during a read gives EIO, not a hang', { timeout: 120_000 }, async (t) => {
    const { local, dir } = await setup('crash');
    // A reader that has read 1 MiB, then waits (stdin) until the worker is dead, then reads on:
    // the worker dies under an open file midway, whatever the machine's speed.
    const reader = spawn(
      '/usr/bin/python3',
      [
        '-c',
        `
import os, sys, errno
fd = os.open(sys.argv[1], os.O_RDONLY)
n = len(os.read(fd, 1 << 20))
print('READ', n, flush=True)
sys.stdin.readline()
try:
    while True:
        b = os.read(fd, 1 << 20)
        if not b: break
        n += len(b)
    print('EOF', n)
except OSError as e:
    print(errno.errorcode[e.errno], n)
`,
        `${dir}/big.bin`,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    try {
      const lines = createInterface({ input: reader.stdout! });
      const exited = once(reader, 'exit');
      let stderr = '';
      reader.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      const [first] = (await Promise.race([
        once(lines, 'line'),
        exited.then(() => Promise.reject(new Error(`reader exited before its first read: ${stderr}`))),
      ])) as [string];
      assert.match(first, /^READ \d+$/);
      await local.kill();
      reader.stdin!.end('go\n');
      const [last] = (await once(lines, 'line')) as [string];
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, stderr);
      const [what, bytes] = last.trim().split(' ');
      assert.equal(what, 'EIO', `reader saw ${last}`);
      assert.ok(Number(bytes) >= 1 << 20 && Number(bytes) < 96 << 20, `read ${bytes} bytes`);
    } finally {
      if (reader.exitCode === null && reader.signalCode === null) reader.kill('SIGKILL');
    }
    // New calls fail too, and the mount is still there (not "Transport endpoint is not connected").
    // A hang would end at sh's 20 s timeout without the message; the time is only reported.
    const ls = await sh(`cat ${dir}/small.txt`, 20_000);
    assert.match(ls.stderr, /Input\/output error/);
    t.diagnostic(`cat on the mount of a dead worker failed after ${ls.ms} ms`);
  });

  test('a stalled worker: every request ends at the deadline with ETIMEDOUT', {
    timeout: 120_000,
  }, async (t) => {
    const { local, dir } = await setup('stall', ['--timeout', '3s']);
    assert.equal((await sh(`cat ${dir}/small.txt`)).stdout, 'small');
    local.child.kill('SIGSTOP');
    try {
      // A stopped worker never answers, so only the mount's 3 s deadline can end the read, and it
      // answers ETIMEDOUT: that errno is the outcome checked. sh's 30 s timeout catches a hang.
      const r = await sh(`head -c 100 ${dir}/big.bin`, 30_000);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Connection timed out/);
      t.diagnostic(`ETIMEDOUT after ${r.ms} ms (deadline 3 s)`);
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
    // The daemon is not our child (no exit event): poll the mount table until it is gone.
    await waitFor(async () => !(await mounted(dir)), { what: `${dir} unmounted after SIGTERM` });
  });
});
