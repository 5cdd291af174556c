import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type EncodedPage, ListingCache } from '../../src/fuse/listing-cache.js';

/** The daemon's kept listing pages: expiry from the fetch, drops on change, bounded memory. */

const page = (n: number): EncodedPage => [Buffer.from('a\0'.repeat(n)), new Float64Array(4 * n), false];
const first = ListingCache.key(null, 0);

describe('ListingCache', () => {
  test('a page lives for the timeout counted from its fetch, then is gone', () => {
    const c = new ListingCache(1000);
    const fetchedAt = Date.now();
    c.set('/d', first, page(3), 3, fetchedAt);
    assert.ok(c.get('/d', first, fetchedAt + 999));
    assert.equal(c.get('/d', first, fetchedAt + 1000), undefined);
    assert.equal(c.size, 0, 'an expired directory no longer counts');
  });

  test('timeout 0 keeps nothing', () => {
    const c = new ListingCache(0);
    c.set('/d', first, page(1), 1, Date.now());
    assert.equal(c.get('/d', first), undefined);
  });

  test('pages are told apart by their cursor (after a name, or a child index)', () => {
    const c = new ListingCache(60_000);
    const now = Date.now();
    c.set('/d', first, page(1), 1, now);
    c.set('/d', ListingCache.key('a', 0), page(2), 2, now);
    assert.equal(c.get('/d', ListingCache.key(null, 5)), undefined);
    assert.equal(c.get('/d', ListingCache.key('a', 0))?.[0].length, 4);
    assert.equal(c.size, 3);
  });

  test('forget(path) drops the parent listing and everything below the path', () => {
    const c = new ListingCache(60_000);
    const now = Date.now();
    for (const d of ['/a', '/a/b', '/a/b/c', '/x']) c.set(d, first, page(1), 1, now);
    c.forget('/a/b');
    assert.equal(c.get('/a', first), undefined, 'the parent shows the changed name');
    assert.equal(c.get('/a/b', first), undefined);
    assert.equal(c.get('/a/b/c', first), undefined);
    assert.ok(c.get('/x', first), 'unrelated directories stay');
  });

  test('memory is bounded by children over all pages: the oldest directories go first', () => {
    const c = new ListingCache(60_000, 10);
    const now = Date.now();
    c.set('/old', first, page(6), 6, now);
    c.set('/new', first, page(6), 6, now);
    assert.equal(c.get('/old', first), undefined);
    assert.ok(c.get('/new', first));
    assert.ok(c.size <= 10);
    c.set('/huge', first, page(11), 11, now);
    assert.equal(c.get('/huge', first), undefined, 'a page larger than the bound is not kept');
  });
});
