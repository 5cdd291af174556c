import assert from 'node:assert/strict';
import { isStrataError } from '../core/errors.js';
import { compareUtf8 } from '../core/utf8-order.js';
import type { MetaStoreContractCase } from './contract.js';
import type { FileRecord, MetaStore } from './meta-store.js';

/** A file record whose fields derive from the path (as the main suite's fileRecord). */
function rec(path: string, extra: Partial<FileRecord> = {}): FileRecord {
  const size = extra.size ?? path.length;
  return { path, type: 'file', size, mtimeMs: 7, fingerprint: `${size}:7:`, syncedAtMs: 8, ...extra };
}

const names = (entries: readonly FileRecord[] | undefined): string[] =>
  (entries ?? []).map((e) => e.path.slice(e.path.lastIndexOf('/') + 1));

/** Every child of dir by pages of `limit`, following `more` with startAfter. */
async function allPages(
  store: MetaStore,
  dir: string,
  limit: number,
): Promise<{ names: string[]; pages: number }> {
  const out: string[] = [];
  let startAfter: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await store.listingPage(dir, { limit, ...(startAfter === undefined ? {} : { startAfter }) });
    pages++;
    assert.ok(page.entries.length <= limit);
    out.push(...names(page.entries));
    if (!page.more) return { names: out, pages };
    startAfter = out[out.length - 1];
  }
}

/** Paged listings: listingPage (a key range), putListingChunk + completeListing. */
export const LISTING_PAGE_CASES: readonly MetaStoreContractCase[] = [
  {
    name: 'listingPage reads children in UTF-8 order a page at a time, after or at a name; complete tells a stored listing',
    async run(ctx) {
      const { store } = await ctx.open();
      const all = ['b', 'a', '\u{1F600}', '\uFF5E', 'a b', 'A', '\u00e9', 'a-b', 'a.b'];
      const sorted = [...all].sort(compareUtf8);
      const empty = await store.listingPage('/p', { limit: 5 });
      assert.deepEqual(empty, { complete: false, syncedAtMs: 0, entries: [], more: false });
      await store.putListing(
        '/p',
        all.map((n) => rec(`/p/${n}`)),
        100,
      );
      await store.putStatus(rec('/p-sibling/x'));
      await store.putStatus(rec('/p/b/deeper'));
      for (const limit of [1, 2, 4, 9, 50]) {
        const { names: got, pages } = await allPages(store, '/p', limit);
        assert.deepEqual(got, sorted, `limit ${limit}`);
        assert.equal(pages, Math.ceil(sorted.length / limit), `limit ${limit}: pages`);
      }
      const first = await store.listingPage('/p', { limit: 2 });
      assert.equal(first.complete, true);
      assert.equal(first.syncedAtMs, 100);
      assert.deepEqual(first.entries[0], rec(`/p/${sorted[0]}`), 'entries are the records as given');
      assert.deepEqual(names((await store.listingPage('/p', { startAt: 'a-b', limit: 2 })).entries), [
        'a-b',
        'a.b',
      ]);
      assert.deepEqual(names((await store.listingPage('/p', { startAfter: 'a-b', limit: 2 })).entries), [
        'a.b',
        'b',
      ]);
      assert.deepEqual(names((await store.listingPage('/p', { startAfter: 'a,', limit: 1 })).entries), [
        'a-b',
      ]);
      await store.invalidate('/p/a');
      const after = await store.listingPage('/p', { limit: 50 });
      assert.equal(after.complete, false, 'an invalidated child drops the complete marker');
      assert.ok(!names(after.entries).includes('a'));
      for (const limit of [0, -1, 1.5])
        await assert.rejects(
          store.listingPage('/p', { limit }),
          (e) => isStrataError(e, 'INVALID_ARGUMENT'),
          `limit ${limit}`,
        );
      await assert.rejects(store.listingPage('rel', { limit: 1 }), (e) => isStrataError(e, 'INVALID_PATH'));
    },
  },
  {
    name: 'putListingChunk replaces the children in its range only; completeListing marks the listing complete',
    async run(ctx) {
      const { store } = await ctx.open();
      await store.putListing(
        '/d',
        ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => rec(`/d/${n}`)),
        1,
      );
      // Chunks of a new listing: a, b2 | c (size changed) | f, g. Gone: b, d, e.
      assert.deepEqual(
        names(await store.putListingChunk('/d', [rec('/d/a'), rec('/d/b2')], { through: 'b2' })),
        ['b'],
        'dropped: b',
      );
      const mid = await store.listingPage('/d', { limit: 10 });
      assert.equal(mid.complete, false, 'not complete between chunks');
      assert.deepEqual(
        names(await store.putListingChunk('/d', [rec('/d/c', { size: 99 })], { after: 'b2', through: 'c' })),
        ['c'],
        'a changed fingerprint is reported',
      );
      assert.deepEqual(names(await store.putListingChunk('/d', [rec('/d/f'), rec('/d/g')], { after: 'c' })), [
        'd',
        'e',
      ]);
      assert.equal(await store.completeListing('/d', 500), true);
      const done = await store.listingPage('/d', { limit: 10 });
      assert.deepEqual(
        { ...done, entries: names(done.entries) },
        {
          complete: true,
          syncedAtMs: 500,
          entries: ['a', 'b2', 'c', 'f', 'g'],
          more: false,
        },
      );
      assert.equal((await store.getStatus('/d/c'))?.size, 99);
      assert.equal(await store.getStatus('/d/d'), undefined, 'a removed child loses its status');
      assert.deepEqual(names((await store.getListing('/d'))?.entries ?? []), ['a', 'b2', 'c', 'f', 'g']);
      // An empty listing is one empty chunk.
      await store.putListingChunk('/d', [], {});
      assert.equal(await store.completeListing('/d', 600), true);
      assert.deepEqual(await store.getListing('/d'), { syncedAtMs: 600, entries: [] });
      await assert.rejects(
        store.putListingChunk('/d', [rec('/d/z')], { through: 'y' }),
        (e) => isStrataError(e, 'INVALID_ARGUMENT'),
        'a record outside the range',
      );
      await assert.rejects(
        store.putListingChunk('/d', [rec('/other/z')], {}),
        (e) => isStrataError(e, 'INVALID_ARGUMENT'),
        'not a child',
      );
    },
  },
  {
    name: 'a streamed listing: entries merged in any order, then a sweep drops children older than the listing',
    async run(ctx) {
      const { store } = await ctx.open();
      await store.putListing('/s', [rec('/s/a', { syncedAtMs: 5 }), rec('/s/gone', { syncedAtMs: 5 })], 5);
      assert.equal((await store.listingPage('/s', { limit: 5 })).complete, true);
      // Listed at 10: c, then a with a new size (its old record comes back: its pages must go).
      assert.deepEqual(await store.mergeListingEntries('/s', [rec('/s/c', { syncedAtMs: 10 })]), []);
      assert.equal((await store.listingPage('/s', { limit: 5 })).complete, false, 'incomplete while merging');
      const changed = await store.mergeListingEntries('/s', [rec('/s/a', { size: 7, syncedAtMs: 10 })]);
      assert.deepEqual(
        changed?.map((r) => r.path),
        ['/s/a'],
      );
      await store.putStatus(rec('/s/late', { syncedAtMs: 12 })); // a stat during the listing
      const dropped = await store.sweepListing('/s', 10);
      assert.deepEqual(
        dropped?.map((r) => r.path),
        ['/s/gone'],
      );
      assert.equal(await store.completeListing('/s', 10), true);
      const page = await store.listingPage('/s', { limit: 5 });
      assert.deepEqual(
        page.entries.map((r) => r.path),
        ['/s/a', '/s/c', '/s/late'],
      );
      assert.equal(page.entries[0]!.size, 7);
      assert.equal(await store.getStatus('/s/gone'), undefined);
      await assert.rejects(store.mergeListingEntries('/s', [rec('/elsewhere/x')]), (e: unknown) =>
        isStrataError(e, 'INVALID_ARGUMENT'),
      );
      if (!store.listingToken) return;
      const token = store.listingToken();
      await store.invalidate('/s/c');
      assert.equal(
        await store.mergeListingEntries('/s', [rec('/s/d')], token),
        undefined,
        'refused after a change',
      );
      assert.equal(await store.sweepListing('/s', 20, token), undefined);
      assert.deepEqual(
        await store.getStatus('/s/a'),
        rec('/s/a', { size: 7, syncedAtMs: 10 }),
        'nothing swept',
      );
    },
  },
  {
    name: 'with a token taken before a change of the directory, later chunks are refused and the listing is not completed',
    async run(ctx) {
      const { store } = await ctx.open();
      if (!store.listingToken) return;
      const token = store.listingToken();
      assert.deepEqual(await store.putListingChunk('/t', [rec('/t/a')], { through: 'a' }, token), []);
      await store.invalidate('/t/b'); // a change while the store was being listed
      await store.putStatus(rec('/t/b'));
      assert.equal(
        await store.putListingChunk('/t', [], { after: 'a' }, token),
        undefined,
        'a later chunk is refused',
      );
      assert.deepEqual(await store.getStatus('/t/b'), rec('/t/b'), 'the change is kept');
      assert.equal(await store.completeListing('/t', 10, token), false);
      assert.equal((await store.listingPage('/t', { limit: 5 })).complete, false);
      const fresh = store.listingToken();
      await store.putListingChunk('/t', [rec('/t/a')], {});
      assert.equal(await store.completeListing('/t', 11, fresh), true);
      assert.equal((await store.listingPage('/t', { limit: 5 })).complete, true);
    },
  },
];
