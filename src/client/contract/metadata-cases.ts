import assert from 'node:assert/strict';
import { compareUtf8 } from '../../core/utf8-order.js';
import { exists, expectCode, names, readAll, source } from './helpers.js';
import type { FsContractCase } from './types.js';

/** Status, listings, mkdir, delete and rename. */
export const METADATA_CASES: readonly FsContractCase[] = [
  {
    name: 'status of a file reports its path, name, type, size, mtime, fingerprint and mount',
    async run(ctx) {
      const { fs, dir } = ctx;
      const before = Date.now();
      await fs.write(`${dir}/st.txt`, source('twelve bytes'));
      const st = await fs.status(`${dir}/st.txt`);
      assert.equal(st.path, `${dir}/st.txt`);
      assert.equal(st.name, 'st.txt');
      assert.equal(st.type, 'file');
      assert.equal(st.size, 12);
      assert.equal(st.mount, ctx.mount);
      assert.equal(st.pinned, false);
      assert.equal(st.ttlMs, undefined);
      assert.ok(typeof st.fingerprint === 'string' && st.fingerprint.length > 0, 'no fingerprint');
      // Store clocks may be coarse (seconds): only check the mtime is about now.
      assert.ok(Math.abs(st.mtimeMs - before) < 60_000, `mtime ${st.mtimeMs} is not about now (${before})`);
      // A trailing slash names the same path.
      assert.equal((await fs.status(`${dir}/st.txt/`)).path, `${dir}/st.txt`);
    },
  },
  {
    name: 'status of a directory, a mount point and "/" reports a directory',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.mkdir(`${dir}/sub`);
      const d = await fs.status(`${dir}/sub`);
      assert.equal(d.type, 'directory');
      assert.equal(d.path, `${dir}/sub`);
      assert.equal(d.name, 'sub');
      assert.equal(d.mount, ctx.mount);
      const m = await fs.status(ctx.mount);
      assert.equal(m.type, 'directory');
      assert.equal(m.path, ctx.mount);
      assert.equal(m.mount, ctx.mount, 'a mount point belongs to its own mount');
      const root = await fs.status('/');
      assert.equal(root.type, 'directory');
      assert.equal(root.path, '/');
    },
  },
  {
    name: 'list returns the direct children sorted by path, with their types and sizes',
    async run(ctx) {
      const { fs, dir } = ctx;
      for (const n of ['b.txt', 'a.txt', 'A.txt', 'a-b', 'c d.txt']) await fs.write(`${dir}/${n}`, source(n));
      await fs.write(`${dir}/sub/inner.txt`, source('not a direct child'));
      await fs.mkdir(`${dir}/empty-dir`);
      const listed = await fs.list(dir);
      assert.deepEqual(names(listed), ['A.txt', 'a-b', 'a.txt', 'b.txt', 'c d.txt', 'empty-dir', 'sub']);
      for (const e of listed) {
        assert.equal(e.path, `${dir}/${e.name}`);
        assert.equal(e.mount, ctx.mount, `${e.name}: mount`);
        if (e.name === 'sub' || e.name === 'empty-dir') assert.equal(e.type, 'directory', e.name);
        else {
          assert.equal(e.type, 'file', e.name);
          assert.equal(e.size, Buffer.byteLength(e.name), `${e.name}: size`);
        }
      }
      assert.deepEqual(await fs.list(`${dir}/empty-dir`), []);
    },
  },
  {
    name: 'list sorts names in code point (UTF-8 byte) order, also while a file is not yet persisted',
    async run(ctx) {
      const { fs, dir } = ctx;
      // '\uFFFD' < '\u{1F600}' by code point, but not by UTF-16 code unit ('<').
      const all = ['b', '\u{1F600}', '\uFFFD', 'a', 'ä', 'B'];
      for (const n of all) await fs.write(`${dir}/${n}`, source(n));
      const expected = [...all].sort(compareUtf8);
      assert.deepEqual(names(await fs.list(dir)), expected, 'order of a stored listing');
      await fs.write(`${dir}/staged`, source('staged'), { writeType: 'MUST_CACHE' });
      assert.deepEqual(
        names(await fs.list(dir)),
        [...expected, 'staged'].sort(compareUtf8),
        'order with a file not yet persisted',
      );
    },
  },
  {
    name: 'list of an unchanged directory returns equal arrays, and an array handed out twice is frozen',
    async run(ctx) {
      const { fs, dir } = ctx;
      for (let i = 0; i < 5; i++) await fs.write(`${dir}/f${i}`, source(`file ${i}`));
      await fs.mkdir(`${dir}/d`);
      const first = await fs.list(dir);
      const copy = JSON.parse(JSON.stringify(first)) as unknown;
      const second = await fs.list(dir);
      assert.deepEqual(second, first);
      // The array may be shared with every caller: if it is, nobody may be able to change it.
      if (second === first) assert.ok(Object.isFrozen(first), 'a shared listing array is not frozen');
      assert.deepEqual(JSON.parse(JSON.stringify(await fs.list(dir))), copy);
    },
  },
  {
    name: 'list of a directory shows the mount points below it as directories',
    async run(ctx) {
      const { fs } = ctx;
      const top = await fs.list('/');
      const entry = top.find((e) => e.path === ctx.mount);
      assert.ok(entry, `${ctx.mount} is not listed in "/": ${JSON.stringify(top.map((e) => e.path))}`);
      assert.equal(entry.type, 'directory');
      assert.ok(
        top.some((e) => e.path === ctx.otherMount),
        `${ctx.otherMount} is not listed in "/"`,
      );
    },
  },
  {
    name: "a written, deleted or renamed file shows in its parent's next listing (also after the parent was listed)",
    async run(ctx) {
      const { fs, dir } = ctx;
      assert.deepEqual(await fs.list(dir), []);
      // One change at a time, each followed by a listing: in a cluster the files live on
      // different workers than their directory.
      const files = Array.from({ length: 6 }, (_, i) => `n${i}.txt`);
      const expected: string[] = [];
      for (const n of files) {
        await fs.write(`${dir}/${n}`, source(n));
        expected.push(n);
        assert.deepEqual(names(await fs.list(dir)), expected, `after writing ${n}`);
      }
      for (const n of files.slice(0, 3)) {
        await fs.delete(`${dir}/${n}`);
        expected.shift();
        assert.deepEqual(names(await fs.list(dir)), expected, `after deleting ${n}`);
      }
      for (const n of files.slice(3)) {
        await fs.rename(`${dir}/${n}`, `${dir}/r-${n}`);
        expected.shift();
        expected.push(`r-${n}`);
        assert.deepEqual(names(await fs.list(dir)), expected, `after renaming ${n}`);
      }
    },
  },
  {
    name: 'mkdir makes missing parents and is idempotent; onto a file it is ALREADY_EXISTS, below a file NOT_A_DIRECTORY',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.mkdir(`${dir}/a/b/c`);
      await fs.mkdir(`${dir}/a/b/c`);
      assert.equal((await fs.status(`${dir}/a/b`)).type, 'directory');
      assert.equal((await fs.status(`${dir}/a/b/c`)).type, 'directory');
      assert.deepEqual(names(await fs.list(`${dir}/a`)), ['b']);
      await fs.write(`${dir}/file`, source('f'));
      await expectCode('ALREADY_EXISTS', 'mkdir onto a file', () => fs.mkdir(`${dir}/file`));
      await expectCode('NOT_A_DIRECTORY', 'mkdir below a file', () => fs.mkdir(`${dir}/file/x`));
      assert.equal((await readAll(fs, `${dir}/file`)).toString(), 'f');
    },
  },
  {
    name: 'delete removes a file and an empty directory; a non-empty directory only with recursive, and then everything below',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.write(`${dir}/f.txt`, source('f'));
      await fs.delete(`${dir}/f.txt`);
      await expectCode('NOT_FOUND', 'status of a deleted file', () => fs.status(`${dir}/f.txt`));
      await expectCode('NOT_FOUND', 'read of a deleted file', () => fs.read(`${dir}/f.txt`));
      await fs.mkdir(`${dir}/empty`);
      await fs.delete(`${dir}/empty`);
      await expectCode('NOT_FOUND', 'status of a deleted directory', () => fs.status(`${dir}/empty`));
      const tree = Array.from({ length: 6 }, (_, i) => `${dir}/tree/${i % 2 ? 'x/' : ''}f${i}.txt`);
      for (const p of tree) await fs.write(p, source(p));
      for (const p of tree) await readAll(fs, p); // every file known (and cached) wherever it lives
      await expectCode('DIRECTORY_NOT_EMPTY', 'delete of a non-empty directory', () =>
        fs.delete(`${dir}/tree`),
      );
      for (const p of tree) assert.equal((await readAll(fs, p)).toString(), p, `${p} after a refused delete`);
      await fs.delete(`${dir}/tree`, { recursive: true });
      await expectCode('NOT_FOUND', 'status of a recursively deleted directory', () =>
        fs.status(`${dir}/tree`),
      );
      for (const p of tree) {
        await expectCode('NOT_FOUND', `status of ${p} below a deleted directory`, () => fs.status(p));
        await expectCode('NOT_FOUND', `read of ${p} below a deleted directory`, () => fs.read(p));
      }
      assert.deepEqual(await fs.list(dir), []);
    },
  },
  {
    name: 'rename moves a file and a whole directory within a mount (old paths NOT_FOUND, bytes at the new ones)',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.write(`${dir}/a.txt`, source('move me'));
      await readAll(fs, `${dir}/a.txt`);
      await fs.rename(`${dir}/a.txt`, `${dir}/b.txt`);
      await expectCode('NOT_FOUND', 'status of the old name', () => fs.status(`${dir}/a.txt`));
      assert.equal((await readAll(fs, `${dir}/b.txt`)).toString(), 'move me');
      const files = Array.from({ length: 6 }, (_, i) => `f${i}.txt`);
      for (const n of files) await fs.write(`${dir}/d1/${n}`, source(n));
      for (const n of files) await readAll(fs, `${dir}/d1/${n}`);
      await fs.rename(`${dir}/d1`, `${dir}/d2`);
      await expectCode('NOT_FOUND', 'status of the old directory', () => fs.status(`${dir}/d1`));
      for (const n of files) {
        await expectCode('NOT_FOUND', `status of old ${n}`, () => fs.status(`${dir}/d1/${n}`));
        assert.equal((await readAll(fs, `${dir}/d2/${n}`)).toString(), n, `${n} after the move`);
      }
      assert.deepEqual(names(await fs.list(`${dir}/d2`)), files);
    },
  },
  {
    name: 'rename across mounts is UNSUPPORTED and changes nothing',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.write(`${dir}/stay.txt`, source('stay'));
      const target = `${ctx.otherMount}/${dir.split('/').pop()}-moved.txt`;
      await expectCode('UNSUPPORTED', 'rename into another mount', () =>
        fs.rename(`${dir}/stay.txt`, target),
      );
      assert.equal((await readAll(fs, `${dir}/stay.txt`)).toString(), 'stay');
      assert.ok(!(await exists(fs, target)), 'the file appeared in the other mount');
    },
  },
];
