import assert from 'node:assert/strict';
import { isStrataError } from '../core/errors.js';
import type { EvictionPolicyName, PageStore } from './page-store.js';

/**
 * The one page store contract suite: what every PageStore configuration must do, as seen through
 * the PageStore interface only (page-store.ts and its invariants). test/cache runs it through
 * test/helpers/page-store-contract.ts against TieredPageStore in several tier layouts. Each case
 * opens fresh stores of its own from the subject's factory.
 *
 * Cases that need more than the interface say so (`needs`), and the subject declares what it has:
 * a persistent store (pages survive close + open), a memory tier (peekMemory can hit), a way to
 * damage a stored page.
 */

/** What a case asks the factory for. Capacity counts page payload bytes. */
export interface PageStoreCaseOptions {
  readonly pageSize: number;
  readonly capacityBytes: number;
  readonly eviction: EvictionPolicyName;
}

/** One store opened by the factory over fresh storage. */
export interface OpenedPageStore {
  /** Already open. */
  readonly store: PageStore;
  /**
   * Persistent subjects: a new store over the same storage, opened. Call after closing the
   * previous one.
   */
  reopen?(): Promise<PageStore>;
  /** Damages the stored copy of a page (e.g. flips a payload byte of its file) while closed. */
  corrupt?(fileId: string, index: number): Promise<void>;
  /** Closes whatever is still open and removes the storage. */
  dispose(): Promise<void>;
}

export interface PageStoreContractSubject {
  /** Pages, their lengths and pins survive close() + open() (disk tiers). */
  readonly persistent: boolean;
  /** A memory tier exists, so peekMemory can return pages. */
  readonly hasMemoryTier: boolean;
  open(options: PageStoreCaseOptions): Promise<OpenedPageStore>;
}

export type PageStoreNeed = 'persistent' | 'memoryTier' | 'corrupt';

export interface PageStoreContractCase {
  readonly name: string;
  readonly needs?: readonly PageStoreNeed[];
  run(ctx: PageStoreContractContext): Promise<void>;
}

export interface PageStoreContractContext {
  readonly subject: PageStoreContractSubject;
  /** Opens a fresh store (disposed after the case); defaults: 1 KiB pages, 64 pages, LRU. */
  open(options?: Partial<PageStoreCaseOptions>): Promise<OpenedPageStore>;
}

/** Why a case does not apply to a subject, or undefined when it does. */
export function pageStoreCaseSkip(
  subject: PageStoreContractSubject,
  c: PageStoreContractCase,
): string | undefined {
  for (const need of c.needs ?? []) {
    if (need === 'persistent' && !subject.persistent) return 'the store is not persistent';
    if (need === 'memoryTier' && !subject.hasMemoryTier) return 'the store has no memory tier';
    if (need === 'corrupt' && !subject.persistent) return 'the store keeps no page files to damage';
  }
  return undefined;
}

export const CONTRACT_PAGE_SIZE = 1024;

/** Distinct, deterministic page contents: a mix-up between pages shows as a byte mismatch. */
export function pageBytes(seed: number, size = CONTRACT_PAGE_SIZE): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (seed * 31 + i * 7 + (i >> 8)) & 0xff;
  return b;
}

function same(actual: Buffer | undefined, expected: Buffer, what: string): void {
  assert.ok(actual !== undefined, `${what}: a miss where the page was expected`);
  assert.ok(Buffer.isBuffer(actual), `${what}: not a Buffer`);
  assert.ok(
    actual.equals(expected),
    `${what}: ${actual.length} bytes that differ from the ${expected.length} put`,
  );
}

function totalCached(store: PageStore): number {
  let total = 0;
  for (const f of store.files()) total += store.cachedBytes(f);
  return total;
}

/** Every tier within its quota, and the bytes cached within the capacity the case asked for. */
function withinCapacity(store: PageStore, capacityBytes: number, what: string): void {
  for (const t of store.stats().tiers) {
    assert.ok(
      t.usedBytes <= t.capacityBytes,
      `${what}: tier ${t.tier} uses ${t.usedBytes} of ${t.capacityBytes}`,
    );
  }
  const cached = totalCached(store);
  assert.ok(cached <= capacityBytes, `${what}: ${cached} bytes cached with a capacity of ${capacityBytes}`);
}

const POLICIES: readonly EvictionPolicyName[] = ['LRU', 'LFU', 'FIFO'];

const isCode = (code: string) => (err: unknown) => isStrataError(err) && err.code === code;

async function evictionOrder(
  ctx: PageStoreContractContext,
  policy: EvictionPolicyName,
  reads: ReadonlyArray<readonly [index: number, times: number]>,
  expectedVictim: number,
): Promise<void> {
  const P = CONTRACT_PAGE_SIZE;
  const { store } = await ctx.open({ capacityBytes: 4 * P, eviction: policy });
  const events: Array<{ tier: string; page: string; bytes: number }> = [];
  store.onEvict = (tier, fileId, index, bytes) => events.push({ tier, page: `${fileId}/${index}`, bytes });
  for (let i = 0; i < 4; i++) await store.put('f', i, pageBytes(i));
  for (const [i, n] of reads)
    for (let k = 0; k < n; k++) same(await store.get('f', i), pageBytes(i), `read ${i}`);
  await store.put('f', 4, pageBytes(4));
  const expected = [0, 1, 2, 3, 4].filter((i) => i !== expectedVictim);
  assert.deepEqual(store.cachedPages('f'), expected, `${policy} should evict page ${expectedVictim}`);
  assert.equal(store.has('f', expectedVictim), false);
  assert.equal(await store.get('f', expectedVictim), undefined);
  for (const i of expected) same(await store.get('f', i), pageBytes(i), `page ${i} after the eviction`);
  withinCapacity(store, 4 * P, 'after the eviction');
  // onEvict reports the eviction (a tier that only holds copies may report others too), and
  // each tier's eviction count matches what it reported.
  assert.ok(
    events.some((e) => e.page === `f/${expectedVictim}` && e.bytes === P),
    `onEvict did not report f/${expectedVictim}: ${JSON.stringify(events)}`,
  );
  for (const t of store.stats().tiers) {
    assert.equal(t.evictions, events.filter((e) => e.tier === t.tier).length, `evictions of ${t.tier}`);
  }
}

async function quotaCase(ctx: PageStoreContractContext, eviction: EvictionPolicyName): Promise<void> {
  const P = CONTRACT_PAGE_SIZE;
  const cap = 4 * P;
  const { store } = await ctx.open({ capacityBytes: cap, eviction });
  for (let i = 0; i < 12; i++) {
    await store.put(`e${i % 3}`, i, pageBytes(i, i % 5 === 0 ? 200 : P));
    withinCapacity(store, cap, `after put ${i}`);
  }
  const cachedPages = [...store.files()].reduce((n, f) => n + store.cachedPages(f).length, 0);
  assert.ok(cachedPages >= 4, `the quota is used: ${cachedPages} pages cached`);
  assert.ok(cachedPages < 12, 'some pages were evicted');
  // Whatever is still reported cached is readable and intact.
  for (const f of store.files()) {
    for (const i of store.cachedPages(f))
      same(await store.get(f, i), pageBytes(i, i % 5 === 0 ? 200 : P), `${f}/${i}`);
  }
  // A burst of concurrent puts larger than the quota stays within it too.
  await Promise.all(Array.from({ length: 16 }, (_, i) => store.put('burst', i, pageBytes(100 + i))));
  withinCapacity(store, cap, 'after a burst');
  assert.ok(store.cachedPages('burst').length > 0);
}

async function pinnedCase(ctx: PageStoreContractContext, eviction: EvictionPolicyName): Promise<void> {
  const P = CONTRACT_PAGE_SIZE;
  const cap = 4 * P;
  const { store } = await ctx.open({ capacityBytes: cap, eviction });
  await store.setPinned('hot', true); // pins apply to pages put later too
  await store.put('hot', 0, pageBytes(0));
  await store.put('hot', 1, pageBytes(1));
  await store.put('cold', 0, pageBytes(2));
  await store.put('cold', 1, pageBytes(3));
  for (let i = 2; i < 8; i++) {
    // Fills the quota with pinned pages; a put that finds no room may refuse (CACHE_FULL).
    await store.put(i % 2 === 0 ? 'cold' : 'hot', i, pageBytes(i)).catch((err: unknown) => {
      if (!isStrataError(err, 'CACHE_FULL')) throw err;
    });
    withinCapacity(store, cap, `after put ${i}`);
    for (const j of [0, 1]) assert.equal(store.has('hot', j), true, `pinned hot/${j} is still cached`);
  }
  assert.deepEqual(store.cachedPages('hot'), [0, 1, 3, 5], 'every pinned page stays');
  for (const i of [0, 1, 3, 5]) same(await store.get('hot', i), pageBytes(i), `hot/${i}`);
  assert.deepEqual(store.cachedPages('cold'), [], 'unpinned pages made room');
  await store.put('cold', 9, pageBytes(9)).catch((err: unknown) => {
    if (!isStrataError(err, 'CACHE_FULL')) throw err;
  });
  withinCapacity(store, cap, 'with only pinned pages');
  assert.deepEqual(store.cachedPages('hot'), [0, 1, 3, 5]);
  // Unpinning makes them evictable again.
  await store.setPinned('hot', false);
  await store.put('cold', 9, pageBytes(9));
  same(await store.get('cold', 9), pageBytes(9), 'cold/9 after unpin');
  assert.equal(store.cachedPages('hot').length, 3);
  withinCapacity(store, cap, 'after unpin');
}

export const PAGE_STORE_CONTRACT: readonly PageStoreContractCase[] = [
  {
    name: 'get of a page never put is undefined, and nothing is reported cached',
    async run(ctx) {
      const { store } = await ctx.open();
      assert.equal(await store.get('nothing', 0), undefined);
      assert.equal(store.has('nothing', 0), false);
      assert.deepEqual(store.cachedPages('nothing'), []);
      assert.equal(store.cachedBytes('nothing'), 0);
      assert.deepEqual([...store.files()], []);
      await store.put('some', 1, pageBytes(1));
      assert.equal(await store.get('some', 0), undefined, 'another index of a cached file');
      assert.equal(await store.get('some', 2), undefined);
      assert.equal(store.has('some', 0), false);
    },
  },
  {
    name: 'put then get returns the same bytes',
    async run(ctx) {
      const { store } = await ctx.open();
      const pages = [pageBytes(1), pageBytes(2), pageBytes(3)];
      for (const [i, p] of pages.entries()) await store.put('rt', i, p);
      await store.put('other', 0, pageBytes(9));
      for (const [i, p] of pages.entries()) same(await store.get('rt', i), p, `rt/${i}`);
      same(await store.get('other', 0), pageBytes(9), 'other/0');
      // A second read is still the same page (whichever tier serves it now).
      same(await store.get('rt', 1, { promote: true }), pages[1]!, 'rt/1 promoted');
      same(await store.get('rt', 1), pages[1]!, 'rt/1 again');
    },
  },
  {
    name: 'put replaces an existing page: new bytes, and its old length no longer counted',
    async run(ctx) {
      const P = CONTRACT_PAGE_SIZE;
      const { store } = await ctx.open();
      await store.put('r', 3, pageBytes(3));
      await store.put('r', 3, pageBytes(4, 10));
      same(await store.get('r', 3), pageBytes(4, 10), 'replaced page');
      assert.equal(store.cachedBytes('r'), 10);
      assert.deepEqual(store.cachedPages('r'), [3]);
      for (const t of store.stats().tiers) assert.ok(t.usedBytes <= 10, `tier ${t.tier} uses ${t.usedBytes}`);
      await store.put('r', 3, pageBytes(5));
      same(await store.get('r', 3), pageBytes(5), 'replaced again, full size');
      assert.equal(store.cachedBytes('r'), P);
      // Concurrent puts of one page: one of them wins, whole, and is counted once.
      await Promise.all([store.put('r', 0, pageBytes(6, 500)), store.put('r', 0, pageBytes(7, 700))]);
      const got = await store.get('r', 0);
      assert.ok(
        got?.equals(pageBytes(6, 500)) || got?.equals(pageBytes(7, 700)),
        'one of the two concurrent puts',
      );
      assert.equal(store.cachedBytes('r'), P + (got?.length ?? 0));
    },
  },
  {
    name: 'the last page may be shorter than pageSize; a page longer than pageSize is INVALID_ARGUMENT',
    async run(ctx) {
      const P = CONTRACT_PAGE_SIZE;
      const { store } = await ctx.open();
      assert.equal(store.pageSize, P);
      await store.put('tail', 0, pageBytes(1));
      await store.put('tail', 1, pageBytes(2, 100));
      await store.put('tail', 2, pageBytes(3, 1));
      same(await store.get('tail', 1), pageBytes(2, 100), 'a 100-byte page');
      same(await store.get('tail', 2), pageBytes(3, 1), 'a 1-byte page');
      assert.equal(store.cachedBytes('tail'), P + 101);
      await assert.rejects(store.put('tail', 3, Buffer.alloc(P + 1)), isCode('INVALID_ARGUMENT'));
      assert.equal(store.has('tail', 3), false);
      assert.equal(store.cachedBytes('tail'), P + 101, 'a refused page changes nothing');
    },
  },
  {
    name: 'has, cachedPages, cachedBytes and files agree with what was put, each page counted once whatever its tiers',
    async run(ctx) {
      const P = CONTRACT_PAGE_SIZE;
      const { store } = await ctx.open();
      const put: Record<string, Record<number, number>> = { a: { 0: P, 5: P, 2: 300 }, b: { 7: 1 } };
      for (const [f, pages] of Object.entries(put)) {
        for (const [i, n] of Object.entries(pages)) await store.put(f, Number(i), pageBytes(Number(i), n));
      }
      // Reads (and promotion) must not make a page count twice.
      await store.get('a', 0, { promote: true });
      await store.get('a', 5);
      assert.deepEqual([...store.files()].sort(), ['a', 'b']);
      assert.deepEqual(store.cachedPages('a'), [0, 2, 5], 'ascending');
      assert.deepEqual(store.cachedPages('b'), [7]);
      assert.equal(store.cachedBytes('a'), 2 * P + 300);
      assert.equal(store.cachedBytes('b'), 1);
      for (const [f, pages] of Object.entries(put)) {
        for (let i = 0; i < 8; i++) assert.equal(store.has(f, i), i in pages, `has(${f}, ${i})`);
      }
      const pages = store.stats().tiers.map((t) => t.pages);
      assert.ok(Math.max(...pages) <= 4, `no tier holds more pages than were put: ${pages}`);
    },
  },
  {
    name: 'deleteFile drops every page of the file and returns the bytes freed; other files are untouched',
    async run(ctx) {
      const P = CONTRACT_PAGE_SIZE;
      const { store } = await ctx.open();
      for (let i = 0; i < 3; i++) await store.put('del', i, pageBytes(i, i === 2 ? 10 : P));
      await store.put('stay', 0, pageBytes(7));
      await store.put('del-x', 0, pageBytes(8)); // a fileId with "del" as a prefix
      assert.equal(await store.deleteFile('del'), 2 * P + 10);
      assert.deepEqual(store.cachedPages('del'), []);
      assert.equal(store.cachedBytes('del'), 0);
      for (let i = 0; i < 3; i++) {
        assert.equal(store.has('del', i), false);
        assert.equal(await store.get('del', i), undefined);
      }
      assert.deepEqual([...store.files()].sort(), ['del-x', 'stay']);
      same(await store.get('stay', 0), pageBytes(7), 'stay/0');
      same(await store.get('del-x', 0), pageBytes(8), 'del-x/0');
      for (const t of store.stats().tiers) assert.ok(t.usedBytes <= 2 * P, `tier ${t.tier} freed the pages`);
      assert.equal(await store.deleteFile('del'), 0, 'a second delete frees nothing');
      assert.equal(await store.deleteFile('never-cached'), 0);
      // The file can be cached again afterwards.
      await store.put('del', 1, pageBytes(11));
      same(await store.get('del', 1), pageBytes(11), 'del/1 after delete');
    },
  },
  {
    name: 'generation changes on put, deleteFile and a pin change',
    async run(ctx) {
      const { store } = await ctx.open();
      let g = store.generation;
      const changed = (what: string) => {
        assert.notEqual(store.generation, g, `${what} did not change generation`);
        g = store.generation;
      };
      await store.put('g', 0, pageBytes(0));
      changed('put of a new page');
      await store.put('g', 0, pageBytes(1, 10));
      changed('put replacing a page');
      await store.setPinned('g', true);
      changed('pin');
      assert.equal(store.isPinned('g'), true);
      await store.setPinned('g', false);
      changed('unpin');
      assert.equal(store.isPinned('g'), false);
      await store.deleteFile('g');
      changed('deleteFile');
    },
  },
  {
    name: 'unpinned pages are evicted when the quota is reached; usedBytes never exceeds capacity (every policy)',
    async run(ctx) {
      for (const eviction of POLICIES) await quotaCase(ctx, eviction);
    },
  },
  {
    name: 'LRU evicts the least recently used page',
    async run(ctx) {
      await evictionOrder(ctx, 'LRU', [[0, 1]], 1);
    },
  },
  {
    name: 'LFU evicts the least frequently used page',
    async run(ctx) {
      await evictionOrder(
        ctx,
        'LFU',
        [
          [0, 3],
          [1, 1],
          [2, 2],
          [3, 2],
        ],
        1,
      );
    },
  },
  {
    name: 'FIFO evicts the oldest page whatever was read',
    async run(ctx) {
      await evictionOrder(ctx, 'FIFO', [[0, 2]], 0);
    },
  },
  {
    name: 'pinned pages are never evicted, and usedBytes stays within capacity with only pinned pages left (every policy)',
    async run(ctx) {
      for (const eviction of POLICIES) await pinnedCase(ctx, eviction);
    },
  },
  {
    name: 'put throws CACHE_FULL (and stores nothing) when only pinned pages remain',
    async run(ctx) {
      const P = CONTRACT_PAGE_SIZE;
      const { store } = await ctx.open({ capacityBytes: 4 * P });
      await store.setPinned('hot', true);
      for (let i = 0; i < 4; i++) await store.put('hot', i, pageBytes(i));
      await assert.rejects(store.put('cold', 0, pageBytes(9)), isCode('CACHE_FULL'));
      await assert.rejects(
        store.put('hot', 4, pageBytes(9)),
        isCode('CACHE_FULL'),
        'pinned pages do not evict each other',
      );
      assert.equal(store.has('cold', 0), false);
      assert.equal(store.has('hot', 4), false);
      assert.equal(await store.get('cold', 0), undefined);
      assert.deepEqual(store.cachedPages('hot'), [0, 1, 2, 3]);
      assert.equal(totalCached(store), 4 * P);
      withinCapacity(store, 4 * P, 'after CACHE_FULL');
      // Replacing a pinned page in place needs no extra room.
      await store.put('hot', 2, pageBytes(20));
      same(await store.get('hot', 2), pageBytes(20), 'hot/2 replaced');
      await store.setPinned('hot', false);
      await store.put('cold', 0, pageBytes(9));
      same(await store.get('cold', 0), pageBytes(9), 'cold/0 after unpin');
    },
  },
  {
    name: 'peekMemory returns what get returns for a memory-resident page and undefined otherwise, synchronously',
    async run(ctx) {
      const opened = await ctx.open();
      let store = opened.store;
      const peek = store.peekMemory?.bind(store);
      if (peek === undefined) return; // optional method: nothing to check
      const a = pageBytes(1);
      await store.put('pk', 0, a);
      await store.put('pk', 1, pageBytes(2, 10));
      const hit = peek('pk', 0);
      assert.ok(!(hit instanceof Promise), 'peekMemory must not return a promise');
      if (ctx.subject.hasMemoryTier) {
        same(hit, a, 'peek of a page just put');
        same(peek('pk', 1), pageBytes(2, 10), 'peek of a short page');
        same(await store.get('pk', 0), hit!, 'get returns what peek returned');
      } else {
        assert.equal(hit, undefined, 'no memory tier: peekMemory never hits');
        same(await store.get('pk', 0), a, 'the page is cached, though');
      }
      assert.equal(peek('pk', 7), undefined, 'a page never put');
      assert.equal(peek('nope', 0), undefined, 'a file never put');
      await store.deleteFile('pk');
      assert.equal(peek('pk', 0), undefined, 'a deleted page');
      if (!ctx.subject.persistent || opened.reopen === undefined) return;
      // Pages that are only on disk (after a restart) are not read by a peek.
      await store.put('pk', 2, pageBytes(3));
      await store.close();
      store = await opened.reopen();
      assert.equal(store.peekMemory?.('pk', 2), undefined, 'a page held only on disk: no I/O, a miss');
      same(await store.get('pk', 2, { promote: true }), pageBytes(3), 'get reads it from disk');
      if (ctx.subject.hasMemoryTier) same(store.peekMemory?.('pk', 2), pageBytes(3), 'promoted into memory');
    },
  },
  {
    name: 'stats() reports every tier with its usage within its capacity',
    async run(ctx) {
      const P = CONTRACT_PAGE_SIZE;
      const { store } = await ctx.open({ capacityBytes: 8 * P });
      const empty = store.stats();
      assert.ok(empty.tiers.length > 0, 'at least one tier');
      assert.equal(
        empty.tiers.some((t) => t.kind === 'memory'),
        ctx.subject.hasMemoryTier,
        'a memory tier is reported iff the store has one',
      );
      assert.equal(
        empty.tiers.some((t) => t.kind === 'disk'),
        ctx.subject.persistent,
        'disk tiers are the persistent ones',
      );
      assert.equal(empty.corruptPages, 0);
      for (const t of empty.tiers) {
        assert.equal(t.usedBytes, 0, `${t.tier} starts empty`);
        assert.equal(t.pages, 0);
        assert.ok(t.capacityBytes > 0);
      }
      await store.put('s', 0, pageBytes(0));
      await store.put('s', 1, pageBytes(1, 24));
      const total = P + 24;
      const tiers = store.stats().tiers;
      for (const t of tiers) {
        assert.ok(t.usedBytes <= t.capacityBytes, `${t.tier} within capacity`);
        assert.ok(t.usedBytes <= total, `${t.tier} holds no more than was put`);
        assert.ok(t.pages <= 2, `${t.tier} holds no more pages than were put`);
        assert.equal(t.usedBytes === 0, t.pages === 0, `${t.tier}: bytes and pages agree`);
      }
      assert.ok(
        tiers.reduce((n, t) => n + t.usedBytes, 0) >= total,
        'every cached byte is held by some tier',
      );
      await store.deleteFile('s');
      for (const t of store.stats().tiers) {
        assert.equal(t.usedBytes, 0, `${t.tier} is empty again`);
        assert.equal(t.pages, 0);
      }
    },
  },
  {
    name: 'pages, their lengths and pins survive close() and open()',
    needs: ['persistent'],
    async run(ctx) {
      const P = CONTRACT_PAGE_SIZE;
      const opened = await ctx.open();
      const store = opened.store;
      for (let i = 0; i < 5; i++) await store.put('keep', i, pageBytes(i, i === 4 ? 300 : P));
      await store.put('other', 0, pageBytes(42));
      await store.setPinned('keep', true);
      await store.setPinned('gone', true);
      await store.setPinned('gone', false);
      await store.put('dropped', 0, pageBytes(43));
      await store.deleteFile('dropped');
      await store.close();

      const again = await opened.reopen!();
      assert.deepEqual([...again.files()].sort(), ['keep', 'other']);
      assert.deepEqual(again.cachedPages('keep'), [0, 1, 2, 3, 4]);
      assert.equal(again.cachedBytes('keep'), 4 * P + 300);
      assert.equal(again.isPinned('keep'), true);
      assert.equal(again.isPinned('gone'), false);
      assert.equal(again.isPinned('other'), false);
      for (let i = 0; i < 5; i++)
        same(await again.get('keep', i), pageBytes(i, i === 4 ? 300 : P), `keep/${i}`);
      same(await again.get('other', 0), pageBytes(42), 'other/0');
      assert.equal(await again.get('dropped', 0), undefined, 'a deleted page stays deleted');
      assert.equal(again.stats().corruptPages, 0);
      // The restored pin still protects the pages.
      for (let i = 0; i < 200; i++) {
        await again.put('fill', i, pageBytes(i)).catch((err: unknown) => {
          if (!isStrataError(err, 'CACHE_FULL')) throw err;
        });
      }
      assert.deepEqual(
        again.cachedPages('keep'),
        [0, 1, 2, 3, 4],
        'pinned pages were not evicted after the restart',
      );
    },
  },
  {
    name: 'a corrupt page on disk is a miss, counted in stats().corruptPages, and never returned',
    needs: ['persistent', 'corrupt'],
    async run(ctx) {
      const P = CONTRACT_PAGE_SIZE;
      const opened = await ctx.open();
      await opened.store.put('c', 0, pageBytes(9));
      await opened.store.put('c', 1, pageBytes(10));
      await opened.store.close();
      // Damaged while the store is down, so no memory copy can hide it.
      await opened.corrupt!('c', 0);
      const store = await opened.reopen!();
      assert.equal(await store.get('c', 0, { promote: true }), undefined, 'the damaged page is a miss');
      assert.equal(store.stats().corruptPages, 1);
      assert.equal(store.has('c', 0), false);
      assert.deepEqual(store.cachedPages('c'), [1]);
      assert.equal(store.cachedBytes('c'), P);
      assert.equal(await store.get('c', 0), undefined, 'and stays one');
      assert.equal(store.stats().corruptPages, 1, 'counted once');
      assert.equal(store.peekMemory?.('c', 0), undefined);
      same(await store.get('c', 1), pageBytes(10), 'the intact page of the same file');
      for (const t of store.stats().tiers) assert.ok(t.usedBytes <= P, `${t.tier} no longer counts the page`);
      // The caller re-reads the store and puts the page again.
      await store.put('c', 0, pageBytes(9));
      same(await store.get('c', 0), pageBytes(9), 'the page put again');
    },
  },
];
