import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  stat,
  statfs,
  truncate,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { DISK_INDEX_FILE } from '../../src/cache/disk-index-file.js';
import { encodePageHeader, PAGE_HEADER_BYTES } from '../../src/cache/page-file.js';
import type { EvictionPolicyName, TierConfig } from '../../src/cache/page-store.js';
import { TieredPageStore } from '../../src/cache/tiered-page-store.js';
import { isStrataError } from '../../src/core/errors.js';
import { waitFor } from '../helpers/wait.js';

const PAGE = 1024;
let root: string;
let seq = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'strata-page-store-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  const dir = join(root, `d${++seq}`);
  return dir;
}

interface Setup {
  memory?: number;
  disk?: number;
  dir?: string;
  eviction?: EvictionPolicyName;
}

async function makeStore(s: Setup): Promise<{ store: TieredPageStore; dir: string; evicted: string[] }> {
  const dir = s.dir ?? (await freshDir());
  const tiers: TierConfig[] = [];
  if (s.memory !== undefined) tiers.push({ name: 'memory', kind: 'memory', capacityBytes: s.memory });
  if (s.disk !== undefined) tiers.push({ name: 'disk0', kind: 'disk', dir, capacityBytes: s.disk });
  const store = new TieredPageStore({ pageSize: PAGE, tiers, eviction: s.eviction ?? 'LRU' });
  const evicted: string[] = [];
  store.onEvict = (tier, fileId, index, bytes) => evicted.push(`${tier}:${fileId}/${index}:${bytes}`);
  await store.open();
  return { store, dir, evicted };
}

function page(seed: number, size = PAGE): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

function tier(store: TieredPageStore, name: string) {
  const t = store.stats().tiers.find((x) => x.tier === name);
  assert.ok(t, `tier ${name}`);
  return t;
}

/** What a kill -9 leaves: no index file (it is written by close() and deleted by open()). */
async function asAfterACrash(dir: string): Promise<void> {
  await unlink(join(dir, DISK_INDEX_FILE));
}

function pagePath(dir: string, fileId: string, index: number): string {
  return join(dir, fileId.slice(0, 2), `${fileId}.${index}.page`);
}

/** Every file under a disk dir's prefix directories, as `fileId/index.page`, with its payload size. */
async function pagesOnDisk(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const prefix of await readdir(dir)) {
    if (prefix === 'pins.json' || prefix === DISK_INDEX_FILE) continue;
    for (const name of await readdir(join(dir, prefix))) {
      const st = await stat(join(dir, prefix, name));
      const m = /^(.+)\.([0-9]+\.page)$/.exec(name);
      out.set(m ? `${m[1]}/${m[2]}` : name, st.size - PAGE_HEADER_BYTES);
    }
  }
  return out;
}

function sumCachedBytes(store: TieredPageStore): number {
  let total = 0;
  for (const f of store.files()) total += store.cachedBytes(f);
  return total;
}

/**
 * TieredPageStore specifics: the page file layout, inclusive tiers, restarts, concurrency. What any
 * PageStore must do (round trips, accounting, eviction order, pins, CACHE_FULL, persistence of
 * pages and pins, corrupt pages) is the contract suite in page-store-contract.test.ts.
 */
describe('TieredPageStore layout', () => {
  test('disk only: one file per page with a header', async () => {
    const { store, dir } = await makeStore({ disk: 8 * PAGE });
    await store.put('abcdef', 3, page(3));
    const raw = await readFile(pagePath(dir, 'abcdef', 3));
    assert.equal(raw.length, PAGE_HEADER_BYTES + PAGE);
    assert.equal(raw.subarray(0, 4).toString('latin1'), 'STPG');
    assert.ok((await store.get('abcdef', 3))?.equals(page(3)));
    assert.equal(tier(store, 'disk0').usedBytes, PAGE);
    assert.equal(tier(store, 'disk0').pages, 1);
    await store.close();
  });

  test('memory and disk: inclusive', async () => {
    const { store, dir } = await makeStore({ memory: 8 * PAGE, disk: 8 * PAGE });
    await store.put('both', 0, page(5));
    assert.equal(tier(store, 'memory').pages, 1);
    assert.equal(tier(store, 'disk0').pages, 1);
    assert.equal(store.cachedBytes('both'), PAGE, 'a page in two tiers counts once');
    // Served from memory even when the file is gone.
    await rm(pagePath(dir, 'both', 0));
    assert.ok((await store.get('both', 0))?.equals(page(5)));
    await store.close();
  });

  test('invalid fileIds and indexes are rejected', async () => {
    const { store } = await makeStore({ memory: 8 * PAGE });
    for (const bad of ['../x', 'a/b', '', 'x'.repeat(129), 'a.b']) {
      await assert.rejects(store.put(bad, 0, page(1)), (e) => isStrataError(e, 'INVALID_ARGUMENT'));
    }
    await assert.rejects(store.put('ok', -1, page(1)), (e) => isStrataError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(store.put('ok', 2 ** 48, page(1)), (e) => isStrataError(e, 'INVALID_ARGUMENT'));
    await store.close();
  });
});

describe('eviction across tiers', () => {
  test('a disk eviction deletes the file and the memory copy', async () => {
    const { store, dir } = await makeStore({ memory: 8 * PAGE, disk: 2 * PAGE });
    await store.put('g', 0, page(0));
    await store.put('g', 1, page(1));
    await store.put('g', 2, page(2));
    assert.equal(store.has('g', 0), false);
    assert.equal(tier(store, 'memory').pages, 2);
    await store.close(); // waits for background unlinks
    await assert.rejects(stat(pagePath(dir, 'g', 0)), { code: 'ENOENT' });
  });

  test('a page larger than a tier is not stored there', async () => {
    const dir = await freshDir();
    const store = new TieredPageStore({
      pageSize: PAGE,
      eviction: 'LRU',
      tiers: [
        { name: 'memory', kind: 'memory', capacityBytes: 100 },
        { name: 'disk0', kind: 'disk', dir, capacityBytes: 4 * PAGE },
      ],
    });
    await store.open();
    await store.put('big', 0, page(1));
    assert.equal(tier(store, 'memory').pages, 0);
    assert.equal(tier(store, 'disk0').pages, 1);
    assert.ok((await store.get('big', 0))?.equals(page(1)));
    await store.close();
  });
});

describe('pins', () => {
  test('a full pinned memory tier just skips caching in memory', async () => {
    const { store } = await makeStore({ memory: 2 * PAGE, disk: 8 * PAGE });
    await store.setPinned('p', true);
    await store.put('p', 0, page(0));
    await store.put('p', 1, page(1));
    await store.put('q', 0, page(2));
    assert.equal(tier(store, 'memory').pages, 2);
    assert.equal(tier(store, 'memory').evictions, 0);
    assert.equal(tier(store, 'disk0').pages, 3);
    assert.ok((await store.get('q', 0))?.equals(page(2)));
    await store.close();
  });
});

describe('damaged page files (a flipped payload byte: the contract suite)', () => {
  async function corruptCase(damage: (path: string) => Promise<void>): Promise<void> {
    const { store, dir } = await makeStore({ disk: 8 * PAGE });
    await store.put('c', 0, page(9));
    await store.put('c', 1, page(10));
    const path = pagePath(dir, 'c', 0);
    await damage(path);
    assert.equal(await store.get('c', 0), undefined);
    assert.equal(store.stats().corruptPages, 1);
    assert.equal(store.has('c', 0), false);
    await assert.rejects(stat(path), { code: 'ENOENT' });
    assert.equal(tier(store, 'disk0').usedBytes, PAGE);
    assert.deepEqual(store.cachedPages('c'), [1]);
    assert.ok((await store.get('c', 1))?.equals(page(10)));
    await store.close();
  }

  test('a truncated page is detected', async () => {
    await corruptCase((path) => truncate(path, PAGE_HEADER_BYTES + 100));
  });

  test('a damaged header is detected', async () => {
    await corruptCase(async (path) => {
      const fh = await open(path, 'r+');
      await fh.write(Buffer.from('JUNK'), 0, 4, 0);
      await fh.close();
    });
  });
});

describe('restart', () => {
  test('open() removes temp files, counts a page file shorter than a header as corrupt, starts with memory empty', async () => {
    const { store, dir } = await makeStore({ memory: 8 * PAGE, disk: 16 * PAGE });
    for (let i = 0; i < 3; i++) await store.put('keep', i, page(i));
    await store.put('other', 0, page(42));
    await store.close();
    await asAfterACrash(dir);
    const leftover = `${pagePath(dir, 'keep', 9)}.dead.1.tmp`;
    await writeFile(leftover, 'half a page');
    await writeFile(pagePath(dir, 'other', 1), 'short'); // shorter than a header

    const { store: again } = await makeStore({ memory: 8 * PAGE, disk: 16 * PAGE, dir });
    assert.deepEqual(again.cachedPages('keep'), [0, 1, 2]);
    assert.equal(again.has('other', 1), false);
    assert.equal(again.stats().corruptPages, 1);
    assert.equal(tier(again, 'disk0').usedBytes, 4 * PAGE);
    assert.equal(tier(again, 'memory').usedBytes, 0, 'the memory tier starts empty');
    await assert.rejects(stat(leftover), { code: 'ENOENT' });
    assert.ok((await again.get('other', 0))?.equals(page(42)));
    await again.close();
  });

  test('open() moves pages of the older layout (a directory per file) into the flat one', async () => {
    const dir = await freshDir();
    const payload = page(7);
    const legacy = join(dir, 'ol', 'old');
    await mkdir(legacy, { recursive: true });
    await writeFile(join(legacy, '0.page'), Buffer.concat([encodePageHeader(0, payload), payload]));
    await writeFile(join(legacy, '1.page'), Buffer.concat([encodePageHeader(1, payload), payload]));
    await writeFile(join(legacy, '2.page.ab.1.tmp'), 'half');
    const { store } = await makeStore({ disk: 16 * PAGE, dir });
    assert.deepEqual(store.cachedPages('old'), [0, 1]);
    assert.ok((await store.get('old', 1))?.equals(payload));
    await assert.rejects(stat(legacy), { code: 'ENOENT' });
    assert.deepEqual([...(await pagesOnDisk(dir)).keys()].sort(), ['old/0.page', 'old/1.page']);
    await store.close();
  });

  test('a page cut short under its own name (a crash mid-write) is dropped on read, never served', async () => {
    const { store, dir } = await makeStore({ disk: 16 * PAGE });
    await store.put('torn', 0, page(1));
    await store.close();
    const raw = await readFile(pagePath(dir, 'torn', 0));
    await writeFile(pagePath(dir, 'torn', 0), raw.subarray(0, raw.length - 100));
    const { store: again } = await makeStore({ disk: 16 * PAGE, dir });
    assert.equal(await again.get('torn', 0), undefined);
    assert.equal(again.has('torn', 0), false);
    assert.equal(again.stats().corruptPages, 1);
    await again.close();
  });

  test('LRU order after a crash follows mtime; a smaller quota evicts the oldest', async () => {
    const { store, dir } = await makeStore({ disk: 8 * PAGE });
    for (let i = 0; i < 4; i++) await store.put('m', i, page(i));
    await store.close();
    await asAfterACrash(dir);
    // Make page 2 the oldest and page 0 the newest.
    const t = Date.now() / 1000;
    for (const [i, age] of [
      [0, 10],
      [1, 20],
      [2, 40],
      [3, 30],
    ] as const) {
      await utimes(pagePath(dir, 'm', i), t - age, t - age);
    }
    const { store: again, evicted } = await makeStore({ disk: 2 * PAGE, dir });
    assert.deepEqual(evicted, [`disk0:m/2:${PAGE}`, `disk0:m/3:${PAGE}`]);
    assert.deepEqual(again.cachedPages('m'), [0, 1]);
    await again.put('m', 5, page(5));
    assert.deepEqual(again.cachedPages('m'), [0, 5]);
    await again.close();
    assert.deepEqual([...(await pagesOnDisk(dir)).keys()].sort(), ['m/0.page', 'm/5.page']);
  });
});

describe('restart from the index file of a clean close (no walk)', () => {
  test('a clean close leaves the index; open() takes it (and deletes it), same pages, LRU order kept', async () => {
    const { store, dir } = await makeStore({ disk: 8 * PAGE });
    for (let i = 0; i < 4; i++) await store.put('m', i, page(i));
    await store.get('m', 0); // 0 is now the most recent, 1 the coldest
    await store.close();
    assert.ok((await stat(join(dir, DISK_INDEX_FILE))).isFile());
    // mtimes that disagree with the access order: a scan would follow them, the index does not.
    const t = Date.now() / 1000;
    await utimes(pagePath(dir, 'm', 0), t - 100, t - 100);
    const { store: again, evicted } = await makeStore({ disk: 2 * PAGE, dir });
    assert.deepEqual(again.diskIndexSources, ['index-file']);
    await assert.rejects(stat(join(dir, DISK_INDEX_FILE)), { code: 'ENOENT' });
    assert.deepEqual(evicted, [`disk0:m/1:${PAGE}`, `disk0:m/2:${PAGE}`]);
    assert.deepEqual(again.cachedPages('m'), [0, 3]);
    assert.ok((await again.get('m', 3))?.equals(page(3)));
    assert.equal(tier(again, 'disk0').usedBytes, 2 * PAGE);
    await again.close();
  });

  test('without a clean close since (a crash) the next open() walks the directories and finds every page', async () => {
    const { store, dir } = await makeStore({ disk: 8 * PAGE });
    await store.put('a', 0, page(1));
    await store.close();
    const { store: running } = await makeStore({ disk: 8 * PAGE, dir });
    assert.deepEqual(running.diskIndexSources, ['index-file']);
    await running.put('b', 0, page(2)); // then the process dies: no close()
    const { store: again } = await makeStore({ disk: 8 * PAGE, dir });
    assert.deepEqual(again.diskIndexSources, ['scan']);
    assert.ok((await again.get('a', 0))?.equals(page(1)));
    assert.ok((await again.get('b', 0))?.equals(page(2)));
    await again.close();
    await running.close().catch(() => undefined);
  });

  test('a damaged index file is ignored: the directories are walked', async () => {
    const { store, dir } = await makeStore({ disk: 8 * PAGE });
    for (let i = 0; i < 3; i++) await store.put('m', i, page(i));
    await store.close();
    const file = join(dir, DISK_INDEX_FILE);
    const text = await readFile(file, 'latin1');
    await writeFile(file, text.replace(/\nend \d+\n$/, '\n')); // cut before its end line
    const { store: again } = await makeStore({ disk: 8 * PAGE, dir });
    assert.deepEqual(again.diskIndexSources, ['scan']);
    assert.deepEqual(again.cachedPages('m'), [0, 1, 2]);
    await assert.rejects(stat(file), { code: 'ENOENT' });
    await again.close();
  });

  test('an index file bad half way is forgotten before the walk: no page is counted twice', async () => {
    const { store, dir } = await makeStore({ disk: 8 * PAGE });
    for (let i = 0; i < 3; i++) await store.put('h', i, page(i));
    await store.close();
    const file = join(dir, DISK_INDEX_FILE);
    const lines = (await readFile(file, 'latin1')).split('\n');
    lines.splice(3, 0, 'h not-a-number 1024'); // after two good pages, which open() has taken by then
    await writeFile(file, lines.join('\n'));
    const { store: again } = await makeStore({ disk: 8 * PAGE, dir });
    assert.deepEqual(again.diskIndexSources, ['scan']);
    assert.deepEqual(again.cachedPages('h'), [0, 1, 2]);
    assert.equal(tier(again, 'disk0').pages, 3);
    assert.equal(tier(again, 'disk0').usedBytes, 3 * PAGE);
    assert.equal(again.cachedBytes('h'), 3 * PAGE);
    await again.close();
  });

  test('a page on two disk tiers at open (a crash while moving) keeps the copy of the first tier', async () => {
    const dirs = [await freshDir(), await freshDir()];
    for (const [i, dir] of dirs.entries()) {
      const { store } = await makeStore({ disk: 8 * PAGE, dir });
      await store.put('twice', 0, page(10 + i));
      await store.put(`only${i}`, 0, page(20 + i));
      await store.close();
    }
    const store = new TieredPageStore({
      pageSize: PAGE,
      eviction: 'LRU',
      tiers: dirs.map((dir, i) => ({ name: `disk${i}`, kind: 'disk', dir, capacityBytes: 8 * PAGE })),
    });
    await store.open();
    assert.deepEqual(store.diskIndexSources, ['index-file', 'index-file']);
    assert.ok((await store.get('twice', 0))?.equals(page(10)));
    assert.equal(tier(store, 'disk0').pages, 2);
    assert.equal(tier(store, 'disk1').pages, 1);
    assert.equal(store.cachedBytes('twice'), PAGE);
    assert.deepEqual([...store.files()].sort(), ['only0', 'only1', 'twice']);
    await store.close(); // waits for the second copy's unlink
    assert.deepEqual([...(await pagesOnDisk(dirs[1]!)).keys()], ['only1/0.page']);
  });

  test('a page file removed by hand while closed reads as missing and is dropped', async () => {
    const { store, dir } = await makeStore({ disk: 8 * PAGE });
    await store.put('gone', 0, page(1));
    await store.put('gone', 1, page(2));
    await store.close();
    await unlink(pagePath(dir, 'gone', 0));
    const { store: again } = await makeStore({ disk: 8 * PAGE, dir });
    assert.equal(await again.get('gone', 0), undefined);
    assert.equal(again.has('gone', 0), false);
    assert.equal(tier(again, 'disk0').usedBytes, PAGE);
    assert.ok((await again.get('gone', 1))?.equals(page(2)));
    await again.close();
  });
});

describe('promote and delete', () => {
  test('promote copies a disk hit into memory', async () => {
    const { store, dir } = await makeStore({ memory: 2 * PAGE, disk: 8 * PAGE });
    for (let i = 0; i < 4; i++) await store.put('pr', i, page(i));
    // Memory holds pages 2 and 3 now.
    assert.ok((await store.get('pr', 0))?.equals(page(0)));
    await rm(pagePath(dir, 'pr', 1));
    assert.equal(await store.get('pr', 1), undefined, 'a plain get reads disk');
    assert.ok((await store.get('pr', 0, { promote: true }))?.equals(page(0)));
    await rm(pagePath(dir, 'pr', 0));
    assert.ok((await store.get('pr', 0))?.equals(page(0)), 'served from memory after promote');
    assert.equal(tier(store, 'memory').pages, 2);
    await store.close();
  });

  test('deleteFile frees every tier and removes the file directory', async () => {
    const { store, dir } = await makeStore({ memory: 8 * PAGE, disk: 8 * PAGE });
    for (let i = 0; i < 3; i++) await store.put('del', i, page(i));
    await store.put('stay', 0, page(7));
    assert.equal(await store.deleteFile('del'), 3 * PAGE);
    assert.equal(tier(store, 'memory').usedBytes, PAGE);
    assert.equal(tier(store, 'disk0').usedBytes, PAGE);
    await assert.rejects(stat(join(dir, 'de', 'del')), { code: 'ENOENT' });
    await store.close();
    assert.deepEqual([...(await pagesOnDisk(dir)).keys()], ['stay/0.page']);
  });
});

describe('concurrency', () => {
  test('usedBytes stays exact under concurrent puts and deletes of the same keys', async () => {
    const { store, dir } = await makeStore({ memory: 3 * PAGE, disk: 6 * PAGE });
    const ids = ['k1', 'k2', 'k3'];
    const ops: Promise<unknown>[] = [];
    let rnd = 12345;
    const next = (n: number) => {
      rnd = (Math.imul(rnd, 1103515245) + 12345) & 0x7fffffff;
      return (rnd >>> 8) % n; // the low bits of a power-of-two LCG cycle fast
    };
    for (let round = 0; round < 400; round++) {
      const id = ids[next(ids.length)]!;
      const index = next(8);
      const op = next(10);
      let started: Promise<unknown>;
      if (op < 6) started = store.put(id, index, page(round, 1 + next(PAGE)));
      else if (op < 8) started = store.deleteFile(id);
      else if (op < 9) started = store.get(id, index, { promote: true });
      else started = store.setPinned(id, next(2) === 0);
      // Handled now: a put may fail CACHE_FULL while the loop yields below, before allSettled
      // sees it (an unhandled rejection failed this test now and then); its outcome is checked there.
      started.catch(() => undefined);
      ops.push(started);
      const disk = tier(store, 'disk0');
      assert.ok(disk.usedBytes <= disk.capacityBytes);
      assert.ok(tier(store, 'memory').usedBytes <= 3 * PAGE);
      // Let some ops reach their disk I/O before more arrive, so they overlap in every phase.
      if (next(4) === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const results = await Promise.allSettled(ops);
    for (const r of results) {
      if (r.status === 'rejected') assert.ok(isStrataError(r.reason, 'CACHE_FULL'), String(r.reason));
    }
    await store.close(); // waits for background unlinks
    const disk = tier(store, 'disk0');
    const full = results.filter((r) => r.status === 'rejected').length;
    console.log(
      `# ${ops.length} ops, ${disk.evictions} disk evictions, ${full} CACHE_FULL, ${disk.pages} pages left`,
    );
    assert.ok(disk.evictions > 0, 'the quota forced evictions');
    const onDisk = await pagesOnDisk(dir);
    let diskBytes = 0;
    for (const v of onDisk.values()) diskBytes += v;
    assert.equal(disk.usedBytes, diskBytes, 'usedBytes equals the payload bytes of the files on disk');
    assert.equal(disk.pages, onDisk.size);
    assert.equal(disk.usedBytes, sumCachedBytes(store), 'usedBytes equals the sum of cached pages');
    for (const f of store.files()) {
      for (const i of store.cachedPages(f)) assert.ok(onDisk.has(`${f}/${i}.page`), `${f}/${i} on disk`);
    }
    assert.equal(store.stats().corruptPages, 0);

    // A restart sees the same pages and bytes.
    const { store: again } = await makeStore({ memory: 3 * PAGE, disk: 6 * PAGE, dir });
    assert.equal(tier(again, 'disk0').usedBytes, diskBytes);
    for (const f of again.files()) {
      for (const i of again.cachedPages(f)) assert.ok(await again.get(f, i), `${f}/${i} readable`);
    }
    assert.equal(again.stats().corruptPages, 0);
    await again.close();
  });

  test('a burst of puts larger than the quota waits for in-flight writes instead of CACHE_FULL', async () => {
    const { store, dir } = await makeStore({ disk: 4 * PAGE });
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put('burst', i, page(i))));
    assert.equal(tier(store, 'disk0').pages, 4);
    assert.equal(tier(store, 'disk0').evictions, 16);
    await store.close();
    assert.equal((await pagesOnDisk(dir)).size, 4);
  });

  test('two puts of the same page and a put racing deleteFile', async () => {
    const { store, dir } = await makeStore({ disk: 8 * PAGE });
    await Promise.all([store.put('same', 0, page(1, 500)), store.put('same', 0, page(2, 700))]);
    assert.equal(tier(store, 'disk0').usedBytes, 700);
    assert.ok((await store.get('same', 0))?.equals(page(2, 700)));
    const race = [store.put('same', 1, page(3)), store.deleteFile('same'), store.put('same', 2, page(4))];
    await Promise.all(race);
    await store.close();
    const onDisk = await pagesOnDisk(dir);
    let bytes = 0;
    for (const v of onDisk.values()) bytes += v;
    assert.equal(tier(store, 'disk0').usedBytes, bytes);
    assert.equal(sumCachedBytes(store), bytes);
  });
});

describe('scale', () => {
  test('open() indexes 20,000 pages written by an earlier run', async () => {
    const dir = await freshDir();
    const small = Buffer.alloc(16, 1);
    const file = Buffer.concat([encodePageHeader(0, small), small]);
    const work: Array<[string, number]> = [];
    for (let f = 0; f < 200; f++) for (let i = 0; i < 100; i++) work.push([`file${f}`, i]);
    await mkdir(join(dir, 'fi'), { recursive: true });
    // Page files as the store writes them (index 0 in every header: only page 0 is read back).
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let w = work.pop(); w !== undefined; w = work.pop())
          await writeFile(pagePath(dir, w[0], w[1]), file);
      }),
    );
    const t0 = performance.now();
    const { store } = await makeStore({ disk: 1e9, dir });
    const tOpen = performance.now() - t0;
    assert.equal(tier(store, 'disk0').pages, 20_000);
    assert.equal(tier(store, 'disk0').usedBytes, 20_000 * 16);
    assert.equal(store.cachedPages('file7').length, 100);
    assert.ok((await store.get('file7', 0))?.equals(small));
    console.log(`# open() of 20000 pages: ${tOpen.toFixed(0)} ms`);
    await store.close();
  });
});

describe('a disk tier on a disk smaller than its quota (a 1 MiB tmpfs)', () => {
  const run = promisify(execFile);
  let dir: string;
  let mounted = false;
  before(async () => {
    dir = join(root, 'tmpfs');
    await mkdir(dir);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    mounted = true;
  });
  after(async () => {
    if (mounted) await run('umount', [dir]);
  });

  test('ENOSPC shrinks it to what the disk holds and evicts, puts keep succeeding, and it grows back when the disk frees up', async () => {
    const ps = 16 * 1024;
    const changes: Array<[number, number]> = [];
    const store = new TieredPageStore({
      pageSize: ps,
      tiers: [{ name: 'disk0', kind: 'disk', dir, capacityBytes: 64 * 1024 * 1024 }],
      eviction: 'LRU',
      regrowCheckMs: 50,
    });
    store.onCapacityChange = (_tier, capacity, quota) => changes.push([capacity, quota]);
    await store.open();
    try {
      const page = Buffer.alloc(ps, 1);
      // 4 MiB of pages through a 1 MiB disk: every put succeeds (the one that met ENOSPC was retried).
      for (let i = 0; i < 256; i++) await store.put('f', i, page);
      const disk = () => store.stats().tiers[0]!;
      assert.ok(disk().capacityBytes < 1024 * 1024, `capacity ${disk().capacityBytes}`);
      assert.ok(disk().capacityBytes > 0);
      assert.ok(disk().usedBytes <= disk().capacityBytes);
      assert.ok(disk().evictions > 0);
      assert.ok(changes.length >= 1 && changes.every(([, quota]) => quota === 64 * 1024 * 1024));
      assert.ok((await statfs(dir)).bavail > 0, 'it leaves headroom free on the disk');
      assert.ok((await store.get('f', 255))?.equals(page), 'the last page is cached');

      // Something else takes most of the disk while the tier is empty: the tier's quota says
      // there is room, its disk says no, and the tier shrinks further.
      const shrunk = disk().capacityBytes;
      await store.deleteFile('f');
      const filler = join(dir, 'filler');
      const fh = await open(filler, 'w');
      let size = 0;
      try {
        for (;;) size += (await fh.write(Buffer.alloc(ps))).bytesWritten;
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        await fh.close();
      }
      await truncate(filler, size - 256 * 1024); // leaves 256 KiB for the tier
      for (let i = 256; i < 512; i++) await store.put('f', i, page);
      assert.ok(disk().capacityBytes < shrunk, `${disk().capacityBytes} < ${shrunk}`);
      assert.ok(disk().capacityBytes <= 256 * 1024);
      const smaller = disk().capacityBytes;
      // It goes away: on a later put, the tier measures its disk again and grows back.
      await rm(filler);
      let i = 512;
      await waitFor(
        async () => {
          await store.put('f', i++, page);
          return disk().capacityBytes > smaller;
        },
        { what: 'the tier to grow back' },
      );
      assert.ok(disk().capacityBytes <= 1024 * 1024, 'no more than the disk holds');
    } finally {
      await store.close();
    }
  });
});

describe('a disk tier turned read-only (a tmpfs remounted ro)', () => {
  const run = promisify(execFile);
  let dir: string;
  let mounted = false;
  before(async () => {
    dir = join(root, 'tmpfs-ro');
    await mkdir(dir);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
    mounted = true;
  });
  after(async () => {
    if (mounted) await run('umount', ['-l', dir]);
  });

  test('its pages stay readable, new pages are cached in memory only (reported as read_only), and it takes pages again once writable', async () => {
    const ps = 16 * 1024;
    const failures: Array<[string, string, string]> = [];
    const store = new TieredPageStore({
      pageSize: ps,
      tiers: [
        { name: 'mem', kind: 'memory', capacityBytes: 1024 * 1024 },
        { name: 'disk0', kind: 'disk', dir, capacityBytes: 64 * 1024 * 1024 },
      ],
      eviction: 'LRU',
      regrowCheckMs: 2000, // the set-aside period: long enough for the second put to fall in it
    });
    store.onWriteFailure = (tier, reason, error) => failures.push([tier, reason, error]);
    await store.open();
    try {
      const before = Buffer.alloc(ps, 7);
      await store.put('old', 0, before);
      await run('mount', ['-o', 'remount,ro', dir]);
      const page = Buffer.alloc(ps, 9);
      // A page whose prefix directory does not exist yet: the recursive mkdir says ENOENT on a
      // read-only disk, and the store finds the real cause (EROFS). The tier is then set aside,
      // so the second put does not touch the disk.
      await store.put('new', 0, page);
      await store.put('new', 1, page);
      assert.equal(failures.length, 1, 'one failure: the tier was set aside after it');
      assert.ok(
        failures.every(
          ([tier, reason, error]) => tier === 'disk0' && reason === 'read_only' && /EROFS/.test(error),
        ),
        JSON.stringify(failures),
      );
      assert.ok((await store.get('new', 0))?.equals(page), 'cached in memory');
      assert.ok((await store.get('new', 1))?.equals(page), 'cached in memory');
      assert.equal(store.stats().tiers[1]!.pages, 1, 'only the page written before is on the disk');
      // The page written before is still read from the read-only disk, checks and all.
      assert.equal(await store.verify('old', 0), 'ok');
      // Writable again: after the set-aside period, pages go to the disk again.
      await run('mount', ['-o', 'remount,rw', dir]);
      let i = 2;
      await waitFor(
        async () => {
          await store.put('new', i++, page);
          return store.stats().tiers[1]!.pages > 1;
        },
        { what: 'the tier to take pages again' },
      );
    } finally {
      await store.close();
    }
  });
});

test('a disk page verified once is read with its header checked only, until its file changes: then its payload is checked again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-verified-'));
  const store = new TieredPageStore({
    pageSize: 64 * 1024,
    tiers: [{ name: 'disk0', kind: 'disk', capacityBytes: 16 * 1024 * 1024, dir }],
    eviction: 'LRU',
  });
  await store.open();
  try {
    const page = randomBytes(64 * 1024);
    await store.put('verified0', 0, page);
    assert.deepEqual(await store.get('verified0', 0), page, 'first read: the payload is checked');
    assert.deepEqual(await store.get('verified0', 0), page, 'second read: trusted, same bytes');
    // Flip a payload byte in place: the file's ctime changes, so the payload is checked again.
    const file = join(dir, 've', 'verified0.0.page');
    const fh = await open(file, 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 1000);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, 1000);
    await fh.close();
    assert.equal(await store.get('verified0', 0), undefined, 'the changed page is not served');
    assert.equal(store.stats().corruptPages, 1);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

describe('puts ordered against deleteFile', () => {
  test('a put with unlessDeletedSince stores nothing when the file was deleted after that mark, even with nothing cached', async () => {
    const { store } = await makeStore({ memory: 8 * PAGE, disk: 8 * PAGE });
    const mark = store.deletionMark();
    await store.deleteFile('f'); // nothing cached yet: still counts
    await store.put('f', 0, page(1), { unlessDeletedSince: mark });
    assert.deepEqual(store.cachedPages('f'), []);
    // Another file's deletion does not hold back this one's puts; a mark after the deletion stores.
    await store.deleteFile('g');
    await store.put('h', 0, page(2), { unlessDeletedSince: mark });
    await store.put('f', 0, page(3), { unlessDeletedSince: store.deletionMark() });
    assert.deepEqual(store.cachedPages('h'), [0]);
    assert.ok((await store.get('f', 0))?.equals(page(3)));
    await store.close();
  });

  test('a put with unlessDeletedSince still waiting for its page lock when deleteFile runs stores nothing', async () => {
    const { store } = await makeStore({ memory: 8 * PAGE, disk: 8 * PAGE });
    const mark = store.deletionMark();
    const first = store.put('f', 0, page(1)); // holds the page's lock while it writes
    const second = store.put('f', 0, page(2), { unlessDeletedSince: mark }); // queued behind it
    await store.deleteFile('f');
    await Promise.all([first, second]);
    assert.deepEqual(store.cachedPages('f'), [], 'the deletion came after the mark');
    await store.close();
  });
});
