import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodePageHeader, PAGE_FLAG_SEALED } from '../../src/cache/page-file.js';
import { PageSealer } from '../../src/cache/page-seal.js';
import { TieredPageStore } from '../../src/cache/tiered-page-store.js';
import { readPageFile, readRangeLocally, streamRangeLocally } from '../../src/client/short-circuit-reader.js';
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
