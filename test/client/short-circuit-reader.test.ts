import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodePageHeader, PAGE_FLAG_SEALED } from '../../src/cache/page-file.js';
import { PageSealer } from '../../src/cache/page-seal.js';
import { TieredPageStore } from '../../src/cache/tiered-page-store.js';
import { pageReadThread } from '../../src/client/page-read-thread.js';
import {
  pagePool,
  readPageFile,
  readRangeLocally,
  releasePageChunk,
  streamRangeLocally,
} from '../../src/client/short-circuit-reader.js';
import type { PageLocation } from '../../src/core/page-location.js';
import { newSealKeyText, parseSealKey } from '../../src/core/seal.js';
import { tempDir } from '../helpers/local-process.js';

const PAGE = 64 * 1024;
const BIG = 1024 * 1024;

/** Page files through the real tiered page store (the worker's writer), read by the client's reader. */
describe('short-circuit page reads (real page files)', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let plain: TieredPageStore;
  let sealed: TieredPageStore;
  const content = randomBytes(3 * PAGE + 1000);

  before(async () => {
    tmp = await tempDir('sc-reader');
    const tiers = (dir: string) => [
      { name: 'memory', kind: 'memory' as const, capacityBytes: 16 * PAGE },
      { name: 'disk0', kind: 'disk' as const, dir, capacityBytes: 64 * PAGE },
    ];
    plain = new TieredPageStore({ pageSize: PAGE, eviction: 'LRU', tiers: tiers(join(tmp.dir, 'plain')) });
    sealed = new TieredPageStore({
      pageSize: PAGE,
      eviction: 'LRU',
      tiers: tiers(join(tmp.dir, 'sealed')),
      diskSealer: new PageSealer(parseSealKey(newSealKeyText()).bytes),
    });
    await plain.open();
    await sealed.open();
    for (let i = 0; i * PAGE < content.length; i++) {
      const page = content.subarray(i * PAGE, (i + 1) * PAGE);
      await plain.put('fileA', i, Buffer.from(page));
      await sealed.put('fileA', i, Buffer.from(page));
    }
  });

  after(async () => {
    await plain?.close();
    await sealed?.close();
    await tmp?.cleanup();
  });

  function located(store: TieredPageStore): PageLocation {
    const count = Math.ceil(content.length / PAGE);
    return {
      seq: 0,
      syncIntervalMs: -1,
      pageSize: PAGE,
      info: { size: content.length } as PageLocation['info'],
      files: Array.from({ length: count }, (_, i) => store.diskFile('fileA', i) ?? null),
    };
  }

  test('the plain tier names its page files; a sealed tier names none (the client has no key)', () => {
    assert.ok(located(plain).files!.every((f) => typeof f === 'string'));
    assert.ok(located(sealed).files!.every((f) => f === null));
    assert.equal(plain.diskFile('fileA', 99), undefined);
  });

  test('ranges read from the page files are the bytes that were stored', async () => {
    const loc = located(plain);
    assert.deepEqual(await readRangeLocally(loc, 0, content.length), content);
    assert.deepEqual(
      await readRangeLocally(loc, PAGE - 3, PAGE + 10),
      content.subarray(PAGE - 3, 2 * PAGE + 7),
    );
    assert.deepEqual(await readRangeLocally(loc, content.length - 10, 10), content.subarray(-10));
    const parts: Buffer[] = [];
    const g = streamRangeLocally(loc, 100, content.length - 200);
    let step = await g.next();
    while (step.done !== true) {
      parts.push(step.value);
      step = await g.next();
    }
    assert.equal(step.value, content.length - 100, 'served to the end');
    assert.deepEqual(Buffer.concat(parts), content.subarray(100, content.length - 100));
    // A sealed tier's locations say "no file": nothing is read locally.
    assert.equal(await readRangeLocally(located(sealed), 0, 10), undefined);
  });

  test('a missing, moved, damaged, misnamed or sealed page file is refused (the caller uses the RPC)', async () => {
    const loc = located(plain);
    const file1 = loc.files![1]!;
    const good = await readFile(file1);
    assert.deepEqual(await readPageFile(file1, 1, PAGE), content.subarray(PAGE, 2 * PAGE));
    assert.equal(await readPageFile(file1, 2, PAGE), undefined, 'another page index in the header');
    assert.equal(await readPageFile(file1, 1, PAGE - 1), undefined, 'another length');
    await rename(file1, `${file1}.moved`);
    assert.equal(await readPageFile(file1, 1, PAGE), undefined, 'gone');
    // A stream stops where the page is missing and says where: the caller goes on over the RPC.
    const g = streamRangeLocally(loc, 10, content.length - 10);
    const first = await g.next();
    assert.equal(first.done, false);
    assert.deepEqual(first.value, content.subarray(10, PAGE));
    assert.deepEqual(await g.next(), { done: true, value: PAGE });
    await rename(`${file1}.moved`, file1);
    const damaged = Buffer.from(good);
    damaged[32 + 5] = damaged[32 + 5]! ^ 1;
    await writeFile(file1, damaged);
    assert.equal(await readPageFile(file1, 1, PAGE), undefined, 'payload CRC');
    assert.equal(await readRangeLocally(loc, 0, content.length), undefined);
    const sealedFlag = Buffer.concat([
      encodePageHeader(1, good.subarray(32), PAGE_FLAG_SEALED),
      good.subarray(32),
    ]);
    await writeFile(file1, sealedFlag);
    assert.equal(await readPageFile(file1, 1, PAGE), undefined, 'a sealed page');
    await writeFile(file1, good);
    assert.deepEqual(await readRangeLocally(loc, 0, content.length), content);
  });

  test('a large page (read on the page-read thread) is checked the same way', async () => {
    const payload = randomBytes(BIG);
    const file = join(tmp.dir, 'big.page');
    await writeFile(file, Buffer.concat([encodePageHeader(7, payload), payload]));
    assert.deepEqual(await readPageFile(file, 7, BIG), payload);
    assert.equal(await readPageFile(file, 8, BIG), undefined);
    assert.equal(await readPageFile(join(tmp.dir, 'absent.page'), 7, BIG), undefined);
    const damaged = await readFile(file);
    damaged[32 + BIG - 1] = damaged[32 + BIG - 1]! ^ 0x80;
    await writeFile(file, damaged);
    assert.equal(await readPageFile(file, 7, BIG), undefined);
  });
});

/** Large pages (the page-read thread, pool buffers): reuse is safe and the CRC is computed once. */
describe('short-circuit large pages: pooled buffers and the payload CRC once per file', () => {
  const LARGE = 512 * 1024;
  let tmp: { dir: string; cleanup: () => Promise<void> };

  before(async () => {
    tmp = await tempDir('sc-pool');
  });
  after(async () => {
    await tmp?.cleanup();
  });

  /** A file of `pages` full pages of random bytes, as page files; its location and content. */
  async function pageFiles(name: string, pages: number): Promise<{ loc: PageLocation; content: Buffer }> {
    const content = randomBytes(pages * LARGE);
    const files: string[] = [];
    for (let i = 0; i < pages; i++) {
      const payload = content.subarray(i * LARGE, (i + 1) * LARGE);
      const file = join(tmp.dir, `${name}.${i}.page`);
      await writeFile(file, Buffer.concat([encodePageHeader(i, payload), payload]));
      files.push(file);
    }
    const loc: PageLocation = {
      seq: 0,
      syncIntervalMs: -1,
      pageSize: LARGE,
      info: { size: content.length } as PageLocation['info'],
      files,
    };
    return { loc, content };
  }

  /** Reads the stream like sendStream: copies each chunk out, then gives it back. */
  async function drain(loc: PageLocation, offset: number, length: number, keep?: Buffer[]): Promise<Buffer> {
    const out: Buffer[] = [];
    const g = streamRangeLocally(loc, offset, length);
    for (let step = await g.next(); step.done !== true; step = await g.next()) {
      out.push(Buffer.from(step.value));
      // Yield to let the other readers' pages land in between (they share the pool).
      await new Promise((ok) => setImmediate(ok));
      if (keep !== undefined && keep.length === 0)
        keep.push(step.value); // held, never given back
      else releasePageChunk(step.value);
    }
    return Buffer.concat(out);
  }

  test('concurrent readers of different files each get their own bytes while buffers are recycled', async () => {
    const a = await pageFiles('a', 12);
    const b = await pageFiles('b', 12);
    const pool = pagePool(LARGE);
    const before = pool.stats();
    const held: Buffer[] = [];
    const [ra, rb, rc] = await Promise.all([
      drain(a.loc, 0, a.content.length, held),
      drain(b.loc, 100, b.content.length - 300),
      drain(a.loc, LARGE + 7, 5 * LARGE),
    ]);
    assert.deepEqual(ra, a.content);
    assert.deepEqual(rb, b.content.subarray(100, b.content.length - 200));
    assert.deepEqual(rc, a.content.subarray(LARGE + 7, 6 * LARGE + 7));
    const after = pool.stats();
    assert.ok(after.reused - before.reused > 0, `buffers were reused: ${JSON.stringify(after)}`);
    // Two more full reads recycle every released buffer; the chunk still held keeps its bytes.
    assert.deepEqual(await drain(b.loc, 0, b.content.length), b.content);
    assert.deepEqual(await drain(a.loc, 0, a.content.length), a.content);
    assert.deepEqual(held[0], a.content.subarray(0, LARGE), 'a chunk not given back is never reused');
    // A view given back twice, or a foreign buffer, puts nothing back (core/buffer-pool.test.ts).
    releasePageChunk(Buffer.alloc(LARGE + 32));
  });

  test('a page stream stopped early gives back its read-ahead buffers only after they settle', async () => {
    const a = await pageFiles('early', 10);
    const g = streamRangeLocally(a.loc, 0, a.content.length);
    const first = await g.next();
    assert.equal(first.done, false);
    const copy = Buffer.from(first.value as Buffer);
    await g.return(0); // the consumer went away: the window's reads finish, then go back
    assert.deepEqual(copy, a.content.subarray(0, LARGE));
    assert.deepEqual(await drain(a.loc, 0, a.content.length), a.content);
    assert.deepEqual(first.value, a.content.subarray(0, LARGE), 'the chunk handed out was not reused');
  });

  test('the payload CRC is computed once per unchanged file; any write to the file checks it again', async () => {
    const { loc, content } = await pageFiles('crc', 1);
    const file = loc.files![0]!;
    const s0 = pageReadThread.stats();
    assert.deepEqual(await readPageFile(file, 0, LARGE), content);
    assert.deepEqual(await readPageFile(file, 0, LARGE), content);
    const s1 = pageReadThread.stats();
    assert.equal(s1.payloadChecks - s0.payloadChecks, 1, 'checked on the first read');
    assert.equal(s1.trusted - s0.trusted, 1, 'trusted on the second (same dev, ino, size, ctime, mtime)');
    // The header is still checked on a trusted read: another index is refused.
    assert.equal(await readPageFile(file, 1, LARGE), undefined);
    // Flipped in place (same inode, same size): the ctime moved, so the payload is checked again.
    const damaged = await readFile(file);
    damaged[32 + 1000] = damaged[32 + 1000]! ^ 0x01;
    await writeFile(file, damaged);
    assert.equal(await readPageFile(file, 0, LARGE), undefined, 'the flipped byte is caught');
    // Replaced by rename (a new inode) with good bytes: checked, then served.
    const good = Buffer.concat([encodePageHeader(0, content), content]);
    await writeFile(`${file}.tmp`, good);
    await rename(`${file}.tmp`, file);
    const s2 = pageReadThread.stats();
    assert.deepEqual(await readPageFile(file, 0, LARGE), content);
    assert.equal(pageReadThread.stats().payloadChecks - s2.payloadChecks, 1);
  });

  test('a range of a large page checked before reads its header and the range; damage anywhere is still caught', async () => {
    const { loc, content } = await pageFiles('ranged', 2);
    const file = loc.files![1]!;
    // Not checked yet: the whole page is read and its CRC computed, so damage outside the range counts.
    const good = await readFile(file);
    const damaged = Buffer.from(good);
    damaged[32 + LARGE - 1] = damaged[32 + LARGE - 1]! ^ 0x10;
    await writeFile(file, damaged);
    assert.equal(await readRangeLocally(loc, LARGE + 10, 4096), undefined, 'the whole page is checked first');
    await writeFile(file, good);
    const s0 = pageReadThread.stats();
    assert.deepEqual(
      await readRangeLocally(loc, LARGE + 10, 4096),
      content.subarray(LARGE + 10, LARGE + 4106),
    );
    assert.equal(pageReadThread.stats().payloadChecks - s0.payloadChecks, 1);
    // Checked and unchanged: ranges are served from the header and their own bytes.
    const s1 = pageReadThread.stats();
    assert.deepEqual(
      await readRangeLocally(loc, LARGE + 7777, 3),
      content.subarray(LARGE + 7777, LARGE + 7780),
    );
    assert.deepEqual(await readRangeLocally(loc, LARGE - 5, 10), content.subarray(LARGE - 5, LARGE + 5));
    assert.deepEqual(await readRangeLocally(loc, 2 * LARGE - 1, 1), content.subarray(-1));
    const s2 = pageReadThread.stats();
    assert.equal(s2.payloadChecks - s1.payloadChecks, 1, 'only page 0, new to this thread');
    assert.equal(s2.trusted - s1.trusted, 3);
    // A trusted file's header is still checked on a ranged read: another index is refused.
    assert.equal(await readPageFile(file, 0, LARGE, undefined, { from: 0, to: 10 }), undefined);
    // Damaged in place outside any range read later: the identity moved, the whole page is checked.
    await writeFile(file, damaged);
    assert.equal(await readRangeLocally(loc, LARGE + 10, 4096), undefined);
    // The header damaged: refused on a ranged read of a trusted file too.
    await writeFile(file, good);
    assert.ok(await readRangeLocally(loc, LARGE, 4096), 'checked again and trusted');
    const badHeader = await readFile(file);
    badHeader[8] = badHeader[8]! ^ 0x01; // the length field: the header CRC no longer matches
    await writeFile(file, badHeader);
    assert.equal(await readRangeLocally(loc, LARGE, 4096), undefined);
  });
});
