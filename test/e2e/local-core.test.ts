import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type ConnectedFileSystem, connect } from '../../src/client/connect.js';
import { isStrataError } from '../../src/core/errors.js';
import { collect } from '../../src/worker/file-system.js';
import {
  metric,
  type RunningStrata,
  runCli,
  startLocal,
  tempDir,
  waitFor,
} from '../helpers/local-process.js';

const MiB = 1024 * 1024;

async function expectCode(code: string, fn: () => Promise<unknown>): Promise<void> {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(isStrataError(err), `expected a StrataError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** Finds page files of the disk tier (any layout) under a data dir. */
async function pageFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.page')) out.push(p);
    }
  };
  await walk(join(dir, 'pages'));
  return out;
}

describe('strata local on a file:// mount', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let ufs: string;
  let data: string;
  let strata: RunningStrata;
  let fs: ConnectedFileSystem;
  const big = randomBytes(5 * MiB + 123);

  before(async () => {
    tmp = await tempDir('core');
    ufs = join(tmp.dir, 'ufs');
    data = join(tmp.dir, 'data');
    await mkdir(join(ufs, 'dir'), { recursive: true });
    await writeFile(join(ufs, 'big.bin'), big);
    await writeFile(join(ufs, 'dir', 'small.txt'), 'small\n');
    strata = await startLocal(['--data-dir', data, '--mount', `/m=${pathToFileURL(ufs)}`]);
    fs = await connect(strata.registry);
  });

  after(async () => {
    await fs?.close();
    assert.equal(await strata?.stop(), 0, 'SIGTERM shuts down cleanly with exit code 0');
    await tmp?.cleanup();
  });

  test('a cold read fetches from the store once; the warm read is served from the cache', async () => {
    const before = await metric(strata.registry, 'strata_ufs_read_bytes_total', { mount: '/m' });
    assert.ok((await collect(await fs.read('/m/big.bin'))).equals(big));
    const afterCold = await metric(strata.registry, 'strata_ufs_read_bytes_total', { mount: '/m' });
    assert.equal(afterCold - before, big.length, 'the cold read reads each byte from the store once');
    const hitsBefore = await metric(strata.registry, 'strata_cache_hit_bytes_total', { mount: '/m' });
    assert.ok((await collect(await fs.read('/m/big.bin'))).equals(big));
    assert.equal(
      await metric(strata.registry, 'strata_ufs_read_bytes_total', { mount: '/m' }),
      afterCold,
      'warm read does not touch the store',
    );
    assert.equal(
      (await metric(strata.registry, 'strata_cache_hit_bytes_total', { mount: '/m' })) - hitsBefore,
      big.length,
    );
    const info = await fs.status('/m/big.bin');
    assert.equal(info.cachedBytes, big.length);
    assert.equal(info.cachedPercent, 100);
    const listed = (await fs.list('/m')).find((e) => e.name === 'big.bin');
    assert.equal(listed?.cachedBytes, big.length, 'a listing shows what is cached now');
  });

  test('ranged reads return exact bytes across page boundaries', async () => {
    for (const [offset, length] of [
      [0, 1],
      [MiB - 3, 7],
      [2 * MiB + 5, MiB],
      [big.length - 10, 10],
      [big.length, 0],
    ] as const) {
      const got = await collect(await fs.read('/m/big.bin', { offset, length }));
      assert.ok(got.equals(big.subarray(offset, offset + length)), `range ${offset}+${length}`);
    }
    await expectCode('INVALID_RANGE', () => fs.read('/m/big.bin', { offset: big.length + 1 }));
  });

  test('concurrent misses on one page cause one store read', async () => {
    const file = randomBytes(3 * MiB);
    await writeFile(join(ufs, 'shared.bin'), file);
    const before = await metric(strata.registry, 'strata_ufs_read_bytes_total', { mount: '/m' });
    const reads = await Promise.all(
      Array.from({ length: 8 }, async () => collect(await fs.read('/m/shared.bin'))),
    );
    for (const r of reads) assert.ok(r.equals(file));
    assert.equal(
      (await metric(strata.registry, 'strata_ufs_read_bytes_total', { mount: '/m' })) - before,
      file.length,
    );
  });

  test('NO_CACHE reads do not fill the cache', async () => {
    await writeFile(join(ufs, 'nocache.bin'), randomBytes(2 * MiB));
    await collect(await fs.read('/m/nocache.bin', { readType: 'NO_CACHE' }));
    assert.equal((await fs.status('/m/nocache.bin')).cachedBytes, 0);
  });

  test('listing, mkdir, rename and delete go through to the store', async () => {
    const names = (await fs.list('/m')).map((e) => e.name);
    assert.ok(names.includes('big.bin') && names.includes('dir'));
    await fs.mkdir('/m/new/deeper');
    assert.equal((await stat(join(ufs, 'new', 'deeper'))).isDirectory(), true);
    await fs.write('/m/new/x.txt', Readable.from([Buffer.from('x')]));
    await fs.rename('/m/new/x.txt', '/m/new/y.txt');
    assert.equal(await readFile(join(ufs, 'new', 'y.txt'), 'utf8'), 'x');
    await expectCode('NOT_FOUND', () => fs.status('/m/new/x.txt'));
    await expectCode('DIRECTORY_NOT_EMPTY', () => fs.delete('/m/new'));
    await fs.delete('/m/new', { recursive: true });
    await assert.rejects(stat(join(ufs, 'new')), { code: 'ENOENT' });
    await expectCode('NOT_FOUND', () => fs.status('/m/new'));
  });

  test('each write type lands where it should', async () => {
    const body = randomBytes(2 * MiB + 1);
    const through = await fs.write('/m/w/through.bin', Readable.from([body]), { writeType: 'THROUGH' });
    assert.equal(through.cachedBytes, 0);
    assert.ok((await readFile(join(ufs, 'w', 'through.bin'))).equals(body));
    const cacheThrough = await fs.write('/m/w/ct.bin', Readable.from([body]), { writeType: 'CACHE_THROUGH' });
    assert.equal(cacheThrough.cachedBytes, body.length);
    assert.ok((await readFile(join(ufs, 'w', 'ct.bin'))).equals(body));
    const mustCache = await fs.write('/m/w/mc.bin', Readable.from([body]), { writeType: 'MUST_CACHE' });
    assert.equal(mustCache.persistence, 'NOT_PERSISTED');
    await assert.rejects(stat(join(ufs, 'w', 'mc.bin')), { code: 'ENOENT' });
    assert.ok((await collect(await fs.read('/m/w/mc.bin'))).equals(body));
    assert.ok(
      (await fs.list('/m/w')).some((e) => e.name === 'mc.bin'),
      'a MUST_CACHE file is listed',
    );
    await fs.write('/m/w/async.bin', Readable.from([body]), { writeType: 'ASYNC_THROUGH' });
    await waitFor('async persist', async () =>
      (await readFile(join(ufs, 'w', 'async.bin')).catch(() => undefined))?.equals(body),
    );
    await waitFor(
      'persisted state',
      async () => (await fs.status('/m/w/async.bin')).persistence === 'PERSISTED',
    );
  });

  test('pin, ttl and du', async () => {
    const listed = async () => (await fs.list('/m')).find((e) => e.name === 'big.bin')!;
    assert.equal((await listed()).pinned, false);
    await fs.pin('/m/big.bin', true);
    assert.equal((await fs.status('/m/big.bin')).pinned, true);
    assert.equal((await listed()).pinned, true, 'a listing shows the pin (not a stale memo)');
    const freed = await fs.free('/m');
    assert.equal((await fs.status('/m/big.bin')).cachedBytes, big.length, 'free keeps pinned files');
    assert.ok(freed.files >= 1);
    await fs.pin('/m/big.bin', false);
    await fs.setTtl('/m/dir', 60_000, 'delete');
    assert.equal((await fs.status('/m/dir')).ttlMs, 60_000);
    const du = await fs.du('/m');
    assert.ok(du.files >= 3 && du.bytes >= big.length, JSON.stringify(du));
  });

  test('metrics expose the contract series', async () => {
    const text = await (await fetch(`${strata.registry}/metrics`)).text();
    for (const name of [
      'strata_cache_hit_bytes_total{mount="/m"}',
      'strata_cache_miss_bytes_total{mount="/m"}',
      'strata_ufs_read_bytes_total{mount="/m"}',
      'strata_page_store_used_bytes{tier="memory"}',
      'strata_page_store_used_bytes{tier="disk0"}',
      'strata_page_store_evictions_total',
    ]) {
      assert.ok(text.includes(name), `missing ${name}`);
    }
    const health = await (await fetch(`${strata.registry}/healthz`)).json();
    assert.equal((health as { status: string }).status, 'ok');
  });

  test('path traversal and bad URIs get clear errors', async () => {
    await expectCode('INVALID_PATH', () => fs.status('/m/../etc/passwd'));
    await expectCode('INVALID_PATH', () => fs.status('/m//x'));
    await expectCode('INVALID_PATH', () => fs.read('/m/a\0b'));
    await expectCode('INVALID_URI', () => fs.mount('/bad', 'nope://x'));
    await expectCode('INVALID_URI', () => fs.mount('/bad', 'file:///tmp/../etc'));
    await expectCode('INVALID_URI', () => fs.mount('/bad', 'not a uri'));
    await expectCode('MOUNT_CONFLICT', () => fs.mount('/m', pathToFileURL(ufs).toString()));
    await expectCode('MOUNT_CONFLICT', () => fs.mount('/m/big.bin', pathToFileURL(ufs).toString()));
    const cli = await runCli(['fs', 'cat', '/m/../../etc/passwd'], { registry: strata.registry });
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /INVALID_PATH/);
    const badMount = await runCli(['fs', 'mount', '/x', 'ftp://host/x'], { registry: strata.registry });
    assert.notEqual(badMount.code, 0);
    assert.match(badMount.stderr, /INVALID_URI/);
  });
});

describe('metadata sync policy', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let strata: RunningStrata;
  let fs: ConnectedFileSystem;
  let ufs: string;

  before(async () => {
    tmp = await tempDir('sync');
    ufs = join(tmp.dir, 'ufs');
    await mkdir(ufs, { recursive: true });
    await writeFile(join(ufs, 'a.txt'), 'version one');
    strata = await startLocal(['--data-dir', join(tmp.dir, 'data')]);
    fs = await connect(strata.registry);
    await fs.mount('/always', pathToFileURL(ufs).toString(), { syncIntervalMs: 0 });
    await fs.mount('/lazy', pathToFileURL(ufs).toString(), { syncIntervalMs: 5000 });
    await fs.mount('/never', pathToFileURL(ufs).toString(), { syncIntervalMs: -1 });
  });

  after(async () => {
    await fs?.close();
    await strata?.stop();
    await tmp?.cleanup();
  });

  test('an out-of-band change is seen at once with 0, after N ms with N, and bytes are never stale', async () => {
    for (const m of ['/always', '/lazy', '/never']) {
      assert.equal((await collect(await fs.read(`${m}/a.txt`))).toString(), 'version one');
      assert.ok((await fs.list(m)).some((e) => e.name === 'a.txt'));
    }
    await writeFile(join(ufs, 'a.txt'), 'version two, longer');
    await writeFile(join(ufs, 'b.txt'), 'new file');
    // sync 0: seen at once, in status, listing and data.
    assert.equal((await fs.status('/always/a.txt')).size, 'version two, longer'.length);
    assert.equal((await collect(await fs.read('/always/a.txt'))).toString(), 'version two, longer');
    assert.ok((await fs.list('/always')).some((e) => e.name === 'b.txt'));
    // sync 5000 ms (wide, so a slow machine cannot pass it first): still the cached status right after the change…
    assert.equal((await fs.status('/lazy/a.txt')).size, 'version one'.length);
    assert.ok(!(await fs.list('/lazy')).some((e) => e.name === 'b.txt'));
    // …and the new one once the interval has passed (by the worker's clock: polled, not slept).
    await waitFor(
      '/lazy to resync after its 5000 ms interval',
      async () =>
        (await fs.status('/lazy/a.txt')).size === 'version two, longer'.length &&
        (await fs.list('/lazy')).some((e) => e.name === 'b.txt'),
      15_000,
    );
    assert.equal((await collect(await fs.read('/lazy/a.txt'))).toString(), 'version two, longer');
    // a per-call override of the sync interval
    assert.equal((await fs.status('/never/a.txt')).size, 'version one'.length);
    assert.equal((await fs.status('/never/a.txt', { syncIntervalMs: 0 })).size, 'version two, longer'.length);
  });

  test('the fingerprint is part of the page key: a same-size rewrite is not served stale', async () => {
    await writeFile(join(ufs, 'c.txt'), 'AAAA');
    assert.equal((await collect(await fs.read('/always/c.txt'))).toString(), 'AAAA');
    await writeFile(join(ufs, 'c.txt'), 'BBBB');
    const later = new Date(Date.now() + 5000);
    await utimes(join(ufs, 'c.txt'), later, later);
    assert.equal((await collect(await fs.read('/always/c.txt'))).toString(), 'BBBB');
  });
});

describe('eviction under a small quota respects pins', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let strata: RunningStrata;
  let fs: ConnectedFileSystem;

  before(async () => {
    tmp = await tempDir('evict');
    const ufs = join(tmp.dir, 'ufs');
    await mkdir(ufs, { recursive: true });
    for (let i = 0; i < 8; i++) await writeFile(join(ufs, `f${i}.bin`), randomBytes(MiB));
    strata = await startLocal([
      '--data-dir',
      join(tmp.dir, 'data'),
      '--mount',
      `/e=${pathToFileURL(ufs)}`,
      '--memory-capacity',
      '2MiB',
      '--disk-capacity',
      '4MiB',
    ]);
    fs = await connect(strata.registry);
  });

  after(async () => {
    await fs?.close();
    await strata?.stop();
    await tmp?.cleanup();
  });

  test('pinned files stay while others are evicted; quotas hold', async () => {
    await collect(await fs.read('/e/f0.bin'));
    await fs.pin('/e/f0.bin', true);
    for (let i = 1; i < 8; i++) await collect(await fs.read(`/e/f${i}.bin`));
    // A read may end before its last page is stored (and so before the eviction it causes).
    await waitFor('the newest file cached', async () => (await fs.status('/e/f7.bin')).cachedBytes === MiB);
    await waitFor(
      'the oldest unpinned file evicted (LRU)',
      async () => (await fs.status('/e/f1.bin')).cachedBytes === 0,
    );
    assert.equal((await fs.status('/e/f0.bin')).cachedBytes, MiB, 'pinned file still cached');
    assert.ok((await metric(strata.registry, 'strata_page_store_used_bytes', { tier: 'disk0' })) <= 4 * MiB);
    assert.ok((await metric(strata.registry, 'strata_page_store_used_bytes', { tier: 'memory' })) <= 2 * MiB);
    assert.ok((await metric(strata.registry, 'strata_page_store_evictions_total', { tier: 'disk0' })) >= 4);
    const report = await fs.report();
    assert.equal(report.workers.length, 1);
  });
});

describe('durability across restarts and crashes', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let ufs: string;
  let data: string;

  before(async () => {
    tmp = await tempDir('restart');
    ufs = join(tmp.dir, 'ufs');
    data = join(tmp.dir, 'data');
    await mkdir(ufs, { recursive: true });
  });

  after(async () => {
    await tmp?.cleanup();
  });

  test('restart keeps mounts, metadata and disk pages', async () => {
    const body = randomBytes(3 * MiB);
    await writeFile(join(ufs, 'keep.bin'), body);
    let strata = await startLocal(['--data-dir', data]);
    let fs = await connect(strata.registry);
    await fs.mount('/r', pathToFileURL(ufs).toString(), { syncIntervalMs: -1, writeType: 'THROUGH' });
    await collect(await fs.read('/r/keep.bin'));
    await fs.pin('/r/keep.bin', true);
    await fs.close();
    assert.equal(await strata.stop(), 0);

    strata = await startLocal(['--data-dir', data]);
    fs = await connect(strata.registry);
    try {
      const mounts = await fs.mounts();
      const m = mounts.find((x) => x.path === '/r');
      assert.ok(m, 'mount survived');
      assert.equal(m.writeType, 'THROUGH');
      const info = await fs.status('/r/keep.bin');
      assert.equal(info.cachedBytes, body.length, 'disk pages survived');
      assert.equal(info.pinned, true, 'pin survived');
      assert.equal(
        await metric(strata.registry, 'strata_metadata_cache_misses_total', { mount: '/r' }),
        0,
        'status came from the metadata store',
      );
      assert.ok((await collect(await fs.read('/r/keep.bin'))).equals(body));
      assert.equal(
        await metric(strata.registry, 'strata_ufs_read_bytes_total', { mount: '/r' }),
        0,
        'served from disk pages',
      );
    } finally {
      await fs.close();
      await strata.stop();
    }
  });

  test('an ASYNC_THROUGH write survives kill -9 and is persisted after restart', async () => {
    const body = randomBytes(2 * MiB + 7);
    let strata = await startLocal(['--data-dir', data, '--persist-delay', '1h']);
    let fs = await connect(strata.registry);
    await fs.write('/r/async/crash.bin', Readable.from([body]), { writeType: 'ASYNC_THROUGH' });
    assert.equal((await fs.status('/r/async/crash.bin')).persistence, 'TO_BE_PERSISTED');
    await assert.rejects(stat(join(ufs, 'async', 'crash.bin')), { code: 'ENOENT' });
    await fs.close();
    await strata.kill();

    strata = await startLocal(['--data-dir', data]);
    fs = await connect(strata.registry);
    try {
      await waitFor('persist after restart', async () =>
        (await readFile(join(ufs, 'async', 'crash.bin')).catch(() => undefined))?.equals(body),
      );
      assert.ok((await collect(await fs.read('/r/async/crash.bin'))).equals(body));
    } finally {
      await fs.close();
      await strata.stop();
    }
  });

  test('a corrupted disk page is detected, dropped and re-read from the store', async () => {
    const body = randomBytes(2 * MiB);
    await writeFile(join(ufs, 'heal.bin'), body);
    // A data dir of its own, so every page file on disk belongs to heal.bin.
    const own = join(tmp.dir, 'data-heal');
    const strata = await startLocal([
      '--data-dir',
      own,
      '--memory-capacity',
      '0',
      '--mount',
      `/r=${pathToFileURL(ufs)}`,
    ]);
    const fs = await connect(strata.registry);
    try {
      await collect(await fs.read('/r/heal.bin'));
      // Pages are written to disk behind the reader: wait until both are there.
      const pages = await waitFor('page files on disk', async () => {
        const found = await pageFiles(own);
        return found.length === 2 ? found : undefined;
      });
      for (const p of pages) {
        const fh = await open(p, 'r+');
        const size = (await fh.stat()).size;
        const b = Buffer.alloc(1);
        await fh.read(b, 0, 1, size - 100);
        b[0] = b[0]! ^ 0xff;
        await fh.write(b, 0, 1, size - 100);
        await fh.close();
      }
      const before = await metric(strata.registry, 'strata_ufs_read_bytes_total', { mount: '/r' });
      assert.ok(
        (await collect(await fs.read('/r/heal.bin'))).equals(body),
        'correct bytes despite corruption',
      );
      assert.ok(
        (await metric(strata.registry, 'strata_ufs_read_bytes_total', { mount: '/r' })) - before >=
          body.length,
        'healed from the store',
      );
      assert.ok((await metric(strata.registry, 'strata_page_store_corrupt_pages_total')) >= 2);
      assert.ok((await collect(await fs.read('/r/heal.bin'))).equals(body));
    } finally {
      await fs.close();
      await strata.stop();
    }
  });
});

describe('TTL expiry, load and unmount', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let strata: RunningStrata;
  let fs: ConnectedFileSystem;
  let ufs: string;

  before(async () => {
    tmp = await tempDir('ttl');
    ufs = join(tmp.dir, 'ufs');
    await mkdir(join(ufs, 'tree', 'sub'), { recursive: true });
    await writeFile(join(ufs, 'tree', 'a.bin'), randomBytes(MiB));
    await writeFile(join(ufs, 'tree', 'sub', 'b.bin'), randomBytes(MiB));
    await writeFile(join(ufs, 'doomed.txt'), 'bye');
    strata = await startLocal([
      '--data-dir',
      join(tmp.dir, 'data'),
      '--mount',
      `/t=${pathToFileURL(ufs)}`,
      '--ttl-check-interval',
      '200ms',
    ]);
    fs = await connect(strata.registry);
  });

  after(async () => {
    await fs?.close();
    await strata?.stop();
    await tmp?.cleanup();
  });

  test('load fills the cache for a whole tree; a TTL with action free empties it', async () => {
    const loaded = await runCli(['fs', 'load', '/t/tree'], { registry: strata.registry });
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.equal((await fs.du('/t/tree')).cachedBytes, 2 * MiB);
    await fs.setTtl('/t/tree', 300, 'free');
    await waitFor('TTL free', async () => (await fs.du('/t/tree')).cachedBytes === 0);
    assert.equal((await fs.status('/t/tree/a.bin')).size, MiB, 'free keeps the file');
    assert.equal((await fs.status('/t/tree')).ttlMs, undefined, 'the TTL is consumed');
  });

  test('a TTL with action delete removes the file from the store', async () => {
    const ttl = await runCli(['fs', 'ttl', '/t/doomed.txt', '300ms', '--action', 'delete'], {
      registry: strata.registry,
    });
    assert.equal(ttl.code, 0, ttl.stderr);
    await waitFor(
      'TTL delete',
      async () => (await stat(join(ufs, 'doomed.txt')).catch(() => undefined)) === undefined,
    );
    await expectCode('NOT_FOUND', () => fs.status('/t/doomed.txt', { syncIntervalMs: 0 }));
  });

  test("CACHE_PROMOTE copies disk pages into memory; unmount frees the mount's pages", async () => {
    await collect(await fs.read('/t/tree/a.bin', { readType: 'CACHE_PROMOTE' }));
    const used = await metric(strata.registry, 'strata_page_store_used_bytes', { tier: 'disk0' });
    assert.ok(used >= MiB);
    await fs.unmount('/t');
    assert.equal(await metric(strata.registry, 'strata_page_store_used_bytes', { tier: 'disk0' }), 0);
    await expectCode('NOT_MOUNTED', () => fs.status('/t/tree/a.bin'));
    assert.equal((await stat(join(ufs, 'tree', 'a.bin'))).size, MiB, 'unmount leaves the store alone');
  });
});
