import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { waitFor } from '../helpers/wait.js';
import { forceUnmount, fuseSkipReason, type RunningFuse, sh, startFuse } from './fuse-helpers.js';

/**
 * The kernel's caches (entries, attributes, page cache kept across opens) and the daemon's own
 * (statuses, listing pages) must never show a change made through another interface — an S3 PUT,
 * the CLI — for longer than the documented bound: twice the kernel timeout, which is the mount's
 * sync interval (docs/fuse.md). Real `strata local` with its S3 gateway, the aws CLI, the strata
 * CLI and a real mount; the mount's sync interval is 1 s, so the bound is 2 s. Each check polls
 * until the change shows, failing past the bound plus a grace for a loaded machine, and reports
 * how long the change took to show.
 */

const skip = fuseSkipReason();
const SYNC_MS = 1000;
const BOUND_MS = 2 * SYNC_MS;
/** Scheduling slack on a shared 2-core machine; the deadline is bound + grace. */
const GRACE_MS = 4000;
const KEY = { accessKeyId: 'FUSECACHEKEY', secretAccessKey: 'fuse-cache-secret' };

describe('strata fuse mount: kernel and daemon caches follow the sync interval', {
  skip: skip ?? false,
}, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let origin: string;
  let mnt: string;
  let local: RunningStrata;
  let fuse: RunningFuse;
  let aws: (args: string[], input?: string) => Promise<void>;

  before(async () => {
    tmp = await tempDir('fuse-kcache');
    origin = join(tmp.dir, 'origin');
    mnt = join(tmp.dir, 'mnt');
    await mkdir(join(origin, 'bkt', 'dir'), { recursive: true });
    await mkdir(mnt);
    await writeFile(join(origin, 'bkt', 'dir', 'same.bin'), Buffer.alloc(8192, 'a'));
    await writeFile(join(origin, 'bkt', 'dir', 'gone.txt'), 'to be removed');
    for (let i = 0; i < 50; i++) await writeFile(join(origin, 'bkt', 'dir', `f${i}`), `${i}`);
    local = await startLocal(['--data-dir', join(tmp.dir, 'data'), '--mount', `/=file://${origin}`], {
      STRATA_S3_ACCESS_KEY_ID: KEY.accessKeyId,
      STRATA_S3_SECRET_ACCESS_KEY: KEY.secretAccessKey,
    });
    const m = await runCli(['fs', 'mount', `--sync-interval=${SYNC_MS}`, '/bkt', `file://${origin}/bkt`], {
      registry: local.registry,
    });
    assert.equal(m.code, 0, m.stderr);
    fuse = await startFuse(local.registry, mnt, ['--metrics-port', '0']);
    const config = join(tmp.dir, 'aws-config');
    await writeFile(config, '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n');
    const endpoint = local.ready.addresses.s3!;
    aws = (args, input) =>
      new Promise((ok, fail) => {
        const child = execFile(
          'aws',
          ['--endpoint-url', endpoint, ...args],
          {
            timeout: 60_000,
            env: {
              ...process.env,
              AWS_CONFIG_FILE: config,
              AWS_SHARED_CREDENTIALS_FILE: join(tmp.dir, 'none'),
              AWS_ACCESS_KEY_ID: KEY.accessKeyId,
              AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
              AWS_DEFAULT_REGION: 'us-east-1',
              AWS_EC2_METADATA_DISABLED: 'true',
            },
          },
          (err, _stdout, stderr) => (err ? fail(new Error(`aws ${args.join(' ')}: ${stderr}`)) : ok()),
        );
        child.stdin?.end(input ?? '');
      });
  });

  after(async () => {
    await fuse?.stop().catch(() => undefined);
    if (mnt) await forceUnmount(mnt);
    await local?.stop();
    await tmp?.cleanup();
  });

  /** Polls `fresh` until it holds; fails past the bound + grace; logs how long the change took. */
  async function showsWithinBound(
    t: TestContext,
    what: string,
    since: number,
    fresh: () => Promise<boolean>,
  ): Promise<void> {
    await waitFor(fresh, { what, timeoutMs: BOUND_MS + GRACE_MS, intervalMs: 50, retryErrors: true });
    t.diagnostic(`${what}: shown after ${Date.now() - since} ms (bound ${BOUND_MS} ms)`);
  }

  test('an object PUT through S3 shows in the FUSE listing and stat (the negative entry expires)', async (t) => {
    const dir = join(mnt, 'bkt', 'dir');
    // Warm every cache: the listing (twice), the entry and a negative entry for the new name.
    assert.equal((await readdir(dir)).includes('new.txt'), false);
    assert.equal((await readdir(dir)).includes('new.txt'), false);
    await assert.rejects(stat(join(dir, 'new.txt')), { code: 'ENOENT' });
    const file = join(tmp.dir, 'new.txt');
    await writeFile(file, 'hello from S3');
    await aws(['s3api', 'put-object', '--bucket', 'bkt', '--key', 'dir/new.txt', '--body', file]);
    const since = Date.now();
    await showsWithinBound(t, 'S3 PUT in readdir', since, async () =>
      (await readdir(dir)).includes('new.txt'),
    );
    await showsWithinBound(
      t,
      'S3 PUT by stat',
      since,
      async () => (await stat(join(dir, 'new.txt'))).size === 13,
    );
    assert.equal(await readFile(join(dir, 'new.txt'), 'utf8'), 'hello from S3');
  });

  test('a same-size overwrite through S3 is read whole and new through FUSE (page cache dropped)', async (t) => {
    const path = join(mnt, 'bkt', 'dir', 'same.bin');
    const a = Buffer.alloc(8192, 'a');
    const b = Buffer.alloc(8192, 'b');
    // Two reads: the second open keeps the kernel page cache (the file is unchanged).
    assert.deepEqual(await readFile(path), a);
    assert.deepEqual(await readFile(path), a);
    const body = join(tmp.dir, 'b.bin');
    await writeFile(body, b);
    await aws(['s3api', 'put-object', '--bucket', 'bkt', '--key', 'dir/same.bin', '--body', body]);
    const since = Date.now();
    await showsWithinBound(t, 'S3 overwrite read through FUSE', since, async () => {
      const got = await readFile(path);
      // Old or new, never a mix of cached old pages and new bytes.
      assert.ok(got.equals(a) || got.equals(b), 'a read is the old or the new version, whole');
      return got.equals(b);
    });
    // Once new, it stays new (the kept page cache is the new version's).
    assert.deepEqual(await readFile(path), b);
  });

  test('a file removed with the CLI leaves the FUSE listing and stat', async (t) => {
    const dir = join(mnt, 'bkt', 'dir');
    assert.ok((await readdir(dir)).includes('gone.txt'));
    assert.equal((await stat(join(dir, 'gone.txt'))).size, 13);
    const rm = await runCli(['fs', 'rm', '/bkt/dir/gone.txt'], { registry: local.registry });
    assert.equal(rm.code, 0, rm.stderr);
    const since = Date.now();
    await showsWithinBound(
      t,
      'CLI rm in readdir',
      since,
      async () => !(await readdir(dir)).includes('gone.txt'),
    );
    await showsWithinBound(t, 'CLI rm by stat', since, async () =>
      stat(join(dir, 'gone.txt')).then(
        () => false,
        (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
      ),
    );
  });

  /** Requests JS answered, by operation, from the mount's /metrics. */
  async function answered(operation: string): Promise<number> {
    const text = await (await fetch(`${fuse.addresses.admin}/metrics`)).text();
    const line = text
      .split('\n')
      .find(
        (l) =>
          l.startsWith('strata_fuse_request_duration_seconds_count{') &&
          l.includes(`operation="${operation}"`),
      );
    assert.ok(line, `the mount's /metrics counts ${operation} requests`);
    return Number(line.split(' ').pop());
  }

  test('warm re-opens are answered by the addon; a read that misses the page cache still gets the right bytes', async (t) => {
    await writeFile(join(origin, 'bkt', 'dir', 'warm.bin'), Buffer.alloc(65536, 7));
    const path = join(mnt, 'bkt', 'dir', 'warm.bin');
    assert.deepEqual(await readFile(path), Buffer.alloc(65536, 7));
    const before = await answered('open');
    const opens = 20;
    for (let i = 0; i < opens; i++) assert.deepEqual(await readFile(path), Buffer.alloc(65536, 7));
    const byJs = (await answered('open')) - before;
    t.diagnostic(
      `${opens} warm opens: ${byJs} answered by JS (a grant lasts the rest of the status's ${SYNC_MS} ms)`,
    );
    assert.ok(byJs < opens / 2, `most warm opens need no round trip to JS (${byJs} of ${opens} did)`);
    // O_DIRECT bypasses the page cache: the read reaches JS through a handle the addon opened.
    const dd = await sh(
      `dd if=${path} iflag=direct bs=64k status=none | cmp - ${join(origin, 'bkt', 'dir', 'warm.bin')}`,
    );
    assert.equal(dd.code, 0, `O_DIRECT read through a native open: ${dd.stdout}${dd.stderr}`);
  });

  test('a change through the mount itself shows at once (no wait for the bound)', async () => {
    const dir = join(mnt, 'bkt', 'dir');
    await readdir(dir);
    await writeFile(join(dir, 'via-fuse.txt'), 'x');
    assert.ok((await readdir(dir)).includes('via-fuse.txt'), 'the listing was dropped on commit');
    await writeFile(join(dir, 'via-fuse.txt'), 'longer');
    assert.equal(await readFile(join(dir, 'via-fuse.txt'), 'utf8'), 'longer');
  });
});
