import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { connect } from '../../src/client/connect.js';
import type { StrataFileSystem } from '../../src/core/file-system.js';
import {
  metric,
  type RunningStrata,
  runCli,
  startLocal,
  tempDir,
  waitFor,
} from '../helpers/local-process.js';
import {
  contentOf,
  logEvents,
  mountSkipReason,
  mountTmpfs,
  readAllBytes,
  remount,
  unmount,
} from './fault-helpers.js';

/**
 * Issue 16, item 1, "a disk tier full or turned read-only": `strata local` with its disk tier
 * (<data-dir>/pages) on an 8 MiB tmpfs and its staging directory on a 4 MiB one, both mounted by
 * the test. A working set larger than the tmpfs, then the tmpfs remounted read-only: every read is
 * served with the right bytes (memory, disk or the store), a write that needs local space fails
 * with a clear error (CLI message, exit 74 ENOSPC / 77 EROFS), the metric
 * strata_page_store_write_failures_total{tier,reason} and the log line page_write_failed say so,
 * the process never crashes, and after a restart no page read fails its checksum.
 */

const SKIP = mountSkipReason();
const MiB = 1024 * 1024;
const QUOTA = 256 * MiB;
const BIG = Array.from({ length: 12 }, (_, i) => `big-${i}.bin`);
const LATE = Array.from({ length: 4 }, (_, i) => `late-${i}.bin`);

describe('a disk tier full or read-only: reads served, writes fail clearly, no crash, no corrupt page', {
  skip: SKIP,
}, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let dataDir: string;
  let pagesDir: string;
  let stagingDir: string;
  let ufs: string;
  const mounted: string[] = [];
  let strata: RunningStrata | undefined;
  let fs: (StrataFileSystem & { close(): Promise<void> }) | undefined;
  let mountFailure: string | undefined;
  const figures: string[] = [];

  const start = async () => {
    strata = await startLocal([
      '--data-dir',
      dataDir,
      '--mount',
      `/data=file://${ufs}`,
      '--page-size',
      '64KiB',
      '--memory-capacity',
      '2MiB',
      '--disk-capacity',
      String(QUOTA),
      '--s3-port',
      'off',
    ]);
    fs = await connect(strata.registry);
  };
  const stop = async () => {
    await fs?.close();
    fs = undefined;
    const code = await strata?.stop();
    strata = undefined;
    return code;
  };
  const readChecked = async (name: string, size: number) => {
    const got = await readAllBytes(await fs!.read(`/data/${name}`));
    assert.ok(got.equals(contentOf(name, size)), `${name}: ${got.length} bytes, not the file's content`);
  };
  const healthy = async () => {
    const res = await fetch(`${strata!.registry}/healthz`);
    assert.equal(res.status, 200, 'strata local still answers /healthz');
    assert.equal(strata!.child.exitCode, null, 'strata local did not exit');
  };
  const cli = (args: string[]) => runCli(args, { registry: strata!.registry });

  before(async () => {
    tmp = await tempDir('disk-faults');
    dataDir = join(tmp.dir, 'data');
    pagesDir = join(dataDir, 'pages');
    stagingDir = join(dataDir, 'staging');
    ufs = join(tmp.dir, 'ufs');
    await mkdir(pagesDir, { recursive: true });
    await mkdir(stagingDir, { recursive: true });
    await mkdir(ufs);
    for (const [dir, size] of [
      [pagesDir, '8m'],
      [stagingDir, '4m'],
    ] as const) {
      mountFailure ??= await mountTmpfs(dir, size);
      if (mountFailure === undefined) mounted.push(dir);
    }
    for (const name of [...BIG, ...LATE]) await writeFile(join(ufs, name), contentOf(name, MiB));
    if (mountFailure === undefined) await start();
  });

  after(async () => {
    await stop().catch(() => undefined);
    for (const dir of mounted.reverse()) await unmount(dir);
    await tmp?.cleanup();
    if (figures.length > 0) console.log(`# disk-tier-faults figures: ${figures.join('; ')}`);
  });

  test('full: a working set larger than the disk is read right; the tier shrinks, a metric and a log line say so; a write that needs more local space fails with ENOSPC', async (t) => {
    if (mountFailure !== undefined) return t.skip(mountFailure);
    const started = performance.now();
    for (const name of BIG) await readChecked(name, MiB);
    for (const name of BIG) await readChecked(name, MiB); // again: memory, disk or the store
    figures.push(
      `24 MiB read twice over an 8 MiB disk tier in ${Math.round(performance.now() - started)} ms`,
    );
    const noSpace = await metric(strata!.registry, 'strata_page_store_write_failures_total', {
      reason: 'no_space',
    });
    assert.ok(noSpace >= 1, `no_space write failures counted: ${noSpace}`);
    const capacity = await metric(strata!.registry, 'strata_page_store_capacity_bytes', { tier: 'disk0' });
    assert.ok(capacity > 0 && capacity < 8 * MiB, `disk0 shrank to what the tmpfs holds: ${capacity}`);
    const logged = logEvents(strata!.stderr(), 'page_write_failed');
    assert.ok(
      logged.some((l) => l.reason === 'no_space' && l.tier === 'disk0' && /ENOSPC/.test(String(l.error))),
      `a page_write_failed line with reason no_space: ${JSON.stringify(logged.slice(0, 2))}`,
    );
    assert.ok(logEvents(strata!.stderr(), 'tier_capacity').length >= 1, 'tier_capacity logged');
    figures.push(`no_space failures ${noSpace}, disk0 capacity ${(capacity / MiB).toFixed(2)} MiB`);

    // A write staged locally larger than the staging disk: a clear CACHE_FULL, nothing half there.
    const local = join(tmp.dir, 'six.bin');
    await writeFile(local, contentOf('six.bin', 6 * MiB));
    const r = await cli(['fs', 'put', '--write-type', 'MUST_CACHE', local, '/data/six.bin']);
    assert.equal(r.code, 74, `exit 74 (ENOSPC): ${r.stderr}`);
    assert.match(r.stderr, /CACHE_FULL/);
    assert.match(r.stderr, /no space left to stage the write/);
    const st = await fs!.status('/data/six.bin').catch((err: { code?: string }) => err.code);
    assert.equal(st, 'NOT_FOUND', 'the failed write left no file');
    // A write that fits goes through, and is in the store.
    const small = contentOf('small.bin', 200 * 1024);
    await fs!.write('/data/small.bin', Readable.from([small]));
    assert.ok((await readFile(join(ufs, 'small.bin'))).equals(small), 'CACHE_THROUGH write in the store');
    await readChecked('small.bin', small.length);
    await healthy();
  });

  test('read-only: reads of cached and uncached files are served; the tier is set aside (metric, log line); a write needing the read-only staging disk fails with EROFS', async (t) => {
    if (mountFailure !== undefined) return t.skip(mountFailure);
    await remount(pagesDir, 'ro');
    for (const name of LATE) await readChecked(name, MiB); // uncached: from the store
    for (const name of BIG) await readChecked(name, MiB); // some from the read-only disk
    // The page writes run after the reads are answered: wait for them to be counted.
    const readOnly = await waitFor('a read_only page write failure counted', async () => {
      const n = await metric(strata!.registry, 'strata_page_store_write_failures_total', {
        reason: 'read_only',
      });
      return n >= 1 ? n : undefined;
    }).catch(async (err: Error) => {
      const text = await (await fetch(`${strata!.registry}/metrics`)).text();
      const lines = text.split('\n').filter((l) => l.startsWith('strata_page_store_write_failures_total'));
      throw new Error(`${err.message}; series: ${lines.join(' | ')}`);
    });
    const logged = logEvents(strata!.stderr(), 'page_write_failed').filter((l) => l.reason === 'read_only');
    assert.ok(logged.length >= 1 && /EROFS/.test(String(logged[0]!.error)), 'page_write_failed, read_only');
    // The tier is set aside for 10 s after a failure, so a burst of reads fails few writes.
    figures.push(`read-only disk: ${readOnly} failed page writes over 16 MiB of reads`);
    // A write does not need the page tier: it goes through (the store and memory have it).
    const body = contentOf('ro-write.bin', 100 * 1024);
    await fs!.write('/data/ro-write.bin', Readable.from([body]));
    assert.ok((await readFile(join(ufs, 'ro-write.bin'))).equals(body));
    await readChecked('ro-write.bin', body.length);

    await remount(stagingDir, 'ro');
    const local = join(tmp.dir, 'ro.bin');
    // Past SMALL_WRITE_BYTES (64 KiB): a smaller CACHE_THROUGH write is held in memory, not staged.
    await writeFile(local, contentOf('ro.bin', 100_000));
    const r = await cli(['fs', 'put', local, '/data/ro.bin']);
    assert.equal(r.code, 77, `exit 77 (EROFS): ${r.stderr}`);
    assert.match(r.stderr, /READ_ONLY/);
    assert.match(r.stderr, /staging directory is read-only/);
    await healthy();
  });

  test('afterwards: with the disks writable again and a restart, every file reads right and no page fails its checksum', async (t) => {
    if (mountFailure !== undefined) return t.skip(mountFailure);
    await remount(pagesDir, 'rw');
    await remount(stagingDir, 'rw');
    assert.equal(await stop(), 0, 'a clean stop');
    await start();
    for (const name of [...BIG, ...LATE]) await readChecked(name, MiB);
    await readChecked('small.bin', 200 * 1024);
    await readChecked('ro-write.bin', 100 * 1024);
    assert.equal(await metric(strata!.registry, 'strata_page_store_checksum_failures_total'), 0);
    await healthy();
  });
});
