import assert from 'node:assert/strict';
import { unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { patternBytes } from '../../core/pattern-bytes.js';
import { expectCode, MIB, readAll, source } from './helpers.js';
import type { FsContractCase } from './types.js';

/** load, free, pin, TTL, du, report, and sources changed behind our back. */
export const CACHE_CASES: readonly FsContractCase[] = [
  {
    name: 'load makes a file fully cached (cachedPercent 100) and free drops it (cachedPercent 0), for a file and a tree',
    async run(ctx) {
      const { fs, dir } = ctx;
      const data = patternBytes(MIB + 100, 8);
      await fs.write(`${dir}/one.bin`, source(data), { writeType: 'THROUGH' });
      assert.equal((await fs.status(`${dir}/one.bin`)).cachedPercent, 0);
      assert.deepEqual(await fs.load(`${dir}/one.bin`), { files: 1, bytes: data.length });
      let st = await fs.status(`${dir}/one.bin`);
      assert.equal(st.cachedPercent, 100);
      assert.equal(st.cachedBytes, data.length);
      assert.deepEqual(await fs.free(`${dir}/one.bin`), { files: 1, bytes: data.length });
      st = await fs.status(`${dir}/one.bin`);
      assert.equal(st.cachedPercent, 0);
      assert.equal(st.cachedBytes, 0);
      assert.ok((await readAll(fs, `${dir}/one.bin`, { readType: 'NO_CACHE' })).equals(data));

      const tree = [`${dir}/t/a.bin`, `${dir}/t/b.bin`, `${dir}/t/sub/c.bin`, `${dir}/t/sub/d.bin`];
      for (const [i, p] of tree.entries())
        await fs.write(p, source(patternBytes(1000 * (i + 1), i)), { writeType: 'THROUGH' });
      assert.deepEqual(await fs.load(`${dir}/t`), { files: 4, bytes: 10_000 });
      for (const p of tree) assert.equal((await fs.status(p)).cachedPercent, 100, `${p} after load`);
      assert.deepEqual(
        (await fs.list(`${dir}/t`)).filter((e) => e.type === 'file').map((e) => e.cachedPercent),
        [100, 100],
        'listing after load',
      );
      assert.deepEqual(await fs.free(`${dir}/t`), { files: 4, bytes: 10_000 });
      for (const p of tree) assert.equal((await fs.status(p)).cachedPercent, 0, `${p} after free`);
    },
  },
  {
    name: 'pin and unpin show in status; free keeps a pinned file cached',
    async run(ctx) {
      const { fs, dir } = ctx;
      const p = `${dir}/pinned.bin`;
      await fs.write(p, source(patternBytes(50_000, 9)));
      await fs.pin(p, true);
      assert.equal((await fs.status(p)).pinned, true);
      await fs.free(p);
      assert.equal((await fs.status(p)).cachedPercent, 100, 'free dropped a pinned file');
      await fs.pin(p, false);
      assert.equal((await fs.status(p)).pinned, false);
      await fs.free(p);
      assert.equal((await fs.status(p)).cachedPercent, 0, 'free kept an unpinned file');
    },
  },
  {
    name: 'setTtl shows ttlMs and ttlAction in status (default action free); null removes them',
    async run(ctx) {
      const { fs, dir } = ctx;
      const p = `${dir}/ttl.txt`;
      await fs.write(p, source('ttl'));
      await fs.setTtl(p, 3_600_000, 'delete');
      let st = await fs.status(p);
      assert.equal(st.ttlMs, 3_600_000);
      assert.equal(st.ttlAction, 'delete');
      await fs.setTtl(p, 7_200_000);
      st = await fs.status(p);
      assert.equal(st.ttlMs, 7_200_000);
      assert.equal(st.ttlAction, 'free');
      await fs.setTtl(p, null);
      st = await fs.status(p);
      assert.equal(st.ttlMs, undefined);
      assert.equal(st.ttlAction, undefined);
      assert.equal((await readAll(fs, p)).toString(), 'ttl');
    },
  },
  {
    name: 'du counts the files, directories (itself included), bytes and cached bytes below a path',
    async run(ctx) {
      const { fs, dir } = ctx;
      const files: Array<[string, number]> = [
        ['a.bin', 1000],
        ['b.bin', 2000],
        ['sub/c.bin', 3000],
        ['sub/deeper/d.bin', 4000],
        ['sub2/e.bin', 5000],
      ];
      for (const [i, [n, size]] of files.entries())
        await fs.write(`${dir}/${n}`, source(patternBytes(size, i)), { writeType: 'THROUGH' });
      await fs.mkdir(`${dir}/empty`);
      assert.deepEqual(await fs.du(dir), { files: 5, directories: 5, bytes: 15_000, cachedBytes: 0 });
      await fs.load(`${dir}/sub/c.bin`);
      await fs.load(`${dir}/sub2/e.bin`);
      assert.deepEqual(await fs.du(dir), { files: 5, directories: 5, bytes: 15_000, cachedBytes: 8000 });
      assert.deepEqual(await fs.du(`${dir}/sub`), {
        files: 2,
        directories: 2,
        bytes: 7000,
        cachedBytes: 3000,
      });
      assert.deepEqual(await fs.du(`${dir}/b.bin`), {
        files: 1,
        directories: 0,
        bytes: 2000,
        cachedBytes: 0,
      });
      assert.deepEqual(await fs.du(`${dir}/empty`), { files: 0, directories: 1, bytes: 0, cachedBytes: 0 });
    },
  },
  {
    name: 'report lists the mounts and every worker',
    async run(ctx) {
      const { fs } = ctx;
      const report = await fs.report();
      assert.equal(typeof report.version, 'string');
      const points = report.mounts.map((m) => m.path);
      for (const p of [ctx.mount, ctx.otherMount, ctx.readOnlyMount])
        assert.ok(points.includes(p), `report() does not list ${p}: ${JSON.stringify(points)}`);
      assert.deepEqual(report.mounts, await fs.mounts());
      assert.equal(
        report.workers.length,
        ctx.target.workers,
        JSON.stringify(report.workers.map((w) => w.id)),
      );
      assert.equal(new Set(report.workers.map((w) => w.id)).size, report.workers.length, 'worker ids repeat');
      for (const w of report.workers) {
        assert.equal(w.state, 'ACTIVE', `${w.id}: state`);
        assert.ok(w.address.length > 0 && w.id.length > 0, 'worker without id or address');
        assert.ok(w.hitRatio >= 0 && w.hitRatio <= 1, `${w.id}: hit ratio ${w.hitRatio}`);
      }
      assert.ok(report.pendingPersists >= 0);
    },
  },
  {
    name: "a file changed in the store behind Strata's back is seen after a status with syncIntervalMs 0, never with its old bytes",
    needs: ['stores'],
    async run(ctx) {
      const { fs, dir, localDir } = ctx;
      const p = `${dir}/changing.bin`;
      const local = join(localDir, 'changing.bin');
      const v1 = patternBytes(MIB + 10, 31);
      await writeFile(local, v1);
      assert.equal((await fs.status(p, { syncIntervalMs: 0 })).size, v1.length);
      assert.ok((await readAll(fs, p)).equals(v1), 'v1');
      await fs.load(p);
      assert.equal((await fs.status(p)).cachedPercent, 100);

      // A new size.
      const v2 = patternBytes(MIB + 4000, 32);
      await writeFile(local, v2);
      const st2 = await fs.status(p, { syncIntervalMs: 0 });
      assert.equal(st2.size, v2.length);
      assert.ok((await readAll(fs, p)).equals(v2), 'old bytes after a change of size');
      assert.ok(
        (await readAll(fs, p, { offset: MIB - 10, length: 100 })).equals(v2.subarray(MIB - 10, MIB + 90)),
      );
      const listed = (await fs.list(dir, { syncIntervalMs: 0 })).find((e) => e.name === 'changing.bin');
      assert.equal(listed?.size, v2.length, 'listing shows the old size');

      // The same size, a different mtime (set explicitly: no waiting for the clock).
      await fs.load(p);
      const v3 = patternBytes(v2.length, 33);
      await writeFile(local, v3);
      const later = new Date(st2.mtimeMs + 10_000);
      await utimes(local, later, later);
      const st3 = await fs.status(p, { syncIntervalMs: 0 });
      assert.notEqual(st3.fingerprint, st2.fingerprint, 'fingerprint unchanged');
      assert.ok((await readAll(fs, p)).equals(v3), 'old bytes after a same-size change');

      // Gone from the store.
      await unlink(local);
      await expectCode('NOT_FOUND', 'status after the store lost the file', () =>
        fs.status(p, { syncIntervalMs: 0 }),
      );
      await expectCode('NOT_FOUND', 'read after the store lost the file', () => fs.read(p));
    },
  },
];

/** Each method given an already-aborted signal rejects with CANCELLED and does nothing. */
