import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FileInfo, StrataFileSystem } from '../../src/client/types.js';
import { StrataError } from '../../src/core/errors.js';
import { ListingCache } from '../../src/gateway/s3/listing.js';

/**
 * The gateway's listing cache over an in-memory directory (a unit test of its timing rules; the
 * gateway tests run it over real stores). Time is a clock the test moves, never the real one, and
 * a background refresh is waited for by its own completion, never by sleeping.
 */
function fakeFs() {
  const dirs = new Map<string, string[]>([['/b', ['x', 'y']]]);
  let gate: Promise<void> | undefined;
  let calls = 0;
  const store = { down: false };
  const running = new Set<Promise<unknown>>();
  const info = (dir: string, name: string): FileInfo => ({
    path: `${dir}/${name}`,
    name,
    type: 'file',
    size: 1,
    mtimeMs: 1,
    fingerprint: `${name}:1`,
    cachedBytes: 0,
    cachedPercent: 0,
    pinned: false,
    persistence: 'PERSISTED',
    mount: '/',
  });
  const list = async (dir: string) => {
    const names = [...(dirs.get(dir) ?? [])]; // what the store holds when the call starts
    if (gate) await gate;
    if (store.down) throw new StrataError('UFS_UNAVAILABLE', `store down listing ${dir}`);
    if (!dirs.has(dir)) throw new StrataError('NOT_FOUND', dir);
    return names.map((n) => info(dir, n));
  };
  const track = <T>(call: Promise<T>): Promise<T> => {
    calls++;
    running.add(call);
    call.then(
      () => running.delete(call),
      () => running.delete(call),
    );
    return call;
  };
  const fs = {
    list: (dir: string) => track(list(dir)),
    // Directories here are small: one page holds each.
    listPage: (dir: string) => track(list(dir).then((entries) => ({ entries }))),
  } as unknown as StrataFileSystem;
  return {
    fs,
    dirs,
    store,
    calls: () => calls,
    /** Every list() call made so far has returned, and the cache has taken in its result. */
    async settled(): Promise<void> {
      while (running.size > 0) await Promise.allSettled([...running]);
      // The cache's continuation after list() is a chain of promise callbacks: all of them run
      // before a macrotask does.
      await new Promise<void>((ok) => setImmediate(ok));
    },
    hold(): () => void {
      let release!: () => void;
      gate = new Promise<void>((ok) => {
        release = () => {
          gate = undefined;
          ok();
        };
      });
      return release;
    },
  };
}

const names = async (cache: ListingCache, dir: string) => (await cache.list(dir))?.map((e) => e.name);

/** A clock that moves only when the test says so. */
function manualClock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

test('a stale listing is served once while it is refreshed; then the new one', async () => {
  const f = fakeFs();
  const clock = manualClock();
  const cache = new ListingCache(f.fs, { ttlMs: 30, now: clock.now });
  assert.deepEqual(await names(cache, '/b'), ['x', 'y']);
  f.dirs.set('/b', ['x', 'y', 'z']);
  clock.advance(29);
  assert.deepEqual(await names(cache, '/b'), ['x', 'y'], 'fresh for the TTL');
  await f.settled();
  assert.equal(f.calls(), 1, 'no relist within the TTL');
  clock.advance(1);
  assert.deepEqual(await names(cache, '/b'), ['x', 'y'], 'stale: served while refreshing');
  await f.settled();
  assert.equal(f.calls(), 2);
  assert.deepEqual(await names(cache, '/b'), ['x', 'y', 'z']);
});

test('concurrent misses share one relist', async () => {
  const f = fakeFs();
  const cache = new ListingCache(f.fs, { ttlMs: 1000, now: manualClock().now });
  const release = f.hold();
  const all = Promise.all(Array.from({ length: 16 }, () => names(cache, '/b')));
  release();
  for (const n of await all) assert.deepEqual(n, ['x', 'y']);
  assert.equal(f.calls(), 1);
});

test('a refresh that read the directory before an invalidation does not put the old listing back', async () => {
  const f = fakeFs();
  const clock = manualClock();
  const cache = new ListingCache(f.fs, { ttlMs: 20, now: clock.now });
  assert.deepEqual(await names(cache, '/b'), ['x', 'y']);
  clock.advance(30);
  const release = f.hold();
  assert.deepEqual(await names(cache, '/b'), ['x', 'y']); // stale: starts a refresh, held at the gate
  // A change through the gateway: the store changes, then the gateway invalidates.
  f.dirs.set('/b', ['x', 'y', 'new']);
  cache.invalidate('/b/new');
  release(); // the held refresh now returns what it read before the change
  await f.settled();
  assert.deepEqual(await names(cache, '/b'), ['new', 'x', 'y']);
  assert.deepEqual(await names(cache, '/b'), ['new', 'x', 'y']);
});

test('a missing directory is remembered as missing; pages depend on it', async () => {
  const f = fakeFs();
  const cache = new ListingCache(f.fs, { ttlMs: 1000, now: manualClock().now });
  const deps = new Map();
  assert.equal(await cache.list('/none', deps), undefined);
  assert.ok(deps.has('/none'));
  assert.equal(await cache.unchanged(deps), true);
  f.dirs.set('/none', ['a']);
  cache.invalidate('/none/a');
  assert.equal(await cache.unchanged(deps), false, 'a page built while it was missing is stale now');
});

test('while the store cannot be reached, the last known listing and a known absence are kept', async () => {
  const f = fakeFs();
  const clock = manualClock();
  const cache = new ListingCache(f.fs, { ttlMs: 20, now: clock.now });
  assert.deepEqual(await names(cache, '/b'), ['x', 'y']);
  assert.equal(await cache.list('/b/.strata-s3/meta'), undefined, 'no sidecar directory');
  f.store.down = true;
  for (let round = 0; round < 3; round++) {
    clock.advance(30); // past the TTL: each look starts a refresh, which fails
    assert.deepEqual(await names(cache, '/b'), ['x', 'y']);
    assert.equal(cache.peekHas('/b/.strata-s3/meta', 'k'), false, 'still known absent');
    assert.equal(await cache.has('/b/.strata-s3/meta', 'k'), false);
    await f.settled();
  }
  assert.ok(f.calls() > 2, 'refreshes were tried');
  await assert.rejects(cache.list('/never-seen'), { code: 'UFS_UNAVAILABLE' }, 'unknown stays unknown');
  f.store.down = false;
  f.dirs.set('/b', ['x', 'y', 'z']);
  clock.advance(30);
  await cache.list('/b');
  await f.settled();
  assert.deepEqual(await names(cache, '/b'), ['x', 'y', 'z'], 'back: the next refresh replaces it');
});

test('an overwrite through the gateway updates the cached listing in place, also under a relist that read before it; a new name is added; a sidecar without its info drops that directory alone', async () => {
  const f = fakeFs();
  f.dirs.set('/c', ['s']);
  const clock = manualClock();
  const cache = new ListingCache(f.fs, { ttlMs: 20, now: clock.now });
  const fingerprints = async (dir: string) =>
    (await cache.list(dir))?.map((e) => `${e.name}=${e.info.fingerprint}`);
  assert.deepEqual(await fingerprints('/b'), ['x=x:1', 'y=y:1']);
  const before = await cache.list('/b');
  const written = (name: string, fp: string): FileInfo => ({
    ...before![0]!.info,
    path: `/b/${name}`,
    name,
    fingerprint: fp,
  });
  cache.replaced('/b/x', written('x', 'x:2'));
  assert.deepEqual(await fingerprints('/b'), ['x=x:2', 'y=y:1'], 'the new info, without a relist');
  assert.equal(f.calls(), 1);
  assert.notEqual(await cache.list('/b'), before, 'a new array: pages built on the old one are stale');
  // A relist that read the store before the next overwrite: the overwrite is applied on top.
  clock.advance(30);
  const release = f.hold();
  await cache.list('/b'); // stale: starts a refresh, held at the gate with what the store had
  cache.replaced('/b/y', written('y', 'y:2'));
  release();
  await f.settled();
  assert.equal(f.calls(), 2);
  assert.deepEqual(await fingerprints('/b'), ['x=x:1', 'y=y:2'], "the relist's x, the overwrite's y");
  // A new name is added in order, without a relist.
  f.dirs.set('/b', ['x', 'y', 'w']);
  cache.replaced('/b/w', written('w', 'w:1'));
  assert.deepEqual(await names(cache, '/b'), ['w', 'x', 'y']);
  assert.equal(f.calls(), 2);
  // Not cached while written: a relist that read before the write gets it on top.
  clock.advance(30);
  f.dirs.set('/b', ['x', 'y', 'w', 'v']);
  cache.invalidate('/b/other'); // drops /b (and clears what the cache knows)
  const held = f.hold();
  const relisting = names(cache, '/b');
  cache.replaced('/b/u', written('u', 'u:1')); // /b is not known now: dropped again with its parents
  f.dirs.set('/b', ['x', 'y', 'w', 'v', 'u']);
  held();
  await relisting;
  await f.settled();
  assert.deepEqual(await names(cache, '/b'), ['u', 'v', 'w', 'x', 'y']);
  const n = f.calls();
  const held2 = f.hold();
  clock.advance(30);
  await cache.list('/b'); // stale: a refresh starts, held with what the store had
  cache.replaced('/b/t', written('t', 't:1'));
  cache.replaced('/b/x', written('x', 'x:3'));
  held2();
  await f.settled();
  assert.equal(f.calls(), n + 1);
  assert.deepEqual(await fingerprints('/b'), ['t=t:1', 'u=u:1', 'v=v:1', 'w=w:1', 'x=x:3', 'y=y:1']);
  // Without the info (a sidecar write): that directory alone is dropped; /b stays cached.
  assert.deepEqual(await names(cache, '/c'), ['s']);
  const m = f.calls();
  cache.replaced('/c/s');
  assert.deepEqual(await names(cache, '/c'), ['s']);
  assert.deepEqual(await names(cache, '/b'), ['t', 'u', 'v', 'w', 'x', 'y']);
  assert.equal(f.calls(), m + 1, 'one relist of /c, none of /b');
});

test("a write into a directory its parent's cached listing shows keeps the ancestors' listings; into an unknown one it drops them", async () => {
  let calls = 0;
  const entry = (dir: string, name: string, type: 'file' | 'directory'): FileInfo =>
    ({ path: `${dir}/${name}`, name, type, size: 1, mtimeMs: 1, fingerprint: `${name}:1` }) as FileInfo;
  const fs = {
    listPage: async (dir: string) => {
      calls++;
      if (dir === '/d') return { entries: [entry('/d', 'k', 'file'), entry('/d', 'm', 'directory')] };
      if (dir === '/d/m') return { entries: [entry('/d/m', 'k', 'file')] };
      throw new StrataError('NOT_FOUND', dir);
    },
  } as unknown as StrataFileSystem;
  const cache = new ListingCache(fs, { ttlMs: 1000, now: manualClock().now });
  assert.deepEqual(await names(cache, '/d'), ['k', 'm']);
  // A sidecar-like write in /d/m (not cached itself; /d lists it as a directory): /d stays.
  cache.replaced('/d/m/k');
  assert.deepEqual(await names(cache, '/d'), ['k', 'm']);
  assert.equal(calls, 1);
  assert.deepEqual(await names(cache, '/d/m'), ['k']);
  assert.equal(calls, 2);
  // A new name in the cached /d/m: that listing alone is read again.
  cache.replaced('/d/m/new');
  await names(cache, '/d/m');
  await names(cache, '/d');
  assert.equal(calls, 3);
  // A write below a directory /d does not list (/d/q): /d is dropped with it.
  cache.replaced('/d/q/k');
  await names(cache, '/d');
  assert.equal(calls, 4);
  // The write made /d/q: the next one there drops nothing above it.
  cache.replaced('/d/q/k2');
  await names(cache, '/d');
  assert.equal(calls, 4);
});
