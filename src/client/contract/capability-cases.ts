import assert from 'node:assert/strict';
import { MAX_READ_BUFFER } from '../../core/file-system.js';
import { patternBytes } from '../../core/pattern-bytes.js';
import { expectCode, MIB, readAll, source } from './helpers.js';
import type { FsContractCase } from './types.js';

/** The optional capability methods agree with the core API. */
export const CAPABILITY_CASES: readonly FsContractCase[] = [
  {
    name: 'readBuffer returns the same bytes as read() for the same range; over MAX_READ_BUFFER is INVALID_ARGUMENT',
    needs: ['readBuffer'],
    async run({ fs, dir }) {
      const readBuffer = fs.readBuffer!.bind(fs);
      const data = patternBytes(MIB + 4321, 41);
      const p = `${dir}/rb.bin`;
      await fs.write(p, source(data), { writeType: 'THROUGH' });
      const ranges: Array<[number, number]> = [
        [0, 100],
        [MIB - 50, 100],
        [0, MAX_READ_BUFFER],
        [data.length - 10, 100],
        [data.length, 10],
        [5, 0],
      ];
      for (const pass of ['cold', 'warm']) {
        for (const [offset, length] of ranges) {
          const got = await readBuffer(p, { offset, length });
          const viaRead = await readAll(fs, p, { offset, length });
          assert.ok(got.equals(viaRead), `${pass} ${offset}+${length}: readBuffer differs from read()`);
          assert.ok(
            got.equals(data.subarray(offset, offset + length)),
            `${pass} ${offset}+${length}: wrong bytes`,
          );
        }
      }
      await expectCode('INVALID_ARGUMENT', 'readBuffer over the limit', () =>
        readBuffer(p, { length: MAX_READ_BUFFER + 1 }),
      );
      await expectCode('INVALID_RANGE', 'readBuffer past the end', () =>
        readBuffer(p, { offset: data.length + 1, length: 1 }),
      );
      await expectCode('NOT_FOUND', 'readBuffer of a missing file', () =>
        readBuffer(`${dir}/missing`, { length: 1 }),
      );
      await expectCode('IS_A_DIRECTORY', 'readBuffer of a directory', () => readBuffer(dir, { length: 1 }));
    },
  },
  {
    name: 'peekFile answers only with what status() and read() answer, and nothing for missing, large or uncached files',
    needs: ['peekFile'],
    async run({ fs, dir }) {
      const peek = fs.peekFile!.bind(fs);
      const data = patternBytes(5000, 42);
      const p = `${dir}/peek.bin`;
      await fs.write(p, source(data), { writeType: 'THROUGH' });
      assert.equal(peek(`${dir}/missing`, 10_000), undefined, 'peeked a missing file');
      assert.equal(peek(dir, 10_000), undefined, 'peeked a directory');
      assert.equal(peek(`${dir}/../x`, 10_000), undefined, 'peeked an invalid path');
      const cold = peek(p, 10_000);
      if (cold !== undefined) assert.ok(cold.data.equals(data), 'peeked other bytes before loading');
      await fs.load(p);
      await fs.status(p);
      assert.equal(peek(p, data.length - 1), undefined, 'peeked a file larger than maxBytes');
      const warm = peek(p, 10_000);
      if (warm !== undefined) {
        assert.ok(warm.data.equals(data), 'peeked other bytes than read()');
        assert.deepEqual(warm.info, await fs.status(p), 'peeked info differs from status()');
      }
      await fs.write(p, source('changed'), { writeType: 'THROUGH' });
      const after = peek(p, 10_000);
      if (after !== undefined)
        assert.equal(after.data.toString(), 'changed', 'peeked the bytes before an overwrite');
    },
  },
  {
    name: 'cachedBytesOf agrees with status().cachedBytes; other fingerprints and unknown paths are 0',
    needs: ['cachedBytesOf'],
    async run({ fs, dir }) {
      const cachedBytesOf = fs.cachedBytesOf!.bind(fs);
      const cached = await fs.write(`${dir}/cached.bin`, source(patternBytes(200_000, 43)));
      const cold = await fs.write(`${dir}/cold.bin`, source(patternBytes(100_000, 44)), {
        writeType: 'THROUGH',
      });
      const got = await cachedBytesOf([
        { path: cached.path, fingerprint: cached.fingerprint },
        { path: cold.path, fingerprint: cold.fingerprint },
        { path: cached.path, fingerprint: `${cached.fingerprint}-other` },
        { path: `${dir}/missing`, fingerprint: 'x' },
      ]);
      assert.deepEqual(got, [
        (await fs.status(cached.path)).cachedBytes,
        (await fs.status(cold.path)).cachedBytes,
        0,
        0,
      ]);
      assert.equal(got[0], 200_000);
      assert.equal(got[1], 0);
      assert.deepEqual(await cachedBytesOf([]), []);
    },
  },
  {
    name: 'location names workers of report(), primary first, the same for the same path',
    needs: ['location'],
    async run({ fs, dir }) {
      const location = fs.location!.bind(fs);
      const ids = new Set((await fs.report()).workers.map((w) => w.id));
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const p = `${dir}/f${i}`;
        const owners = location(p);
        assert.ok(owners.length >= 1, `${p} has no owner`);
        assert.equal(new Set(owners.map((o) => o.id)).size, owners.length, `${p}: an owner repeats`);
        for (const o of owners) assert.ok(ids.has(o.id), `${p}: owner ${o.id} is not in report()`);
        assert.deepEqual(location(p), owners, `${p}: owners changed between two calls`);
        seen.add(owners[0]!.id);
      }
      if (ids.size > 1) assert.ok(seen.size > 1, 'every path has the same primary');
    },
  },
];
