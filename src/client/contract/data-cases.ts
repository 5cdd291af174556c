import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WRITE_TYPES } from '../../core/file-system.js';
import { patternBytes } from '../../core/pattern-bytes.js';
import { compareUtf8 } from '../../core/utf8-order.js';
import { eventually, expectCode, MIB, names, readAll, source } from './helpers.js';
import type { FsContractCase } from './types.js';

/** Writes of every write type and ranged reads. */
export const WRITE_CASES: readonly FsContractCase[] = [
  {
    name: 'write then read returns the same bytes (default write type CACHE_THROUGH: in the store and fully cached)',
    async run(ctx) {
      const { fs, dir } = ctx;
      const data = patternBytes(2 * MIB + 513, 1);
      const info = await fs.write(`${dir}/f.bin`, source(data));
      assert.equal(info.type, 'file');
      assert.equal(info.path, `${dir}/f.bin`);
      assert.equal(info.name, 'f.bin');
      assert.equal(info.size, data.length);
      assert.ok((await readAll(fs, `${dir}/f.bin`)).equals(data), 'bytes read back differ');
      const st = await fs.status(`${dir}/f.bin`);
      assert.equal(st.size, data.length);
      assert.equal(st.fingerprint, info.fingerprint, 'status fingerprint differs from what write returned');
      assert.equal(st.persistence, 'PERSISTED');
      assert.equal(st.cachedPercent, 100, 'CACHE_THROUGH leaves the file cached');
      assert.equal(st.cachedBytes, data.length);
      if (ctx.target.servesStores)
        assert.ok((await readFile(join(ctx.localDir, 'f.bin'))).equals(data), 'the store holds other bytes');
    },
  },
  {
    name: 'write THROUGH then read returns the same bytes; the store has them and nothing is cached',
    async run(ctx) {
      const { fs, dir } = ctx;
      const data = patternBytes(MIB + 17, 2);
      const info = await fs.write(`${dir}/t.bin`, source(data), { writeType: 'THROUGH' });
      assert.equal(info.size, data.length);
      const st = await fs.status(`${dir}/t.bin`);
      assert.equal(st.persistence, 'PERSISTED');
      assert.equal(st.cachedBytes, 0, 'THROUGH does not cache');
      assert.equal(st.cachedPercent, 0);
      if (ctx.target.servesStores)
        assert.ok((await readFile(join(ctx.localDir, 't.bin'))).equals(data), 'the store holds other bytes');
      assert.ok((await readAll(fs, `${dir}/t.bin`)).equals(data), 'bytes read back differ');
    },
  },
  {
    name: 'write MUST_CACHE then read returns the same bytes; the file is cached, NOT_PERSISTED and not in the store',
    async run(ctx) {
      const { fs, dir } = ctx;
      const data = patternBytes(MIB + 5, 3);
      const info = await fs.write(`${dir}/m.bin`, source(data), { writeType: 'MUST_CACHE' });
      assert.equal(info.size, data.length);
      assert.equal(info.persistence, 'NOT_PERSISTED');
      assert.ok((await readAll(fs, `${dir}/m.bin`)).equals(data), 'bytes read back differ');
      const st = await fs.status(`${dir}/m.bin`);
      assert.equal(st.size, data.length);
      assert.equal(st.persistence, 'NOT_PERSISTED');
      assert.equal(st.cachedPercent, 100);
      if (ctx.target.servesStores) {
        const inStore = await stat(join(ctx.localDir, 'm.bin')).then(
          () => true,
          () => false,
        );
        assert.ok(!inStore, 'a MUST_CACHE file reached the store');
      }
    },
  },
  {
    name: 'write ASYNC_THROUGH then read returns the same bytes at once, and the file is persisted to the store',
    async run(ctx) {
      const { fs, dir } = ctx;
      const data = patternBytes(MIB + 9, 4);
      const info = await fs.write(`${dir}/a.bin`, source(data), { writeType: 'ASYNC_THROUGH' });
      assert.equal(info.size, data.length);
      assert.ok(
        info.persistence === 'TO_BE_PERSISTED' || info.persistence === 'PERSISTED',
        `persistence ${info.persistence}`,
      );
      assert.ok((await readAll(fs, `${dir}/a.bin`)).equals(data), 'bytes read back differ');
      await eventually(
        'the file is PERSISTED',
        async () => (await fs.status(`${dir}/a.bin`)).persistence === 'PERSISTED',
      );
      if (ctx.target.servesStores)
        assert.ok((await readFile(join(ctx.localDir, 'a.bin'))).equals(data), 'the store holds other bytes');
      assert.ok((await readAll(fs, `${dir}/a.bin`)).equals(data), 'bytes read back after persisting differ');
      assert.equal((await fs.status(`${dir}/a.bin`)).size, data.length);
    },
  },
  {
    name: 'overwriting a file replaces its bytes, size and fingerprint (every write type)',
    async run(ctx) {
      const { fs, dir } = ctx;
      for (const [i, writeType] of WRITE_TYPES.entries()) {
        const p = `${dir}/over-${writeType}.bin`;
        const first = await fs.write(p, source(patternBytes(1000 + i, 10 + i)), { writeType });
        const second = patternBytes(3000 + i, 20 + i);
        const info = await fs.write(p, source(second), { writeType });
        assert.equal(info.size, second.length, `${writeType}: size returned by the overwrite`);
        assert.notEqual(info.fingerprint, first.fingerprint, `${writeType}: fingerprint unchanged`);
        assert.equal((await fs.status(p)).size, second.length, `${writeType}: status size`);
        assert.ok((await readAll(fs, p)).equals(second), `${writeType}: old bytes after the overwrite`);
      }
    },
  },
  {
    name: 'write creates missing parent directories',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.write(`${dir}/x/y/z.txt`, source('deep'));
      assert.equal((await fs.status(`${dir}/x/y`)).type, 'directory');
      assert.equal((await readAll(fs, `${dir}/x/y/z.txt`)).toString(), 'deep');
    },
  },
  {
    name: 'files of every write type show in their parent listing right after the write',
    async run(ctx) {
      const { fs, dir } = ctx;
      const expected: string[] = [];
      // Several files per type, so in a cluster some live on other workers than the directory.
      for (const writeType of WRITE_TYPES) {
        for (let i = 0; i < 4; i++) {
          const name = `${writeType.toLowerCase()}-${i}.txt`;
          await fs.write(`${dir}/${name}`, source(name), { writeType });
          expected.push(name);
        }
      }
      const listed = await fs.list(dir);
      assert.deepEqual(names(listed), [...expected].sort(compareUtf8));
      for (const e of listed) assert.equal(e.size, e.name.length, `${e.name}: listed size`);
    },
  },
];

export const READ_CASES: readonly FsContractCase[] = [
  {
    name: 'ranged reads return exactly the requested bytes (offset/length, across pages, clipped at the end)',
    async run(ctx) {
      const { fs, dir } = ctx;
      const data = patternBytes(2 * MIB + 333, 5);
      const p = `${dir}/r.bin`;
      await fs.write(p, source(data), { writeType: 'THROUGH' });
      const ranges: Array<[number, number | undefined]> = [
        [0, 10],
        [MIB - 5, 10],
        [MIB - 1, MIB + 2],
        [2 * MIB + 3, MIB],
        [data.length - 7, undefined],
        [data.length - 7, 1000],
        [123, 0],
        [0, undefined],
        [77, undefined],
      ];
      // Twice: the first pass reads the store, the second the pages the first one cached.
      for (const pass of ['cold', 'warm']) {
        for (const [offset, length] of ranges) {
          const got = await readAll(fs, p, length === undefined ? { offset } : { offset, length });
          const end = length === undefined ? data.length : Math.min(data.length, offset + length);
          assert.ok(
            got.equals(data.subarray(offset, end)),
            `${pass} range ${offset}+${length}: got ${got.length} bytes, wrong content`,
          );
        }
      }
    },
  },
  {
    name: 'a read at offset = size is empty, offset > size is INVALID_RANGE (also for an empty file)',
    async run(ctx) {
      const { fs, dir } = ctx;
      const data = patternBytes(4096, 6);
      await fs.write(`${dir}/s.bin`, source(data));
      assert.equal((await readAll(fs, `${dir}/s.bin`, { offset: data.length })).length, 0);
      assert.equal((await readAll(fs, `${dir}/s.bin`, { offset: data.length, length: 5 })).length, 0);
      await expectCode('INVALID_RANGE', 'read at size + 1', () =>
        fs.read(`${dir}/s.bin`, { offset: data.length + 1 }),
      );
      const empty = await fs.write(`${dir}/empty`, source(Buffer.alloc(0)));
      assert.equal(empty.size, 0);
      const st = await fs.status(`${dir}/empty`);
      assert.equal(st.type, 'file');
      assert.equal(st.size, 0);
      assert.equal(st.cachedPercent, 100, 'an empty file is all cached');
      assert.equal((await readAll(fs, `${dir}/empty`)).length, 0);
      assert.equal((await readAll(fs, `${dir}/empty`, { offset: 0, length: 10 })).length, 0);
      await expectCode('INVALID_RANGE', 'read of an empty file at 1', () =>
        fs.read(`${dir}/empty`, { offset: 1 }),
      );
    },
  },
];
