import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PAGE_HEADER_BYTES } from '../../src/cache/page-file.js';
import { loadPageSealer, PageSealer } from '../../src/cache/page-seal.js';
import { TieredPageStore } from '../../src/cache/tiered-page-store.js';
import { isStrataError } from '../../src/core/errors.js';
import { newSealKeyText } from '../../src/core/seal.js';

/** The encrypted disk tier: sealed pages, and what happens to pages that do not open. */

const PAGE = 4096;
let root = '';
let seq = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'strata-page-seal-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A recognisable plaintext: a marker repeated, so "the file contains it" is a real search. */
function marked(seed: number, size = PAGE): Buffer {
  const marker = Buffer.from(`PLAINTEXT-MARKER-${seed}-`);
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += marker.length) marker.copy(b, i);
  return b;
}

async function store(dir: string, sealer?: PageSealer, memory = 0): Promise<TieredPageStore> {
  const s = new TieredPageStore({
    pageSize: PAGE,
    eviction: 'LRU',
    tiers: [
      ...(memory > 0 ? [{ name: 'memory', kind: 'memory' as const, capacityBytes: memory }] : []),
      { name: 'disk0', kind: 'disk' as const, dir, capacityBytes: 64 * PAGE },
    ],
    ...(sealer ? { diskSealer: sealer } : {}),
  });
  await s.open();
  return s;
}

function pageFile(dir: string, fileId: string, index: number): string {
  return join(dir, fileId.slice(0, 2), `${fileId}.${index}.page`);
}

describe('encrypted disk tier', () => {
  test('a sealed page file holds no plaintext and is 28 bytes longer; it reads back after a restart', async () => {
    const dir = join(root, `d${++seq}`);
    const sealer = new PageSealer(randomBytes(32));
    let s = await store(dir, sealer);
    await s.put('file1', 0, marked(1));
    await s.put('file1', 1, marked(2, 100));
    await s.close();
    const raw = await readFile(pageFile(dir, 'file1', 0));
    assert.equal(raw.length, PAGE_HEADER_BYTES + 12 + PAGE + 16);
    assert.equal(raw.indexOf(Buffer.from('PLAINTEXT-MARKER')), -1, 'no plaintext on disk');
    assert.equal(raw.readUInt16LE(6) & 1, 1, 'the sealed flag is set');
    s = await store(dir, sealer);
    assert.deepEqual(s.cachedPages('file1'), [0, 1]);
    assert.equal(s.cachedBytes('file1'), PAGE + 100, 'sizes from the scan are plaintext sizes');
    assert.ok((await s.get('file1', 0))?.equals(marked(1)));
    assert.ok((await s.get('file1', 1))?.equals(marked(2, 100)));
    assert.equal(s.stats().corruptPages, 0);
    await s.close();
  });

  test('two writes of the same page use different IVs (a fresh IV per write)', async () => {
    const dir = join(root, `d${++seq}`);
    const s = await store(dir, new PageSealer(randomBytes(32)));
    await s.put('again', 0, marked(3));
    const first = await readFile(pageFile(dir, 'again', 0));
    await s.deleteFile('again');
    await s.put('again', 0, marked(3));
    await s.close();
    const second = await readFile(pageFile(dir, 'again', 0));
    assert.notDeepEqual(first.subarray(PAGE_HEADER_BYTES), second.subarray(PAGE_HEADER_BYTES));
  });

  test('a wrong key: the page is a miss (the caller refetches), counted as wrong_key, and the file is gone', async () => {
    const dir = join(root, `d${++seq}`);
    let s = await store(dir, new PageSealer(randomBytes(32)));
    await s.put('wk', 0, marked(4));
    await s.close();
    s = await store(dir, new PageSealer(randomBytes(32)), 16 * PAGE);
    assert.equal(await s.get('wk', 0, { promote: true }), undefined);
    assert.equal(s.stats().corruptPages, 1);
    assert.deepEqual(s.stats().unsealFailures, { wrong_key: 1 });
    assert.equal(s.has('wk', 0), false);
    // Refetched from the store and put again: served, sealed under the new key.
    await s.put('wk', 0, marked(4));
    assert.ok((await s.get('wk', 0))?.equals(marked(4)));
    await s.close();
  });

  test('a tampered page (one ciphertext bit, CRC fixed up so only the tag can tell) is dropped', async () => {
    const dir = join(root, `d${++seq}`);
    const sealer = new PageSealer(randomBytes(32));
    let s = await store(dir, sealer);
    await s.put('tp', 0, marked(5));
    await s.close();
    const path = pageFile(dir, 'tp', 0);
    const raw = await readFile(path);
    raw[PAGE_HEADER_BYTES + 12 + 100]! ^= 0x01;
    // Recompute both CRCs, as a forger would: only the GCM tag is left to notice.
    const { pageChecksum } = await import('../../src/cache/checksum.js');
    raw.writeUInt32LE(pageChecksum(raw.subarray(PAGE_HEADER_BYTES)), 12);
    raw.writeUInt32LE(pageChecksum(raw.subarray(0, 28)), 28);
    await writeFile(path, raw);
    s = await store(dir, sealer);
    assert.equal(await s.get('tp', 0), undefined);
    assert.deepEqual(s.stats().unsealFailures, { tampered: 1 });
    assert.equal(await s.verify('tp', 0), 'absent', 'dropped');
    await s.close();
  });

  test('a page file copied under another page name does not open (bound to file id and index)', async () => {
    const dir = join(root, `d${++seq}`);
    const sealer = new PageSealer(randomBytes(32));
    let s = await store(dir, sealer);
    await s.put('aa-src', 3, marked(6));
    await s.put('aa-dst', 3, marked(7));
    await s.close();
    await copyFile(pageFile(dir, 'aa-src', 3), pageFile(dir, 'aa-dst', 3));
    s = await store(dir, sealer);
    assert.equal(await s.get('aa-dst', 3), undefined, 'another file id: no');
    assert.deepEqual(s.stats().unsealFailures, { tampered: 1 });
    assert.ok((await s.get('aa-src', 3))?.equals(marked(6)), 'the original still opens');
    await s.close();
  });

  test('no key configured: sealed pages are dropped (no_key); a key configured: plain pages are dropped (not_sealed)', async () => {
    const dir = join(root, `d${++seq}`);
    let s = await store(dir, new PageSealer(randomBytes(32)));
    await s.put('nk', 0, marked(8));
    await s.close();
    s = await store(dir);
    assert.equal(await s.get('nk', 0), undefined);
    assert.deepEqual(s.stats().unsealFailures, { no_key: 1 });
    await s.put('nk', 0, marked(8)); // plain now
    await s.close();
    assert.notEqual((await readFile(pageFile(dir, 'nk', 0))).indexOf(Buffer.from('PLAINTEXT-MARKER')), -1);
    s = await store(dir, new PageSealer(randomBytes(32)));
    assert.equal(await s.get('nk', 0), undefined);
    assert.deepEqual(s.stats().unsealFailures, { not_sealed: 1 });
    await s.close();
    assert.deepEqual(await readdir(join(dir, 'nk')), [], 'the plain page file was deleted');
  });

  test('a page larger than the I/O thread limit is sealed too (the pool path)', async () => {
    const dir = join(root, `d${++seq}`);
    const big = 512 * 1024;
    const s = new TieredPageStore({
      pageSize: big,
      eviction: 'LRU',
      tiers: [{ name: 'disk0', kind: 'disk', dir, capacityBytes: 4 * big }],
      diskSealer: new PageSealer(randomBytes(32)),
    });
    await s.open();
    await s.put('bigpage', 0, marked(9, big));
    const raw = await readFile(pageFile(dir, 'bigpage', 0));
    assert.equal(raw.indexOf(Buffer.from('PLAINTEXT-MARKER')), -1);
    assert.ok((await s.get('bigpage', 0))?.equals(marked(9, big)));
    await s.close();
  });

  test('key files: seal.ts key text loads; a missing or short key is a clear INVALID_ARGUMENT', async () => {
    const good = join(root, 'good.key');
    await writeFile(good, `${newSealKeyText()}\n`);
    assert.equal(loadPageSealer(good).keyId.length, 6);
    const short = join(root, 'short.key');
    await writeFile(short, Buffer.from('abc').toString('base64url'));
    assert.throws(
      () => loadPageSealer(short),
      (e: unknown) => isStrataError(e, 'INVALID_ARGUMENT') && /32 bytes/.test((e as Error).message),
    );
    assert.throws(
      () => loadPageSealer(join(root, 'absent.key')),
      (e: unknown) => isStrataError(e, 'INVALID_ARGUMENT') && /cannot read/.test((e as Error).message),
    );
  });
});
