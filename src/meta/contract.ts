import assert from 'node:assert/strict';
import { isStrataError } from '../core/errors.js';
import { compareUtf8 } from '../core/utf8-order.js';
import { LISTING_PAGE_CASES } from './contract-pages.js';
import type { FileAttrs, FileRecord, MetaStore } from './meta-store.js';

/**
 * The one metadata store contract suite: what every MetaStore must do, through the interface in
 * meta-store.ts only. test/meta runs it through test/helpers/meta-store-contract.ts against
 * LevelMetaStore. Each case opens a fresh, empty store of its own.
 *
 * Statuses and listings are a cache: a case may accept that one was dropped (undefined) where the
 * interface allows it, but never that a stale or wrong value is returned. Attributes and journal
 * records are authoritative and must survive close() + open() on persistent stores.
 */

export interface OpenedMetaStore {
  /** Already open. */
  readonly store: MetaStore;
  /** Persistent subjects: a new store over the same data, opened; call after closing the previous. */
  reopen?(): Promise<MetaStore>;
  /** Closes whatever is still open and removes the data. */
  dispose(): Promise<void>;
}

export interface MetaStoreContractSubject {
  /** Attributes and the journal survive close() + open(). */
  readonly persistent: boolean;
  open(): Promise<OpenedMetaStore>;
}

export interface MetaStoreContractCase {
  readonly name: string;
  readonly needs?: readonly 'persistent'[];
  run(ctx: MetaStoreContractContext): Promise<void>;
}

export interface MetaStoreContractContext {
  readonly subject: MetaStoreContractSubject;
  /** Opens a fresh store, disposed after the case. */
  open(): Promise<OpenedMetaStore>;
}

export function metaStoreCaseSkip(
  subject: MetaStoreContractSubject,
  c: MetaStoreContractCase,
): string | undefined {
  if (c.needs?.includes('persistent') && !subject.persistent) return 'the store is not persistent';
  return undefined;
}

/** A file record whose fields all derive from the path (so a mix-up shows as a mismatch). */
export function fileRecord(path: string, extra: Partial<FileRecord> = {}): FileRecord {
  const size = extra.size ?? path.length;
  return {
    path,
    type: 'file',
    size,
    mtimeMs: 1_700_000_000_000,
    etag: `e-${path}`,
    fingerprint: `${size}:1700000000000:e-${path}`,
    syncedAtMs: 1_700_000_001_000,
    ...extra,
  };
}

function dirRecord(path: string, extra: Partial<FileRecord> = {}): FileRecord {
  return { path, type: 'directory', size: 0, mtimeMs: 5, fingerprint: '0:5:', syncedAtMs: 6, ...extra };
}

const paths = (entries: readonly FileRecord[] | undefined): string[] | undefined =>
  entries?.map((e) => e.path);

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const byKey = <T>(rows: Array<[string, T]>): Array<[string, T]> =>
  [...rows].sort((a, b) => compareUtf8(a[0], b[0]));

const isCode = (code: string) => (err: unknown) => isStrataError(err) && err.code === code;

/** A listing that is either gone (dropped, allowed for a cache) or does not list `path`. */
async function doesNotList(store: MetaStore, dir: string, path: string, what: string): Promise<void> {
  const listing = await store.getListing(dir);
  assert.ok(!paths(listing?.entries)?.includes(path), `${what}: ${dir} still lists ${path}`);
}

/** peek* must be what get* returns (null for a known absence), or undefined (only a read can tell). */
async function peeksAgree(store: MetaStore, path: string, what: string): Promise<void> {
  if (store.peekStatus) {
    const peeked = store.peekStatus(path);
    assert.ok(!(peeked instanceof Promise), 'peekStatus must be synchronous');
    const got = await store.getStatus(path);
    if (peeked === null) assert.equal(got, undefined, `${what}: peekStatus(${path}) said absent`);
    else if (peeked !== undefined) assert.deepEqual(peeked, got, `${what}: peekStatus(${path})`);
  }
  if (store.readStatus) {
    const read = store.readStatus(path);
    const known = store.peekStatus?.(path);
    if (known !== undefined && known !== null)
      assert.ok(!(read instanceof Promise), `${what}: readStatus of a known record took a promise`);
    assert.deepEqual(await read, await store.getStatus(path), `${what}: readStatus(${path})`);
  }
  if (store.peekAttrs) {
    const peeked = store.peekAttrs(path);
    assert.ok(!(peeked instanceof Promise), 'peekAttrs must be synchronous');
    const got = await store.getAttrs(path);
    if (peeked === null) assert.equal(got, undefined, `${what}: peekAttrs(${path}) said absent`);
    else if (peeked !== undefined) assert.deepEqual(peeked, got, `${what}: peekAttrs(${path})`);
  }
}

export const META_STORE_CONTRACT: readonly MetaStoreContractCase[] = [
  {
    name: 'getStatus of a path never put is undefined; a relative path, a trailing slash or a NUL is INVALID_PATH',
    async run(ctx) {
      const { store } = await ctx.open();
      assert.equal(await store.getStatus('/x/y'), undefined);
      assert.equal(await store.getStatus('/'), undefined);
      assert.equal(await store.getAttrs('/x/y'), undefined);
      assert.equal(await store.getListing('/x'), undefined);
      for (const bad of ['relative', '/trailing/', '/nul\0byte']) {
        await assert.rejects(store.getStatus(bad), isCode('INVALID_PATH'), bad);
      }
    },
  },
  {
    name: 'putStatus then getStatus returns the record as given, optional fields included or absent',
    async run(ctx) {
      const { store } = await ctx.open();
      const file = fileRecord('/x/y');
      const dir = dirRecord('/x');
      const root = dirRecord('/', { fingerprint: 'r', mtimeMs: 1, syncedAtMs: 2 });
      const staged = fileRecord('/x/staged', { cacheId: 'c-123', staging: '/var/strata/staging/abc' });
      const unicode = fileRecord('/x/ünï côde & space.txt');
      for (const r of [file, dir, root, staged, unicode]) await store.putStatus(r);
      for (const r of [file, dir, root, staged, unicode]) assert.deepEqual(await store.getStatus(r.path), r);
      const got = await store.getStatus('/x');
      assert.equal(got !== undefined && 'etag' in got, false, 'an absent etag stays absent');
      assert.equal(got !== undefined && 'cacheId' in got, false, 'an absent cacheId stays absent');
    },
  },
  {
    name: 'putStatus overwrites the status of a path; other paths keep theirs',
    async run(ctx) {
      const { store } = await ctx.open();
      await store.putStatus(fileRecord('/o/a'));
      await store.putStatus(fileRecord('/o/b'));
      const changed = fileRecord('/o/a', { size: 99, fingerprint: 'new', etag: 'e2' });
      await store.putStatus(changed);
      assert.deepEqual(await store.getStatus('/o/a'), changed);
      assert.deepEqual(await store.getStatus('/o/b'), fileRecord('/o/b'));
      const noEtag: FileRecord = {
        path: '/o/a',
        type: 'file',
        size: 3,
        mtimeMs: 2,
        fingerprint: '3:2:',
        syncedAtMs: 4,
      };
      await store.putStatus(noEtag);
      assert.deepEqual(await store.getStatus('/o/a'), noEtag, 'a field dropped by the overwrite is gone');
    },
  },
  {
    name: "invalidate drops the path's status and its parent's listing; siblings keep theirs",
    async run(ctx) {
      const { store } = await ctx.open();
      await store.putListing('/p', [fileRecord('/p/f'), dirRecord('/p/g'), fileRecord('/p/h')], 1);
      await store.putListing('/p/g', [fileRecord('/p/g/x')], 1);
      await store.invalidate('/p/f');
      assert.equal(await store.getStatus('/p/f'), undefined);
      assert.equal(await store.getListing('/p'), undefined, 'the parent listing is no longer complete');
      assert.deepEqual(await store.getStatus('/p/h'), fileRecord('/p/h'), 'a sibling status survives');
      assert.deepEqual(
        paths((await store.getListing('/p/g'))?.entries),
        ['/p/g/x'],
        'a sibling directory keeps its listing',
      );
      await store.invalidate('/never/put'); // not an error
      assert.equal(await store.getStatus('/never/put'), undefined);
    },
  },
  {
    name: 'deleteTree removes every status, listing and attribute at or below a path, not siblings with a common string prefix',
    async run(ctx) {
      const { store } = await ctx.open();
      await store.putListing('/', [dirRecord('/a'), dirRecord('/a-b'), dirRecord('/ab')], 1);
      await store.putListing('/a', [dirRecord('/a/b'), dirRecord('/a/bc'), fileRecord('/a/c')], 1);
      await store.putListing('/a/b', [fileRecord('/a/b/z')], 1);
      await store.putListing('/a/bc', [fileRecord('/a/bc/y')], 1);
      await store.putListing('/ab', [fileRecord('/ab/x')], 1);
      await store.putListing('/a-b', [fileRecord('/a-b/y')], 1);
      await store.setAttrs('/a/b', { pinned: true });
      await store.setAttrs('/a/b/z', { pinned: true });
      await store.setAttrs('/a/bc', { ttlMs: 5 });
      await store.setAttrs('/a/bc/y', { pinned: true });
      await store.setAttrs('/ab/x', { pinned: true });
      await store.setAttrs('/a-b', { pinned: true });

      await store.deleteTree('/a/b');
      for (const p of ['/a/b', '/a/b/z']) {
        assert.equal(await store.getStatus(p), undefined, `status of ${p}`);
        assert.equal(await store.getAttrs(p), undefined, `attrs of ${p}`);
      }
      assert.equal(await store.getListing('/a/b'), undefined);
      await doesNotList(store, '/a', '/a/b', 'after deleteTree(/a/b)');
      // /a/bc shares the string prefix "/a/b" but is not below it.
      assert.deepEqual(await store.getStatus('/a/bc'), dirRecord('/a/bc'));
      assert.deepEqual(paths((await store.getListing('/a/bc'))?.entries), ['/a/bc/y']);
      assert.deepEqual(await store.getAttrs('/a/bc'), { ttlMs: 5 });
      assert.deepEqual(await store.getAttrs('/a/bc/y'), { pinned: true });

      await store.deleteTree('/a');
      for (const p of ['/a', '/a/bc', '/a/bc/y', '/a/c']) {
        assert.equal(await store.getStatus(p), undefined, `status of ${p}`);
        assert.equal(await store.getAttrs(p), undefined, `attrs of ${p}`);
      }
      assert.equal(await store.getListing('/a'), undefined);
      assert.equal(await store.getListing('/a/bc'), undefined);
      await doesNotList(store, '/', '/a', 'after deleteTree(/a)');
      // /ab and /a-b share the prefix "/a".
      assert.deepEqual(paths((await store.getListing('/ab'))?.entries), ['/ab/x']);
      assert.deepEqual(paths((await store.getListing('/a-b'))?.entries), ['/a-b/y']);
      assert.ok(await store.getStatus('/ab'));
      assert.ok(await store.getStatus('/a-b'));
      assert.deepEqual(await store.getAttrs('/ab/x'), { pinned: true });
      assert.deepEqual(await store.getAttrs('/a-b'), { pinned: true });
      assert.deepEqual((await collect(store.allAttrs())).map(([p]) => p).sort(), ['/a-b', '/ab/x']);
    },
  },
  {
    name: 'deleteTree("/") forgets every status, listing and attribute but keeps the journal',
    async run(ctx) {
      const { store } = await ctx.open();
      await store.putListing('/', [dirRecord('/z')], 1);
      await store.putListing('/z', [fileRecord('/z/1')], 1);
      await store.putStatus(dirRecord('/'));
      await store.setAttrs('/z/1', { pinned: true });
      await store.journalPut('j-1', { op: 'put', path: '/z/1' });
      await store.deleteTree('/');
      for (const p of ['/', '/z', '/z/1']) assert.equal(await store.getStatus(p), undefined, p);
      assert.equal(await store.getListing('/'), undefined);
      assert.equal(await store.getListing('/z'), undefined);
      assert.deepEqual(await collect(store.allAttrs()), []);
      assert.deepEqual(await collect(store.journalEntries()), [['j-1', { op: 'put', path: '/z/1' }]]);
    },
  },
  {
    name: 'putListing replaces the children of a directory, sorted by path; removed children lose their status',
    async run(ctx) {
      const { store } = await ctx.open();
      await store.putListing('/d', [fileRecord('/d/c'), fileRecord('/d/a'), fileRecord('/d/b')], 100);
      const l1 = await store.getListing('/d');
      assert.equal(l1?.syncedAtMs, 100);
      assert.deepEqual(paths(l1?.entries), ['/d/a', '/d/b', '/d/c']);
      assert.deepEqual(l1?.entries[1], fileRecord('/d/b'), 'entries are the records as given');
      assert.deepEqual(await store.getStatus('/d/c'), fileRecord('/d/c'), 'a listed child has its status');

      await store.putListing('/d', [fileRecord('/d/c', { size: 7 }), fileRecord('/d/e')], 200);
      const l2 = await store.getListing('/d');
      assert.equal(l2?.syncedAtMs, 200);
      assert.deepEqual(paths(l2?.entries), ['/d/c', '/d/e']);
      assert.equal(l2?.entries[0]?.size, 7);
      assert.equal(await store.getStatus('/d/a'), undefined, 'a removed child is gone as a status too');

      // Sorted by path in UTF-8 byte order (not UTF-16 code units: astral vs U+FFxx differ).
      const names = ['b', 'a', '\u{1F600}', '\uFF5E', 'a b', 'A', '\u00e9', 'a-b', 'a.b'];
      await store.putListing(
        '/u',
        names.map((n) => fileRecord(`/u/${n}`)),
        300,
      );
      const expected = names.map((n) => `/u/${n}`).sort(compareUtf8);
      assert.deepEqual(paths((await store.getListing('/u'))?.entries), expected);

      await store.putListing('/d', [], 400);
      assert.deepEqual(await store.getListing('/d'), { syncedAtMs: 400, entries: [] }, 'an empty directory');
      assert.equal(await store.getStatus('/d/c'), undefined);
    },
  },
  {
    name: 'concurrent putListing of one directory leaves exactly one of the listings',
    async run(ctx) {
      const { store } = await ctx.open();
      await store.putListing('/c', [fileRecord('/c/old')], 1);
      const a = ['/c/a1', '/c/a2'].map((p) => fileRecord(p));
      const b = ['/c/b1'].map((p) => fileRecord(p));
      await Promise.all([store.putListing('/c', a, 2), store.putListing('/c', b, 3)]);
      const listing = await store.getListing('/c');
      const got = paths(listing?.entries)?.join();
      assert.ok(got === '/c/a1,/c/a2' || got === '/c/b1', `a mix of two listings: ${got}`);
      assert.equal(listing?.syncedAtMs, got === '/c/b1' ? 3 : 2);
      assert.equal(await store.getStatus('/c/old'), undefined);
    },
  },
  {
    name: 'getListing needs a putListing: statuses alone are not a complete listing',
    async run(ctx) {
      const { store } = await ctx.open();
      await store.putStatus(fileRecord('/s/a'));
      await store.putStatus(fileRecord('/s/b'));
      assert.equal(await store.getListing('/s'), undefined);
      await store.putListing('/', [dirRecord('/top')], 5);
      await store.putStatus(dirRecord('/', { fingerprint: 'r' }));
      assert.deepEqual(
        paths((await store.getListing('/'))?.entries),
        ['/top'],
        'the root is not its own child',
      );
    },
  },
  {
    name: 'putListing refuses entries that are not direct children of the directory',
    async run(ctx) {
      const { store } = await ctx.open();
      await store.putListing('/d', [fileRecord('/d/a')], 1);
      for (const bad of ['/d/x/y', '/other', '/d', '/dd/a']) {
        await assert.rejects(store.putListing('/d', [fileRecord(bad)], 2), isCode('INVALID_ARGUMENT'), bad);
      }
      assert.deepEqual(
        paths((await store.getListing('/d'))?.entries),
        ['/d/a'],
        'a refused listing changes nothing',
      );
      assert.equal(await store.getStatus('/d/x/y'), undefined);
    },
  },
  {
    name: 'getListing after putStatus of a child reflects the new status',
    async run(ctx) {
      const { store } = await ctx.open();
      await store.putListing('/l', [fileRecord('/l/a', { size: 1 }), fileRecord('/l/b', { size: 2 })], 10);
      assert.deepEqual(
        (await store.getListing('/l'))?.entries.map((e) => e.size),
        [1, 2],
      );
      const changed = fileRecord('/l/a', { size: 5, fingerprint: 'f5' });
      await store.putStatus(changed);
      const listing = await store.getListing('/l');
      if (listing !== undefined) {
        // Kept: then it must show the new record, never the old one.
        assert.deepEqual(
          listing.entries.find((e) => e.path === '/l/a'),
          changed,
        );
        assert.deepEqual(
          listing.entries.find((e) => e.path === '/l/b'),
          fileRecord('/l/b', { size: 2 }),
        );
      }
      await store.invalidate('/l/b');
      assert.equal(await store.getListing('/l'), undefined);
    },
  },
  {
    name: 'putListing with a listingToken taken before a change to the directory is not kept; one taken after is',
    async run(ctx) {
      const { store } = await ctx.open();
      // Without tokens a listing read before a write could be stored over it (a file just written
      // then missing from its directory): every store the worker runs on must offer them.
      assert.ok(store.listingToken, 'the store offers no listingToken()');
      await store.putListing('/t', [fileRecord('/t/a')], 1);
      // A listing of the store begins (token), a writer then changes a child (invalidate), and the
      // listing — read before that write — arrives: it may lack the write, so it must not be kept.
      const before = store.listingToken();
      await store.invalidate('/t/new');
      await store.putListing('/t', [fileRecord('/t/a')], 2, before);
      assert.equal(await store.getListing('/t'), undefined, 'a listing older than the change was kept');
      for (const change of [() => store.invalidate('/t'), () => store.deleteTree('/t/sub')]) {
        await store.putListing('/t', [fileRecord('/t/a')], 3);
        const stale = store.listingToken();
        await change();
        await store.putListing('/t', [fileRecord('/t/a')], 4, stale);
        assert.equal((await store.getListing('/t'))?.syncedAtMs === 4, false, 'kept over a later change');
      }
      const fresh = store.listingToken();
      await store.putListing('/t', [fileRecord('/t/a'), fileRecord('/t/new')], 5, fresh);
      assert.deepEqual(paths((await store.getListing('/t'))?.entries), ['/t/a', '/t/new']);
      // Changes elsewhere do not make a listing stale.
      const other = store.listingToken();
      await store.invalidate('/elsewhere/x');
      await store.putListing('/t', [fileRecord('/t/a')], 6, other);
      assert.equal((await store.getListing('/t'))?.syncedAtMs, 6);
    },
  },
  {
    name: 'setAttrs merges into the attributes and returns them; an undefined value removes a key; empty attributes are deleted',
    async run(ctx) {
      const { store } = await ctx.open();
      assert.equal(await store.getAttrs('/f'), undefined);
      assert.deepEqual(await store.setAttrs('/f', { pinned: true }), { pinned: true });
      const full: FileAttrs = { pinned: true, ttlMs: 1000, ttlAction: 'free', ttlStartMs: 5 };
      assert.deepEqual(await store.setAttrs('/f', { ttlMs: 1000, ttlAction: 'free', ttlStartMs: 5 }), full);
      assert.deepEqual(await store.getAttrs('/f'), full);
      const without = { ttlMs: 1000, ttlAction: 'free', ttlStartMs: 5, persistence: 'TO_BE_PERSISTED' };
      assert.deepEqual(
        await store.setAttrs('/f', { pinned: undefined, persistence: 'TO_BE_PERSISTED' }),
        without,
      );
      assert.deepEqual(await store.getAttrs('/f'), without);
      assert.deepEqual(
        await store.setAttrs('/f', { pinned: false }),
        { ...without, pinned: false },
        'false is a value',
      );
      const cleared = await store.setAttrs('/f', {
        pinned: undefined,
        ttlMs: undefined,
        ttlAction: undefined,
        ttlStartMs: undefined,
        persistence: undefined,
      });
      assert.deepEqual(cleared, {});
      assert.equal(await store.getAttrs('/f'), undefined, 'empty attributes are no attributes');
      assert.deepEqual(await collect(store.allAttrs()), []);
      // Attributes are independent of statuses: invalidating the status keeps them.
      await store.putStatus(fileRecord('/g'));
      await store.setAttrs('/g', { pinned: true });
      await store.invalidate('/g');
      assert.deepEqual(await store.getAttrs('/g'), { pinned: true });
    },
  },
  {
    name: 'concurrent setAttrs on one path are all applied',
    async run(ctx) {
      const { store } = await ctx.open();
      await Promise.all([
        store.setAttrs('/h', { pinned: true }),
        store.setAttrs('/h', { ttlMs: 9 }),
        store.setAttrs('/h', { ttlStartMs: 1 }),
        store.setAttrs('/h', { persistence: 'PERSISTED' }),
      ]);
      assert.deepEqual(await store.getAttrs('/h'), {
        pinned: true,
        ttlMs: 9,
        ttlStartMs: 1,
        persistence: 'PERSISTED',
      });
    },
  },
  {
    name: 'deleteAttrs removes the attributes of one path; allAttrs lists every path that has some',
    async run(ctx) {
      const { store } = await ctx.open();
      await store.setAttrs('/a', { pinned: true });
      await store.setAttrs('/a/b', { ttlMs: 3, ttlAction: 'delete', ttlStartMs: 1 });
      await store.setAttrs('/ab', { persistence: 'NOT_PERSISTED' });
      assert.deepEqual(byKey(await collect(store.allAttrs())), [
        ['/a', { pinned: true }],
        ['/a/b', { ttlMs: 3, ttlAction: 'delete', ttlStartMs: 1 }],
        ['/ab', { persistence: 'NOT_PERSISTED' }],
      ]);
      await store.deleteAttrs('/a');
      assert.equal(await store.getAttrs('/a'), undefined);
      assert.deepEqual(await store.getAttrs('/a/b'), { ttlMs: 3, ttlAction: 'delete', ttlStartMs: 1 });
      assert.deepEqual((await collect(store.allAttrs())).map(([p]) => p).sort(), ['/a/b', '/ab']);
      await store.deleteAttrs('/never'); // not an error
    },
  },
  {
    name: 'peekStatus and peekAttrs return what getStatus and getAttrs return, or undefined',
    async run(ctx) {
      const { store } = await ctx.open();
      const check = async (what: string) => {
        for (const p of ['/k', '/k/a', '/k/b', '/k/c', '/never']) await peeksAgree(store, p, what);
      };
      await check('empty store');
      await store.putStatus(fileRecord('/k/a'));
      await store.putListing('/k', [fileRecord('/k/a'), fileRecord('/k/b')], 1);
      await store.setAttrs('/k/a', { pinned: true });
      await check('after puts');
      await store.putStatus(fileRecord('/k/a', { size: 3 }));
      await store.setAttrs('/k/a', { pinned: undefined, ttlMs: 1 });
      await check('after overwrites');
      await store.invalidate('/k/a');
      await store.deleteAttrs('/k/a');
      await check('after invalidate and deleteAttrs');
      await store.putListing('/k', [fileRecord('/k/c')], 2);
      await check('after a relisting');
      await store.deleteTree('/k');
      await check('after deleteTree');
    },
  },
  {
    name: 'journal: put, overwrite, list every entry, delete',
    async run(ctx) {
      const { store } = await ctx.open();
      assert.deepEqual(await collect(store.journalEntries()), []);
      await store.journalPut('0002', { op: 'put', path: '/b' });
      await store.journalPut('0001', { op: 'put', path: '/a', n: [1, 2], nested: { ok: true } });
      await store.journalPut('0003', 'a string');
      assert.deepEqual(byKey(await collect(store.journalEntries())), [
        ['0001', { op: 'put', path: '/a', n: [1, 2], nested: { ok: true } }],
        ['0002', { op: 'put', path: '/b' }],
        ['0003', 'a string'],
      ]);
      await store.journalPut('0002', { op: 'put', path: '/b', done: 1 });
      await store.journalDelete('0001');
      await store.journalDelete('never'); // not an error
      assert.deepEqual(byKey(await collect(store.journalEntries())), [
        ['0002', { op: 'put', path: '/b', done: 1 }],
        ['0003', 'a string'],
      ]);
    },
  },
  {
    name: 'attributes and journal records survive close() and open()',
    needs: ['persistent'],
    async run(ctx) {
      const opened = await ctx.open();
      const s1 = opened.store;
      await s1.setAttrs('/m/two', { pinned: true, ttlMs: 10 });
      await s1.setAttrs('/m/gone', { pinned: true });
      await s1.deleteAttrs('/m/gone');
      await s1.setAttrs('/m/emptied', { pinned: true });
      await s1.setAttrs('/m/emptied', { pinned: undefined });
      await s1.journalPut('j1', { op: 'x' });
      await s1.journalPut('j2', { op: 'y' });
      await s1.journalDelete('j2');
      await s1.close();
      const s2 = await opened.reopen!();
      assert.deepEqual(await s2.getAttrs('/m/two'), { pinned: true, ttlMs: 10 });
      assert.equal(await s2.getAttrs('/m/gone'), undefined);
      assert.equal(await s2.getAttrs('/m/emptied'), undefined);
      assert.deepEqual(await collect(s2.allAttrs()), [['/m/two', { pinned: true, ttlMs: 10 }]]);
      assert.deepEqual(await collect(s2.journalEntries()), [['j1', { op: 'x' }]]);
      // A status or listing may or may not have survived (a cache), but never as something else.
      await s2.putStatus(fileRecord('/m/one'));
      assert.deepEqual(await s2.getStatus('/m/one'), fileRecord('/m/one'));
    },
  },
  ...LISTING_PAGE_CASES,
];
