import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isStrataError } from '../../src/core/errors.js';
import { fileRecord } from '../../src/meta/contract.js';
import { LevelMetaStore } from '../../src/meta/level-meta-store.js';
import type { FileRecord } from '../../src/meta/meta-store.js';

const rec = fileRecord;

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

let base = '';
let n = 0;
async function freshStore(): Promise<LevelMetaStore> {
  const s = new LevelMetaStore(join(base, `db-${n++}`));
  await s.open();
  return s;
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'strata-meta-test-'));
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

/**
 * LevelMetaStore specifics. What every MetaStore must do (statuses, invalidate, deleteTree, listings,
 * attributes, peeks, the journal, persistence of attributes and journal) is the contract suite in
 * meta-store-contract.test.ts.
 */
describe('LevelMetaStore', () => {
  test('invalidate of a directory drops its own listing marker; its children keep their statuses', async () => {
    const s = await freshStore();
    try {
      await s.putListing('/p', [rec('/p/f'), rec('/p/g', { type: 'directory' })], 1);
      await s.putListing('/p/g', [rec('/p/g/h')], 1);
      await s.invalidate('/p/g');
      assert.equal(await s.getListing('/p/g'), undefined);
      assert.equal(await s.getStatus('/p/g'), undefined);
      assert.deepEqual(await s.getStatus('/p/g/h'), rec('/p/g/h'), 'only the marker goes');
    } finally {
      await s.close();
    }
  });

  test('stats() counts each kind; deleteTree("/") zeroes all but the journal; journal entries in id order', async () => {
    const s = await freshStore();
    try {
      await s.journalPut('0002', { op: 'put', path: '/b' });
      await s.journalPut('0001', { op: 'put', path: '/a' });
      assert.deepEqual(
        (await collect(s.journalEntries())).map(([id]) => id),
        ['0001', '0002'],
      );
      await s.journalDelete('0001');
      await s.putListing('/', [rec('/z')], 1);
      await s.putListing('/z', [rec('/z/1')], 1);
      await s.setAttrs('/z/1', { pinned: true });
      await s.setAttrs('/g', { pinned: true });
      assert.deepEqual(await s.stats(), { statuses: 2, listings: 2, attrs: 2, journal: 1 });
      await s.deleteAttrs('/g');
      assert.equal((await s.stats()).attrs, 1);
      await s.deleteTree('/');
      assert.deepEqual(await s.stats(), { statuses: 0, listings: 0, attrs: 0, journal: 1 });
    } finally {
      await s.close();
    }
  });

  test('peekStatus and peekAttrs answer from memory after a write or a read, null for a known absence', async () => {
    const s = await freshStore();
    try {
      assert.equal(s.peekStatus('/q'), undefined, 'nothing known before a read');
      assert.equal(await s.getStatus('/q'), undefined);
      assert.equal(s.peekStatus('/q'), undefined, 'a first read is not kept (admission)');
      assert.equal(await s.getStatus('/q'), undefined);
      assert.equal(s.peekStatus('/q'), null, 'a second read that missed is remembered');
      assert.equal(s.readStatus('/q'), undefined, 'readStatus answers a known absence without a promise');
      await s.putStatus(rec('/q'));
      assert.deepEqual(s.peekStatus('/q'), rec('/q'));
      assert.deepEqual(s.readStatus('/q'), rec('/q'), 'and a record in memory as is');
      const miss = s.readStatus('/never');
      assert.ok(miss instanceof Promise, 'a path only a read can tell about is read');
      assert.equal(await miss, undefined);
      await assert.rejects(
        Promise.resolve(s.readStatus('rel')),
        (err: unknown) => (err as { code?: unknown }).code === 'INVALID_PATH',
      );
      await s.setAttrs('/q', { pinned: true });
      assert.deepEqual(s.peekAttrs('/q'), { pinned: true });
      await s.deleteAttrs('/q');
      assert.equal(s.peekAttrs('/q'), null);
    } finally {
      await s.close();
    }
    assert.equal(s.peekStatus('/q'), undefined, 'a closed store knows nothing');
  });

  test('a streamed listing merge replaces records already in memory and leaves the rest to be read (no cache churn)', async () => {
    const s = await freshStore();
    try {
      await s.putStatus(rec('/m/hot', { size: 1 }));
      assert.deepEqual(s.peekStatus('/m/hot'), rec('/m/hot', { size: 1 }));
      const merged = [rec('/m/hot', { size: 2, syncedAtMs: 9 }), rec('/m/cold', { size: 3, syncedAtMs: 9 })];
      const changed = await s.mergeListingEntries('/m', merged);
      assert.deepEqual(
        changed?.map((r) => r.size),
        [1],
        'the changed record is reported with its old content',
      );
      assert.deepEqual(s.peekStatus('/m/hot'), merged[0], 'a record in memory is replaced in place');
      assert.equal(s.peekStatus('/m/cold'), undefined, 'a record not in memory is not put there');
      assert.deepEqual(await s.getStatus('/m/cold'), merged[1], 'it is read from the store');
    } finally {
      await s.close();
    }
  });

  test('attributes written before a reopen are found whether or not the attribute-key filter is filled yet; a file without any reads none', async () => {
    const dir = join(base, `db-${n++}`);
    const first = new LevelMetaStore(dir);
    await first.open();
    for (let i = 0; i < 1000; i++) await first.setAttrs(`/a/f${i}`, { ttlMs: 1000 + i });
    await first.close();
    const s = new LevelMetaStore(dir);
    await s.open();
    try {
      // Right after open (the scan may still run) and after it: never a false "absent".
      assert.deepEqual(await s.getAttrs('/a/f7'), { ttlMs: 1007 });
      assert.equal(await s.attrsFilterReady(), true);
      for (let i = 0; i < 1000; i++) assert.deepEqual(await s.getAttrs(`/a/f${i}`), { ttlMs: 1000 + i });
      assert.equal(s.peekAttrs('/a/none'), null, 'the filter knows it has no attributes, without a read');
      assert.equal(await s.getAttrs('/a/none'), undefined);
      await s.setAttrs('/a/new', { pinned: true });
      assert.deepEqual(await s.getAttrs('/a/new'), { pinned: true }, 'a key added after the scan');
    } finally {
      await s.close();
    }
  });

  test('statuses and listings survive close and reopen too; a closed store fails; a second opener is refused', async () => {
    const dir = join(base, 'reopen');
    const s1 = new LevelMetaStore(dir);
    await s1.open();
    await s1.putStatus(rec('/m/one'));
    await s1.putListing('/m', [rec('/m/one'), rec('/m/two')], 42);
    await s1.close();
    await assert.rejects(s1.getStatus('/m/one'), (e) => isStrataError(e));

    const s2 = new LevelMetaStore(dir);
    await s2.open();
    try {
      assert.deepEqual(await s2.getStatus('/m/one'), rec('/m/one'));
      assert.deepEqual(await s2.getListing('/m'), {
        syncedAtMs: 42,
        entries: [rec('/m/one'), rec('/m/two')],
      });
      const other = new LevelMetaStore(dir);
      await assert.rejects(
        other.open(),
        (e) => isStrataError(e, 'UNAVAILABLE'),
        'a second opener is refused',
      );
    } finally {
      await s2.close();
    }
  });

  test('a journal record survives SIGKILL right after journalPut', async () => {
    const dir = join(base, 'killed');
    const moduleUrl = new URL('../../src/meta/level-meta-store.js', import.meta.url).href;
    const script = `
      const { LevelMetaStore } = await import(${JSON.stringify(moduleUrl)});
      const s = new LevelMetaStore(${JSON.stringify(dir)});
      await s.open();
      await s.journalPut('w-1', { op: 'write', path: '/k/file', bytes: 123 });
      await s.setAttrs('/k/file', { persistence: 'TO_BE_PERSISTED' });
      process.stdout.write('done\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('done')) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => reject(new Error(`child exited before done: ${stderr}`)));
    });
    assert.equal(await exited, 'SIGKILL');

    const s = new LevelMetaStore(dir);
    await s.open();
    try {
      assert.deepEqual(await collect(s.journalEntries()), [
        ['w-1', { op: 'write', path: '/k/file', bytes: 123 }],
      ]);
      assert.deepEqual(await s.getAttrs('/k/file'), { persistence: 'TO_BE_PERSISTED' });
    } finally {
      await s.close();
    }
  });

  test('50,000 statuses and a 1,000-child listing round trip', async () => {
    const s = await freshStore();
    try {
      const all: FileRecord[] = [];
      for (let d = 0; d < 49; d++) {
        for (let i = 0; i < 1000; i++)
          all.push(rec(`/big/year=2024/d${d}/part-${String(i).padStart(5, '0')}.parquet`));
      }
      for (let i = 0; i < all.length; i += 1000)
        await Promise.all(all.slice(i, i + 1000).map((r) => s.putStatus(r)));

      const children: FileRecord[] = [];
      for (let i = 999; i >= 0; i--)
        children.push(rec(`/big/listed/f-${String(i).padStart(4, '0')}`, { size: i }));
      await s.putListing('/big/listed', children, 77);

      const listing = await s.getListing('/big/listed');
      assert.equal(listing?.entries.length, 1000);
      assert.deepEqual(
        listing?.entries,
        [...children].sort((a, b) => (a.path < b.path ? -1 : 1)),
      );
      assert.equal((await s.stats()).statuses, 50_000);
      for (const i of [0, 12_345, 48_999]) {
        const r = all[i] as FileRecord;
        assert.deepEqual(await s.getStatus(r.path), r);
      }
      assert.equal(await s.getListing('/big/year=2024/d3'), undefined, 'putStatus never marks a listing');
    } finally {
      await s.close();
    }
  });
});
