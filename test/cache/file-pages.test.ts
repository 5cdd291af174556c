import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FilePages } from '../../src/cache/file-pages.js';

test('file pages: a one-page file and a many-page file answer the same way; the last page takes the file', () => {
  const f = new FilePages();
  f.set('a', 0, 10);
  assert.deepEqual([...f.pages('a')], [[0, 10]]);
  f.set('a', 0, 12); // rewritten page 0
  assert.equal(f.totalBytes('a'), 12);
  f.set('a', 3, 5); // a second page: becomes a map, page 0 kept
  assert.deepEqual([...f.pages('a')].sort(), [
    [0, 12],
    [3, 5],
  ]);
  assert.equal(f.totalBytes('a'), 17);
  f.delete('a', 0);
  f.delete('a', 3);
  assert.equal(f.has('a'), false);
  f.set('b', 2, 7); // a file whose first cached page is not page 0
  f.delete('b', 0); // not cached: nothing changes
  assert.deepEqual([...f.pages('b')], [[2, 7]]);
  f.set('c', 0, 1);
  f.delete('c', 1); // not cached
  assert.equal(f.totalBytes('c'), 1);
  assert.deepEqual([...f.files()].sort(), ['b', 'c']);
  f.deleteFile('b');
  assert.deepEqual([...f.files()], ['c']);
  assert.equal(f.totalBytes('missing'), 0);
  assert.deepEqual([...f.pages('missing')], []);
});
