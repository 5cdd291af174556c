import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { compareUtf8 } from '../../src/core/utf8-order.js';
import { type ListItem, ListingCache, WHOLE_LISTING, walk } from '../../src/gateway/s3/listing.js';
import { seekCandidates } from '../../src/gateway/s3/listing-stream.js';
import { MemoryFileSystem } from '../rpc/memory-file-system.js';

/**
 * walk() over a directory larger than one listPage: read page by page from the file system and
 * reordered into S3 key order (a directory "a" keys as "a/", after "a-b" and "a.c"), checked
 * against every key of the tree sorted and filtered the way S3 defines it.
 */

const FILES = [
  ...Array.from({ length: WHOLE_LISTING + 200 }, (_, i) => `k-${String(i).padStart(4, '0')}`),
  'a/x',
  'a-b/y',
  'a.c',
  'a0',
  'k/z',
  'k-05/w',
  'k-05-x',
  'k-05.d/v',
  'k-05.d-/u',
];
const EMPTY_DIRS = ['e'];

async function tree(): Promise<MemoryFileSystem> {
  const fs = new MemoryFileSystem();
  for (const f of FILES) await fs.write(`/bkt/${f}`, Readable.from([Buffer.from(f)]));
  for (const d of EMPTY_DIRS) await fs.mkdir(`/bkt/${d}`);
  return fs;
}

/** S3's answer from the sorted keys: keys after the marker, rolled up at the delimiter. */
function reference(prefix: string, delimiter: string, after: string): string[] {
  const keys = [...FILES, ...EMPTY_DIRS.map((d) => `${d}/`)].sort(compareUtf8);
  const out: string[] = [];
  for (const k of keys) {
    if (!k.startsWith(prefix) || compareUtf8(k, after) <= 0) continue;
    const idx = delimiter ? k.indexOf(delimiter, prefix.length) : -1;
    if (idx < 0) {
      out.push(k);
      continue;
    }
    const cp = k.slice(0, idx + delimiter.length);
    if (out[out.length - 1] !== cp && compareUtf8(cp, after) > 0 && !after.startsWith(cp)) out.push(cp);
  }
  return out;
}

async function walked(
  cache: ListingCache,
  prefix: string,
  delimiter: string,
  after: string,
): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of walk(cache, { bucket: 'bkt', prefix, delimiter, after }))
    for (const item of batch as ListItem[]) out.push(item.kind === 'key' ? item.key : item.prefix);
  return out;
}

test('walk of a directory larger than one page yields S3 key order for every prefix, delimiter and marker', async () => {
  const fs = await tree();
  const cache = new ListingCache(fs);
  let pages = 0;
  const listPage = fs.listPage.bind(fs);
  fs.listPage = (path, options) => {
    pages++;
    return listPage(path, options);
  };
  for (const prefix of ['', 'a', 'k-05', 'k-1', 'k-05.', 'zz'])
    for (const delimiter of ['', '/', '-'])
      for (const after of [
        '',
        'a',
        'a-b/y',
        'a/',
        'k-0499',
        'k-05',
        'k-05/',
        'k-05-x',
        'k-05.d/',
        'k-1199',
        'zzz',
      ]) {
        const what = JSON.stringify({ prefix, delimiter, after });
        assert.deepEqual(
          await walked(cache, prefix, delimiter, after),
          reference(prefix, delimiter, after),
          what,
        );
      }
  assert.ok(pages > 0, 'the large directory was read with listPage');
});

test('a walk reads the large directory in pages, never through list()', async () => {
  const fs = await tree();
  const cache = new ListingCache(fs);
  const limits: number[] = [];
  const listPage = fs.listPage.bind(fs);
  fs.listPage = (path, options) => {
    if (path === '/bkt') limits.push(options?.limit ?? 0);
    return listPage(path, options);
  };
  fs.list = async (path) => {
    if (path === '/bkt') throw new Error('the whole large directory was listed');
    return MemoryFileSystem.prototype.list.call(fs, path);
  };
  const keys = await walked(cache, '', '', 'k-0100');
  assert.equal(keys[0], 'k-0101');
  assert.ok(limits.length >= 2 && limits.every((l) => l <= WHOLE_LISTING), `page limits ${limits.join()}`);
});

test('seek candidates: prefixes of the bound cut before a byte below "/", and the bound itself', () => {
  assert.deepEqual(seekCandidates('k-05.d'), ['k', 'k-05', 'k-05.d']);
  assert.deepEqual(seekCandidates('k-05/'), ['k', 'k-05']);
  assert.deepEqual(seekCandidates('abc'), ['abc']);
  assert.deepEqual(seekCandidates(''), []);
});
