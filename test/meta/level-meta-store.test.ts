import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isStrataError } from '../../src/core/errors.js';
import { LevelMetaStore } from '../../src/meta/level-meta-store.js';
import type { FileRecord } from '../../src/meta/meta-store.js';

function rec(path: string, extra: Partial<FileRecord> = {}): FileRecord {
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

function paths(entries: readonly FileRecord[]): string[] {
  return entries.map((e) => e.path);
}

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

describe('LevelMetaStore', () => {
  test('status put, get, overwrite and invalidate', async () => {
    const s = await freshStore();
    try {
      assert.equal(await s.getStatus('/x/y'), undefined);
      const r = rec('/x/y');
      await s.putStatus(r);
      assert.deepEqual(await s.getStatus('/x/y'), r);

      const dir: FileRecord = {
        path: '/x',
        type: 'directory',
        size: 0,
        mtimeMs: 5,
        fingerprint: '0:5:',
        syncedAtMs: 6,
      };
      await s.putStatus(dir);
      const got = await s.getStatus('/x');
      assert.deepEqual(got, dir);
      assert.equal(got !== undefined && 'etag' in got, false, 'absent etag stays absent');

      const root: FileRecord = {
        path: '/',
        type: 'directory',
        size: 0,
        mtimeMs: 1,
        fingerprint: 'r',
        syncedAtMs: 2,
      };
      await s.putStatus(root);
      assert.deepEqual(await s.getStatus('/'), root);

      const staged = rec('/x/staged', { cacheId: 'c-123', staging: '/var/strata/staging/abc' });
      await s.putStatus(staged);
      assert.deepEqual(await s.getStatus('/x/staged'), staged, 'cacheId and staging are stored as given');

      await s.putStatus(rec('/x/y', { size: 99, fingerprint: 'new' }));
      assert.equal((await s.getStatus('/x/y'))?.size, 99);

      await s.invalidate('/x/y');
      assert.equal(await s.getStatus('/x/y'), undefined);
      assert.deepEqual(await s.getStatus('/x'), dir, 'siblings and parent untouched');
      await assert.rejects(s.getStatus('relative'), (e) => isStrataError(e, 'INVALID_PATH'));
    } finally {
      await s.close();
    }
  });

  test('putListing replaces old children; getListing needs a marker and is sorted', async () => {
    const s = await freshStore();
    try {
      await s.putStatus(rec('/d/a'));
      assert.equal(await s.getListing('/d'), undefined, 'statuses alone are not a complete listing');

      await s.putListing('/d', [rec('/d/c'), rec('/d/a'), rec('/d/b')], 100);
      const l1 = await s.getListing('/d');
      assert.equal(l1?.syncedAtMs, 100);
      assert.deepEqual(paths(l1?.entries ?? []), ['/d/a', '/d/b', '/d/c']);
      assert.deepEqual(l1?.entries[1], rec('/d/b'));

      await s.putListing('/d', [rec('/d/c', { size: 7 }), rec('/d/e')], 200);
      const l2 = await s.getListing('/d');
      assert.equal(l2?.syncedAtMs, 200);
      assert.deepEqual(paths(l2?.entries ?? []), ['/d/c', '/d/e']);
      assert.equal(l2?.entries[0]?.size, 7);
      assert.equal(await s.getStatus('/d/a'), undefined, 'removed child is gone as a status too');

      await s.putListing('/d', [], 300);
      assert.deepEqual(await s.getListing('/d'), { syncedAtMs: 300, entries: [] }, 'empty directory listing');

      await s.putListing('/', [rec('/top', { type: 'directory' })], 5);
      await s.putStatus({
        path: '/',
        type: 'directory',
        size: 0,
        mtimeMs: 0,
        fingerprint: 'r',
        syncedAtMs: 0,
      });
      assert.deepEqual(
        paths((await s.getListing('/'))?.entries ?? []),
        ['/top'],
        'root status is not its own child',
      );

      await assert.rejects(s.putListing('/d', [rec('/d/x/y')], 1), (e) =>
        isStrataError(e, 'INVALID_ARGUMENT'),
      );
      await assert.rejects(s.putListing('/d', [rec('/other')], 1), (e) =>
        isStrataError(e, 'INVALID_ARGUMENT'),
      );
    } finally {
      await s.close();
    }
  });

  test('/a, /ab, /a-b and /a/b never mix in listings or deleteTree', async () => {
    const s = await freshStore();
    try {
      await s.putListing('/', [rec('/a'), rec('/a-b'), rec('/ab')], 1);
      await s.putListing('/a', [rec('/a/b'), rec('/a/c')], 1);
      await s.putListing('/ab', [rec('/ab/x')], 1);
      await s.putListing('/a-b', [rec('/a-b/y')], 1);
      await s.putListing('/a/b', [rec('/a/b/z')], 1);
      await s.setAttrs('/a/b/z', { pinned: true });
      await s.setAttrs('/ab/x', { pinned: true });
      await s.setAttrs('/a-b', { pinned: true });
      await s.setAttrs('/a', { ttlMs: 5 });

      assert.deepEqual(paths((await s.getListing('/a'))?.entries ?? []), ['/a/b', '/a/c']);
      assert.deepEqual(paths((await s.getListing('/ab'))?.entries ?? []), ['/ab/x']);
      assert.deepEqual(paths((await s.getListing('/a-b'))?.entries ?? []), ['/a-b/y']);
      assert.deepEqual(paths((await s.getListing('/'))?.entries ?? []), ['/a', '/a-b', '/ab']);

      await s.deleteTree('/a');
      assert.equal(await s.getListing('/a'), undefined);
      assert.equal(await s.getListing('/a/b'), undefined);
      assert.equal(await s.getStatus('/a'), undefined);
      assert.equal(await s.getStatus('/a/b'), undefined);
      assert.equal(await s.getStatus('/a/b/z'), undefined);
      assert.equal(await s.getAttrs('/a'), undefined);
      assert.equal(await s.getAttrs('/a/b/z'), undefined);
      assert.equal(await s.getListing('/'), undefined, "parent's listing is no longer complete");

      assert.deepEqual(paths((await s.getListing('/ab'))?.entries ?? []), ['/ab/x']);
      assert.deepEqual(paths((await s.getListing('/a-b'))?.entries ?? []), ['/a-b/y']);
      assert.ok(await s.getStatus('/ab'));
      assert.ok(await s.getStatus('/a-b'));
      assert.deepEqual(await s.getAttrs('/ab/x'), { pinned: true });
      assert.deepEqual(await s.getAttrs('/a-b'), { pinned: true });
      assert.deepEqual((await collect(s.allAttrs())).map(([p]) => p).sort(), ['/a-b', '/ab/x']);
    } finally {
      await s.close();
    }
  });

  test('invalidate drops the parent listing marker and a directory its own', async () => {
    const s = await freshStore();
    try {
      await s.putListing('/p', [rec('/p/f'), rec('/p/g', { type: 'directory' })], 1);
      await s.putListing('/p/g', [rec('/p/g/h')], 1);

      await s.invalidate('/p/f');
      assert.equal(await s.getListing('/p'), undefined);
      assert.equal(await s.getStatus('/p/f'), undefined);
      assert.ok(await s.getStatus('/p/g'), 'sibling status survives');
      assert.ok(await s.getListing('/p/g'), 'sibling directory listing survives');

      await s.invalidate('/p/g');
      assert.equal(await s.getListing('/p/g'), undefined);
      assert.ok(await s.getStatus('/p/g/h'), 'children statuses stay cached, only the marker goes');
    } finally {
      await s.close();
    }
  });

  test('attrs merge, removal and empty result deletes', async () => {
    const s = await freshStore();
    try {
      assert.equal(await s.getAttrs('/f'), undefined);
      assert.deepEqual(await s.setAttrs('/f', { pinned: true }), { pinned: true });
      assert.deepEqual(await s.setAttrs('/f', { ttlMs: 1000, ttlAction: 'free', ttlStartMs: 5 }), {
        pinned: true,
        ttlMs: 1000,
        ttlAction: 'free',
        ttlStartMs: 5,
      });
      assert.deepEqual(await s.setAttrs('/f', { pinned: undefined, persistence: 'TO_BE_PERSISTED' }), {
        ttlMs: 1000,
        ttlAction: 'free',
        ttlStartMs: 5,
        persistence: 'TO_BE_PERSISTED',
      });
      assert.deepEqual(await s.getAttrs('/f'), {
        ttlMs: 1000,
        ttlAction: 'free',
        ttlStartMs: 5,
        persistence: 'TO_BE_PERSISTED',
      });
      await s.setAttrs('/g', { pinned: true });
      assert.equal((await s.stats()).attrs, 2);

      const cleared = await s.setAttrs('/f', {
        ttlMs: undefined,
        ttlAction: undefined,
        ttlStartMs: undefined,
        persistence: undefined,
      });
      assert.deepEqual(cleared, {});
      assert.equal(await s.getAttrs('/f'), undefined, 'empty attrs delete the key');
      assert.deepEqual(await collect(s.allAttrs()), [['/g', { pinned: true }]]);

      await s.deleteAttrs('/g');
      assert.equal(await s.getAttrs('/g'), undefined);
      assert.equal((await s.stats()).attrs, 0);

      // Concurrent merges on one path are serialised, none lost.
      await Promise.all([
        s.setAttrs('/h', { pinned: true }),
        s.setAttrs('/h', { ttlMs: 9 }),
        s.setAttrs('/h', { ttlStartMs: 1 }),
      ]);
      assert.deepEqual(await s.getAttrs('/h'), { pinned: true, ttlMs: 9, ttlStartMs: 1 });
    } finally {
      await s.close();
    }
  });

  test('journal put, list, delete; deleteTree("/") keeps the journal', async () => {
    const s = await freshStore();
    try {
      await s.journalPut('0002', { op: 'put', path: '/b' });
      await s.journalPut('0001', { op: 'put', path: '/a', n: [1, 2] });
      assert.deepEqual(await collect(s.journalEntries()), [
        ['0001', { op: 'put', path: '/a', n: [1, 2] }],
        ['0002', { op: 'put', path: '/b' }],
      ]);
      await s.journalDelete('0001');
      assert.deepEqual(await collect(s.journalEntries()), [['0002', { op: 'put', path: '/b' }]]);

      await s.putListing('/', [rec('/z')], 1);
      await s.putListing('/z', [rec('/z/1')], 1);
      await s.setAttrs('/z/1', { pinned: true });
      assert.deepEqual(await s.stats(), { statuses: 2, listings: 2, attrs: 1, journal: 1 });
      await s.deleteTree('/');
      assert.deepEqual(await s.stats(), { statuses: 0, listings: 0, attrs: 0, journal: 1 });
      assert.deepEqual(await collect(s.journalEntries()), [['0002', { op: 'put', path: '/b' }]]);
    } finally {
      await s.close();
    }
  });

  test('everything survives close and reopen', async () => {
    const dir = join(base, 'reopen');
    const s1 = new LevelMetaStore(dir);
    await s1.open();
    await s1.putStatus(rec('/m/one'));
    await s1.putListing('/m', [rec('/m/one'), rec('/m/two')], 42);
    await s1.setAttrs('/m/two', { pinned: true, ttlMs: 10 });
    await s1.journalPut('j1', { op: 'x' });
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
      assert.deepEqual(await s2.getAttrs('/m/two'), { pinned: true, ttlMs: 10 });
      assert.deepEqual(await collect(s2.journalEntries()), [['j1', { op: 'x' }]]);

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
