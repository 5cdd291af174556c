import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FileTable } from '../../src/cache/file-table.js';
import { TierIndex } from '../../src/cache/tier-index.js';

function pagesOf(t: TierIndex, files: FileTable, fileId: string): number[] {
  const file = files.find(fileId);
  return file < 0 ? [] : [...t.slotsOfFile(file)].map((s) => t.indexOf(s)).sort((a, b) => a - b);
}

describe('FileTable', () => {
  test('a fileId is one slot while referenced, forgotten with its last reference, and its slot reused', () => {
    const files = new FileTable();
    const a = files.acquire('aa');
    assert.equal(files.acquire('aa'), a);
    const b = files.acquire('bb');
    assert.notEqual(a, b);
    assert.equal(files.size, 2);
    files.release(a);
    assert.equal(files.find('aa'), a, 'one reference left');
    files.release(a);
    assert.equal(files.find('aa'), -1);
    assert.equal(files.find('bb'), b, 'other files stay findable after a deletion');
    assert.equal(files.acquire('cc'), a, 'the freed slot is reused');
    assert.deepEqual([...files.slots()].map((s) => files.name(s)).sort(), ['bb', 'cc']);
  });

  test('thousands of ids through growth and deletions stay findable (backward-shift deletion)', () => {
    const files = new FileTable();
    const n = 20_000;
    const slots = new Map<string, number>();
    for (let i = 0; i < n; i++) slots.set(`f${i}`, files.acquire(`f${i}`));
    for (let i = 0; i < n; i += 3) files.release(slots.get(`f${i}`)!);
    for (let i = 0; i < n; i++) assert.equal(files.find(`f${i}`), i % 3 === 0 ? -1 : slots.get(`f${i}`));
    assert.equal(files.size, n - Math.ceil(n / 3));
  });

  test('the id arena is compacted when most ids are freed: the rest keep their names', () => {
    const files = new FileTable();
    const slots: number[] = [];
    for (let i = 0; i < 5000; i++) slots.push(files.acquire(`file-${i}-${'x'.repeat(i % 40)}`));
    for (let i = 0; i < 5000; i++) if (i % 10 !== 0) files.release(slots[i]!);
    for (let i = 0; i < 5000; i += 10) {
      const id = `file-${i}-${'x'.repeat(i % 40)}`;
      assert.equal(files.find(id), slots[i]);
      assert.equal(files.name(slots[i]!), id);
    }
    assert.equal(files.find('file-1-x'), -1);
    assert.equal(files.size, 500);
  });
});

describe('TierIndex', () => {
  test('pages by (fileId, index), their bytes and the pages of a file; usedBytes is their sum', () => {
    const files = new FileTable();
    const t = new TierIndex('disk', 1000, 'LRU', files);
    t.add('f', 0, 10, { evictable: true, ready: true });
    t.add('f', 2 ** 40, 20, { evictable: true, ready: true });
    t.add('g', 0, 30, { evictable: false, ready: false });
    assert.equal(t.pages, 3);
    assert.equal(t.usedBytes, 60);
    assert.equal(t.evictableBytes, 30);
    assert.equal(t.bytesOf(t.find('f', 2 ** 40)), 20);
    assert.equal(t.find('f', 1), -1);
    assert.equal(t.find('h', 0), -1);
    assert.deepEqual(pagesOf(t, files, 'f'), [0, 2 ** 40]);
    assert.equal(t.isReady(t.find('g', 0)), false);
    t.add('f', 0, 15, { evictable: true, ready: true }); // replaces
    assert.equal(t.pages, 3);
    assert.equal(t.usedBytes, 65);
    assert.equal(t.remove('f', 2 ** 40), true);
    assert.equal(t.remove('f', 2 ** 40), false);
    assert.deepEqual(pagesOf(t, files, 'f'), [0]);
    t.remove('f', 0);
    assert.equal(files.find('f'), -1, 'the file goes with its last page');
    assert.equal(t.usedBytes, 30);
  });

  test('a ref is current until its page is removed or replaced, even when the slot is reused', () => {
    const files = new FileTable();
    const t = new TierIndex('disk', 1000, 'LRU', files);
    const ref = t.refOf(t.add('f', 0, 10, { evictable: true, ready: true }));
    assert.equal(t.isCurrent(ref), true);
    assert.deepEqual([ref.fileId, ref.index, ref.bytes], ['f', 0, 10]);
    t.add('f', 0, 10, { evictable: true, ready: true });
    assert.equal(t.isCurrent(ref), false, 'replaced by a new put of the same page');
    const again = t.ref('f', 0)!;
    assert.equal(again.slot, ref.slot, 'the freed slot was reused');
    t.removeSlot(again.slot);
    assert.equal(t.isCurrent(again), false);
  });

  test('eviction order, pins (not evictable) and canFit as pages come and go', () => {
    const files = new FileTable();
    const t = new TierIndex('disk', 30, 'LRU', files);
    const a = t.add('a', 0, 10, { evictable: true, ready: true });
    const b = t.add('b', 0, 10, { evictable: true, ready: true });
    t.add('c', 0, 10, { evictable: false, ready: true });
    t.touch(a);
    assert.equal(t.victim(), b);
    assert.deepEqual(
      [...t.coldestFirst()].map((s) => t.fileIdOf(s)),
      ['b', 'a', 'c'],
    );
    assert.equal(t.fits(1), false);
    assert.equal(t.canFit(20), true, 'a and b can go');
    assert.equal(t.canFit(21), false, 'c is pinned');
    assert.equal(t.canFit(20, b), true, 'replacing b frees its bytes too');
    assert.equal(t.canFit(21, b), false);
    t.setEvictable(a, false);
    assert.equal(t.victim(), b);
    t.removeSlot(b);
    assert.equal(t.victim(), -1);
    assert.equal(t.evictableBytes, 0);
  });

  test('100,000 pages over 10,000 files through growth, removals and reuse stay consistent', () => {
    const files = new FileTable();
    const t = new TierIndex('disk', 1e12, 'LFU', files);
    const files_ = 10_000;
    for (let i = 0; i < 100_000; i++)
      t.add(`f${i % files_}`, Math.floor(i / files_), 1 + (i % 7), { evictable: true, ready: true });
    let used = 0;
    for (let i = 0; i < 100_000; i++) used += 1 + (i % 7);
    assert.equal(t.usedBytes, used);
    // Drop every page of odd files, then page 3 of every file.
    for (let f = 1; f < files_; f += 2) for (let p = 0; p < 10; p++) assert.equal(t.remove(`f${f}`, p), true);
    for (let f = 0; f < files_; f += 2) t.remove(`f${f}`, 3);
    assert.equal(t.pages, (files_ / 2) * 9);
    assert.equal(files.size, files_ / 2);
    assert.deepEqual(pagesOf(t, files, 'f42'), [0, 1, 2, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(pagesOf(t, files, 'f43'), []);
    assert.equal([...t.coldestFirst()].length, t.pages);
    let sum = 0;
    for (const s of t.coldestFirst()) sum += t.bytesOf(s);
    assert.equal(sum, t.usedBytes);
    t.clear();
    assert.equal(t.pages, 0);
    assert.equal(t.usedBytes, 0);
    assert.equal(files.size, 0);
  });
});
