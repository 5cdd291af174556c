import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pathToFileURL } from 'node:url';
import { type ErrorCode, isStrataError } from '../core/errors.js';
import {
  type FileInfo,
  MAX_READ_BUFFER,
  type MountInfo,
  type ReadOptions,
  type StrataFileSystem,
  WRITE_TYPES,
} from '../core/file-system.js';
import { patternBytes } from '../core/pattern-bytes.js';
import { compareUtf8 } from '../core/utf8-order.js';

/**
 * The one contract suite of the client API (StrataFileSystem, src/core/file-system.ts). Every
 * implementation runs it — the in-process worker, RemoteFileSystem over the worker RPC,
 * ClusterFileSystem over several workers, and the test fake — through test/helpers/fs-contract.ts.
 *
 * The suite mounts three file:// stores of its own under a prefix (a writable one, a second one
 * for cross-mount checks and a read-only one seeded through a writable mount of the same store),
 * gives every case its own directory in the writable mount, and unmounts everything afterwards.
 * Cases state the semantics they check in their names and declare what they need beyond the
 * interface (optional capability methods, real stores behind the mounts, no mount on "/").
 */

export interface FsContractTarget {
  readonly fs: StrataFileSystem;
  /** A local directory the suite may fill with the file:// stores it mounts. */
  readonly scratchDir: string;
  /**
   * True when mounts really serve their stores, so a file changed in a store's directory behind
   * Strata's back is what a fresh status sees (false for fakes that keep bytes themselves).
   */
  readonly servesStores: boolean;
  /** How many workers report() must list. */
  readonly workers: number;
  /**
   * Waits until a mount-table change reached every worker (a cluster spreads it by registry
   * watch, asynchronously). Called after each mount and unmount.
   */
  readonly settle?: () => Promise<void>;
  /** Mount-point prefix, e.g. "/fsc"; default "/fsc-<random>". */
  readonly prefix?: string;
}

export interface FsContractContext {
  readonly fs: StrataFileSystem;
  readonly target: FsContractTarget;
  /** Writable mount (defaults: CACHE_THROUGH, sync interval -1). */
  readonly mount: string;
  /** Its store's local directory. */
  readonly mountDir: string;
  /** A second writable mount. */
  readonly otherMount: string;
  /** A read-only mount holding `fixture.txt` (READ_ONLY_FIXTURE) and an empty directory `empty`. */
  readonly readOnlyMount: string;
  /** A top-level path below which nothing is mounted (meaningful when `rootMounted` is false). */
  readonly unmounted: string;
  /** Whether something is mounted on "/" (then no path is outside every mount). */
  readonly rootMounted: boolean;
  readonly prefix: string;
}

export interface FsCaseContext extends FsContractContext {
  /** The case's own directory in `mount`, created and empty. */
  readonly dir: string;
  /** The same directory in the store, to change files behind Strata's back. */
  readonly localDir: string;
}

export type FsNeed =
  /** The mounts serve real stores (files changed in the store directory are seen). */
  | 'stores'
  /** Nothing is mounted on "/", so some paths lie outside every mount. */
  | 'unmountedPaths'
  | 'readBuffer'
  | 'peekFile'
  | 'cachedBytesOf'
  | 'location';

export interface FsContractCase {
  readonly name: string;
  readonly needs?: readonly FsNeed[];
  run(ctx: FsCaseContext): Promise<void>;
}

export const READ_ONLY_FIXTURE = Buffer.from('read-only fixture\n');

// ---- helpers -----------------------------------------------------------------------------------

/** A stream of `data` in chunks (several chunks: implementations must not assume one). */
function source(data: Buffer | string, chunk = 64 * 1024): Readable {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) chunks.push(buf.subarray(i, i + chunk));
  return Readable.from(chunks, { objectMode: false });
}

async function readAll(fs: StrataFileSystem, path: string, options: ReadOptions = {}): Promise<Buffer> {
  return buffer(await fs.read(path, options));
}

/**
 * Expects `fn` to reject with `code`. A Readable it resolves with is drained (errors may surface
 * there). A synchronous throw is a failure of its own: these methods return promises.
 */
async function expectCode(code: ErrorCode, what: string, fn: () => Promise<unknown>): Promise<void> {
  let pending: Promise<unknown>;
  try {
    pending = fn();
  } catch (err) {
    assert.fail(`${what}: threw synchronously (${describeError(err)}) instead of rejecting`);
  }
  try {
    const value = await pending;
    if (value instanceof Readable) await buffer(value);
  } catch (err) {
    assert.ok(isStrataError(err, code), `${what}: expected ${code}, got ${describeError(err)}`);
    return;
  }
  assert.fail(`${what}: expected ${code}, but it succeeded`);
}

function describeError(err: unknown): string {
  if (isStrataError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

async function exists(fs: StrataFileSystem, path: string): Promise<boolean> {
  try {
    await fs.status(path);
    return true;
  } catch (err) {
    if (isStrataError(err, 'NOT_FOUND')) return false;
    throw err;
  }
}

/** Polls `fn` until it returns true; for state that settles in the background (persisting). */
async function eventually(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function aborted(): AbortSignal {
  return AbortSignal.abort();
}

function names(list: readonly FileInfo[]): string[] {
  return list.map((e) => e.name);
}

function fileUri(dir: string): string {
  return pathToFileURL(dir).href;
}

async function settle(ctx: FsContractContext): Promise<void> {
  await ctx.target.settle?.();
}

async function mountedPaths(fs: StrataFileSystem): Promise<string[]> {
  return (await fs.mounts()).map((m) => m.path);
}

/** A fresh store directory for a case that mounts its own store. */
async function freshStore(ctx: FsCaseContext, name: string): Promise<string> {
  const dir = join(ctx.target.scratchDir, `${ctx.prefix.slice(1)}-stores`, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** A tiny HTTP server that answers every request 200 with an empty JSON listing. */
async function withHttpRoot<T>(fn: (base: string) => Promise<T>): Promise<T> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
    res.end('[]');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    return await fn(`127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const MIB = 1024 * 1024;

// ---- cases -------------------------------------------------------------------------------------

const WRITE_CASES: readonly FsContractCase[] = [
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

const READ_CASES: readonly FsContractCase[] = [
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

const METADATA_CASES: readonly FsContractCase[] = [
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

const ERROR_CASES: readonly FsContractCase[] = [
  {
    name: 'missing paths are NOT_FOUND for every method that names one',
    async run(ctx) {
      const { fs, dir } = ctx;
      const p = `${dir}/missing`;
      await expectCode('NOT_FOUND', 'status', () => fs.status(p));
      await expectCode('NOT_FOUND', 'list', () => fs.list(p));
      await expectCode('NOT_FOUND', 'read', () => fs.read(p));
      await expectCode('NOT_FOUND', 'delete', () => fs.delete(p));
      await expectCode('NOT_FOUND', 'delete recursive', () => fs.delete(p, { recursive: true }));
      await expectCode('NOT_FOUND', 'rename from', () => fs.rename(p, `${dir}/other`));
      await expectCode('NOT_FOUND', 'load', () => fs.load(p));
      await expectCode('NOT_FOUND', 'free', () => fs.free(p));
      await expectCode('NOT_FOUND', 'pin', () => fs.pin(p, true));
      await expectCode('NOT_FOUND', 'setTtl', () => fs.setTtl(p, 60_000));
      await expectCode('NOT_FOUND', 'du', () => fs.du(p));
      await expectCode('NOT_FOUND', 'status below a missing directory', () => fs.status(`${p}/deeper/x`));
      await expectCode('NOT_FOUND', 'status in the read-only mount', () =>
        fs.status(`${ctx.readOnlyMount}/missing`),
      );
      assert.ok(!(await exists(fs, `${dir}/other`)));
    },
  },
  {
    name: 'reading a directory or writing onto one (or onto a mount point) is IS_A_DIRECTORY',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.mkdir(`${dir}/d`);
      await fs.write(`${dir}/d/keep.txt`, source('keep'));
      await expectCode('IS_A_DIRECTORY', 'read of a directory', () => fs.read(`${dir}/d`));
      await expectCode('IS_A_DIRECTORY', 'write onto a directory', () =>
        fs.write(`${dir}/d`, source('x'), { size: 1 }),
      );
      await expectCode('IS_A_DIRECTORY', 'read of a mount point', () => fs.read(ctx.mount));
      await expectCode('IS_A_DIRECTORY', 'write onto a mount point', () =>
        fs.write(ctx.otherMount, source('x'), { size: 1 }),
      );
      assert.equal((await fs.status(`${dir}/d`)).type, 'directory');
      assert.equal((await readAll(fs, `${dir}/d/keep.txt`)).toString(), 'keep');
    },
  },
  {
    name: 'listing a file, or a path below a file, is NOT_A_DIRECTORY',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.write(`${dir}/f.txt`, source('f'));
      await expectCode('NOT_A_DIRECTORY', 'list of a file', () => fs.list(`${dir}/f.txt`));
      await expectCode('NOT_A_DIRECTORY', 'write below a file', () =>
        fs.write(`${dir}/f.txt/x`, source('x'), { size: 1 }),
      );
    },
  },
  {
    name: 'rename onto an existing file or directory is ALREADY_EXISTS and changes nothing',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.write(`${dir}/a.txt`, source('a'));
      await fs.write(`${dir}/b.txt`, source('b'));
      await fs.mkdir(`${dir}/d`);
      await expectCode('ALREADY_EXISTS', 'rename onto a file', () =>
        fs.rename(`${dir}/a.txt`, `${dir}/b.txt`),
      );
      await expectCode('ALREADY_EXISTS', 'rename onto a directory', () =>
        fs.rename(`${dir}/a.txt`, `${dir}/d`),
      );
      await expectCode('ALREADY_EXISTS', 'rename a directory onto a file', () =>
        fs.rename(`${dir}/d`, `${dir}/b.txt`),
      );
      assert.equal((await readAll(fs, `${dir}/a.txt`)).toString(), 'a');
      assert.equal((await readAll(fs, `${dir}/b.txt`)).toString(), 'b');
      assert.equal((await fs.status(`${dir}/d`)).type, 'directory');
    },
  },
  {
    name: 'deleting a non-empty directory without recursive is DIRECTORY_NOT_EMPTY',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.write(`${dir}/d/f.txt`, source('f'));
      await expectCode('DIRECTORY_NOT_EMPTY', 'delete', () => fs.delete(`${dir}/d`));
      await expectCode('DIRECTORY_NOT_EMPTY', 'delete recursive: false', () =>
        fs.delete(`${dir}/d`, { recursive: false }),
      );
      assert.equal((await readAll(fs, `${dir}/d/f.txt`)).toString(), 'f');
    },
  },
  {
    name: 'paths with "..", ".", empty segments, NUL or no leading slash are INVALID_PATH for every method, and nothing is written',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.write(`${dir}/ok.txt`, source('ok'));
      const bad = [`${dir}/../x`, `${dir}/./x`, `${dir}//x`, `${dir}/a\0b`, 'relative/x'];
      for (const p of bad) {
        const q = JSON.stringify(p);
        await expectCode('INVALID_PATH', `status(${q})`, () => fs.status(p));
        await expectCode('INVALID_PATH', `list(${q})`, () => fs.list(p));
        await expectCode('INVALID_PATH', `read(${q})`, () => fs.read(p));
        await expectCode('INVALID_PATH', `write(${q})`, () => fs.write(p, source('x'), { size: 1 }));
        await expectCode('INVALID_PATH', `delete(${q})`, () => fs.delete(p, { recursive: true }));
        await expectCode('INVALID_PATH', `mkdir(${q})`, () => fs.mkdir(p));
        await expectCode('INVALID_PATH', `rename(${q}, ok)`, () => fs.rename(p, `${dir}/new`));
        await expectCode('INVALID_PATH', `rename(ok, ${q})`, () => fs.rename(`${dir}/ok.txt`, p));
        await expectCode('INVALID_PATH', `load(${q})`, () => fs.load(p));
        await expectCode('INVALID_PATH', `free(${q})`, () => fs.free(p));
        await expectCode('INVALID_PATH', `pin(${q})`, () => fs.pin(p, true));
        await expectCode('INVALID_PATH', `setTtl(${q})`, () => fs.setTtl(p, 1000));
        await expectCode('INVALID_PATH', `du(${q})`, () => fs.du(p));
      }
      assert.deepEqual(names(await fs.list(dir)), ['ok.txt']);
      if (ctx.target.servesStores) {
        const leaked = await stat(join(ctx.localDir, '..', 'x')).then(
          () => true,
          () => false,
        );
        assert.ok(!leaked, 'a write escaped the case directory');
      }
    },
  },
  {
    name: 'an empty path is INVALID_PATH',
    async run({ fs, dir }) {
      await expectCode('INVALID_PATH', 'status("")', () => fs.status(''));
      await expectCode('INVALID_PATH', 'list("")', () => fs.list(''));
      await expectCode('INVALID_PATH', 'read("")', () => fs.read(''));
      await expectCode('INVALID_PATH', 'mkdir("")', () => fs.mkdir(''));
      await expectCode('INVALID_PATH', 'rename(dir, "")', () => fs.rename(dir, ''));
    },
  },
  {
    name: 'write, mkdir, delete and rename in a read-only mount are READ_ONLY and change nothing',
    async run(ctx) {
      const { fs } = ctx;
      const ro = ctx.readOnlyMount;
      await expectCode('READ_ONLY', 'write', () => fs.write(`${ro}/new.txt`, source('x'), { size: 1 }));
      await expectCode('READ_ONLY', 'overwrite', () =>
        fs.write(`${ro}/fixture.txt`, source('x'), { size: 1 }),
      );
      await expectCode('READ_ONLY', 'mkdir', () => fs.mkdir(`${ro}/newdir`));
      await expectCode('READ_ONLY', 'delete of a file', () => fs.delete(`${ro}/fixture.txt`));
      await expectCode('READ_ONLY', 'delete of a directory', () => fs.delete(`${ro}/empty`));
      await expectCode('READ_ONLY', 'rename', () => fs.rename(`${ro}/fixture.txt`, `${ro}/moved.txt`));
      assert.ok((await readAll(fs, `${ro}/fixture.txt`)).equals(READ_ONLY_FIXTURE));
      assert.deepEqual(names(await fs.list(ro)), ['empty', 'fixture.txt']);
      const info = (await fs.mounts()).find((m) => m.path === ro);
      assert.equal(info?.readOnly, true);
    },
  },
  {
    name: 'paths outside every mount are NOT_MOUNTED',
    needs: ['unmountedPaths'],
    async run(ctx) {
      const { fs } = ctx;
      const p = `${ctx.unmounted}/x`;
      await expectCode('NOT_MOUNTED', 'status', () => fs.status(p));
      await expectCode('NOT_MOUNTED', 'status of the top-level directory', () => fs.status(ctx.unmounted));
      await expectCode('NOT_MOUNTED', 'list', () => fs.list(ctx.unmounted));
      await expectCode('NOT_MOUNTED', 'read', () => fs.read(p));
      await expectCode('NOT_MOUNTED', 'write', () => fs.write(p, source('x'), { size: 1 }));
      await expectCode('NOT_MOUNTED', 'mkdir', () => fs.mkdir(p));
      await expectCode('NOT_MOUNTED', 'delete', () => fs.delete(p));
      assert.ok(!(await fs.list('/')).some((e) => e.path === ctx.unmounted));
    },
  },
];

const MOUNT_CASES: readonly FsContractCase[] = [
  {
    name: 'mount adds a mount that mounts() lists and that serves its store; MOUNT_CONFLICT on a taken point or a file; unmount removes it',
    async run(ctx) {
      const { fs, dir } = ctx;
      const store = await freshStore(ctx, 'mount-case');
      if (ctx.target.servesStores) await writeFile(join(store, 'hello.txt'), 'hello from the store');
      const point = `${ctx.prefix}-m`;
      const info = await fs.mount(point, fileUri(store), { syncIntervalMs: 5000, writeType: 'THROUGH' });
      try {
        await settle(ctx);
        const expected: MountInfo = {
          path: point,
          uri: fileUri(store),
          readOnly: false,
          fallbackToUfs: false,
          syncIntervalMs: 5000,
          writeType: 'THROUGH',
          options: {},
        };
        assert.deepEqual(info, expected);
        assert.deepEqual(
          (await fs.mounts()).find((m) => m.path === point),
          expected,
        );
        assert.ok(
          (await fs.report()).mounts.some((m) => m.path === point),
          'report() does not list the new mount',
        );
        const st = await fs.status(point);
        assert.equal(st.type, 'directory');
        assert.equal(st.mount, point);
        if (ctx.target.servesStores) {
          assert.deepEqual(names(await fs.list(point)), ['hello.txt']);
          assert.equal((await readAll(fs, `${point}/hello.txt`)).toString(), 'hello from the store');
        }
        // The mount's write type is the default of writes below it.
        await fs.write(`${point}/w.txt`, source('written'));
        assert.equal((await fs.status(`${point}/w.txt`)).cachedBytes, 0, 'not written THROUGH');
        await expectCode('MOUNT_CONFLICT', 'mount on a taken point', () => fs.mount(point, fileUri(store)));
        await fs.write(`${dir}/file`, source('a file'));
        await expectCode('MOUNT_CONFLICT', 'mount onto a file', () =>
          fs.mount(`${dir}/file`, fileUri(store)),
        );
      } finally {
        await fs.unmount(point);
        await settle(ctx);
      }
      assert.ok(!(await mountedPaths(fs)).includes(point), 'still listed after unmount');
      await expectCode(ctx.rootMounted ? 'NOT_FOUND' : 'NOT_MOUNTED', 'status below an unmounted point', () =>
        fs.status(`${point}/w.txt`),
      );
      await expectCode('NOT_MOUNTED', 'unmount of a path that is not a mount point', () => fs.unmount(point));
      assert.equal((await readAll(fs, `${dir}/file`)).toString(), 'a file');
      if (ctx.target.servesStores)
        assert.equal(await readFile(join(store, 'w.txt'), 'utf8'), 'written', 'unmount must keep the store');
    },
  },
  {
    name: 'mount info masks credentials in the URI and secret options (mount, mounts, report)',
    async run(ctx) {
      const { fs } = ctx;
      const point = `${ctx.prefix}-secret`;
      await withHttpRoot(async (host) => {
        const info = await fs.mount(point, `http://alice:s3cr3t-pass@${host}/base`, {
          readOnly: true,
          options: {
            region: 'eu-west-1',
            secretAccessKey: 'hunter2',
            password: 'pw-1',
            sessionToken: 'tok-1',
          },
        });
        try {
          await settle(ctx);
          const shown = [
            ['mount()', info],
            ['mounts()', (await fs.mounts()).find((m) => m.path === point)],
            ['report()', (await fs.report()).mounts.find((m) => m.path === point)],
          ] as const;
          for (const [where, m] of shown) {
            assert.ok(m, `${where} does not list ${point}`);
            assert.equal(m.uri, `http://${host}/base`, `${where}: uri`);
            assert.deepEqual(
              m.options,
              { region: 'eu-west-1', secretAccessKey: '****', password: '****', sessionToken: '****' },
              `${where}: options`,
            );
            const text = JSON.stringify(m);
            for (const secret of ['s3cr3t-pass', 'alice', 'hunter2', 'pw-1', 'tok-1'])
              assert.ok(!text.includes(secret), `${where} shows ${secret}: ${text}`);
          }
        } finally {
          await fs.unmount(point);
          await settle(ctx);
        }
      });
    },
  },
  {
    name: 'mount info masks credential headers of http mounts (header.Authorization)',
    async run(ctx) {
      const { fs } = ctx;
      const point = `${ctx.prefix}-header`;
      await withHttpRoot(async (host) => {
        const info = await fs.mount(point, `http://${host}/`, {
          readOnly: true,
          options: { 'header.Authorization': 'Bearer very-secret', timeoutMs: '5000' },
        });
        try {
          await settle(ctx);
          for (const [where, m] of [
            ['mount()', info],
            ['mounts()', (await fs.mounts()).find((x) => x.path === point)],
          ] as const) {
            assert.ok(m, `${where} does not list ${point}`);
            assert.equal(m.options.timeoutMs, '5000', `${where}: plain options stay readable`);
            assert.ok(
              !JSON.stringify(m).includes('very-secret'),
              `${where} shows the header: ${JSON.stringify(m)}`,
            );
          }
        } finally {
          await fs.unmount(point);
          await settle(ctx);
        }
      });
    },
  },
];

const CACHE_CASES: readonly FsContractCase[] = [
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
const ABORT_CASES: readonly FsContractCase[] = [
  {
    name: 'abort: status with an aborted signal rejects CANCELLED',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f`, source('f'));
      await expectCode('CANCELLED', 'status', () => fs.status(`${dir}/f`, { signal: aborted() }));
    },
  },
  {
    name: 'abort: a signal aborted with a TimeoutError reason rejects TIMEOUT',
    async run({ fs, dir }) {
      const signal = AbortSignal.abort(new DOMException('deadline passed', 'TimeoutError'));
      await expectCode('TIMEOUT', 'status', () => fs.status(dir, { signal }));
      await expectCode('TIMEOUT', 'list', () => fs.list(dir, { signal }));
    },
  },
  {
    name: 'abort: list with an aborted signal rejects CANCELLED',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f`, source('f'));
      await expectCode('CANCELLED', 'list', () => fs.list(dir, { signal: aborted() }));
    },
  },
  {
    name: 'abort: read with an aborted signal rejects CANCELLED and caches nothing',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.bin`, source(patternBytes(300_000, 1)), { writeType: 'THROUGH' });
      let stream: Readable | undefined;
      try {
        stream = await fs.read(`${dir}/f.bin`, { signal: aborted() });
      } catch (err) {
        assert.ok(isStrataError(err, 'CANCELLED'), `read(): expected CANCELLED, got ${describeError(err)}`);
      }
      if (stream) {
        stream.destroy();
        assert.fail('read() resolved with a stream despite the aborted signal');
      }
      assert.equal((await fs.status(`${dir}/f.bin`)).cachedBytes, 0, 'an aborted read cached bytes');
    },
  },
  {
    name: 'abort: write with an aborted signal rejects CANCELLED and leaves no file nor changes an existing one (every write type)',
    async run({ fs, dir }) {
      await fs.write(`${dir}/existing.txt`, source('old bytes'));
      for (const writeType of WRITE_TYPES) {
        await expectCode('CANCELLED', `write ${writeType}`, () =>
          fs.write(`${dir}/new-${writeType}.txt`, source('new bytes'), { writeType, signal: aborted() }),
        );
        assert.ok(
          !(await exists(fs, `${dir}/new-${writeType}.txt`)),
          `${writeType}: the aborted write left a file`,
        );
        await expectCode('CANCELLED', `overwrite ${writeType}`, () =>
          fs.write(`${dir}/existing.txt`, source('new bytes!'), { writeType, signal: aborted() }),
        );
        assert.equal(
          (await readAll(fs, `${dir}/existing.txt`)).toString(),
          'old bytes',
          `${writeType}: an aborted overwrite changed the file`,
        );
      }
      assert.deepEqual(names(await fs.list(dir, { syncIntervalMs: 0 })), ['existing.txt']);
    },
  },
  {
    name: 'abort: delete with an aborted signal rejects CANCELLED and the file and directory stay',
    async run({ fs, dir }) {
      await fs.write(`${dir}/d/f.txt`, source('f'));
      await expectCode('CANCELLED', 'delete of a file', () =>
        fs.delete(`${dir}/d/f.txt`, { signal: aborted() }),
      );
      await expectCode('CANCELLED', 'recursive delete', () =>
        fs.delete(`${dir}/d`, { recursive: true, signal: aborted() }),
      );
      assert.equal((await readAll(fs, `${dir}/d/f.txt`)).toString(), 'f');
    },
  },
  {
    name: 'abort: mkdir with an aborted signal rejects CANCELLED and makes no directory',
    async run({ fs, dir }) {
      await expectCode('CANCELLED', 'mkdir', () => fs.mkdir(`${dir}/new/deeper`, { signal: aborted() }));
      assert.ok(!(await exists(fs, `${dir}/new`)), 'the aborted mkdir made a directory');
    },
  },
  {
    name: 'abort: rename with an aborted signal rejects CANCELLED and moves nothing',
    async run({ fs, dir }) {
      await fs.write(`${dir}/a.txt`, source('a'));
      await expectCode('CANCELLED', 'rename', () =>
        fs.rename(`${dir}/a.txt`, `${dir}/b.txt`, { signal: aborted() }),
      );
      assert.ok(await exists(fs, `${dir}/a.txt`), 'the source is gone');
      assert.ok(!(await exists(fs, `${dir}/b.txt`)), 'the target appeared');
    },
  },
  {
    name: 'abort: mount with an aborted signal rejects CANCELLED and mounts nothing',
    async run(ctx) {
      const { fs } = ctx;
      const point = `${ctx.prefix}-abort-mount`;
      const store = await freshStore(ctx, 'abort-mount');
      try {
        await expectCode('CANCELLED', 'mount', () => fs.mount(point, fileUri(store), { signal: aborted() }));
        await settle(ctx);
        assert.ok(!(await mountedPaths(fs)).includes(point), 'the aborted mount is listed');
      } finally {
        if ((await mountedPaths(fs)).includes(point)) {
          await fs.unmount(point);
          await settle(ctx);
        }
      }
    },
  },
  {
    name: 'abort: unmount with an aborted signal rejects CANCELLED and the mount stays',
    async run(ctx) {
      const { fs } = ctx;
      const point = `${ctx.prefix}-abort-unmount`;
      await fs.mount(point, fileUri(await freshStore(ctx, 'abort-unmount')));
      await settle(ctx);
      try {
        await expectCode('CANCELLED', 'unmount', () => fs.unmount(point, { signal: aborted() }));
        await settle(ctx);
        assert.ok((await mountedPaths(fs)).includes(point), 'the aborted unmount removed the mount');
      } finally {
        if ((await mountedPaths(fs)).includes(point)) {
          await fs.unmount(point);
          await settle(ctx);
        }
      }
    },
  },
  {
    name: 'abort: mounts with an aborted signal rejects CANCELLED',
    async run({ fs }) {
      await expectCode('CANCELLED', 'mounts', () => fs.mounts({ signal: aborted() }));
    },
  },
  {
    name: 'abort: load with an aborted signal rejects CANCELLED and caches nothing',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.bin`, source(patternBytes(300_000, 2)), { writeType: 'THROUGH' });
      await expectCode('CANCELLED', 'load of a file', () => fs.load(`${dir}/f.bin`, { signal: aborted() }));
      await expectCode('CANCELLED', 'load of a directory', () => fs.load(dir, { signal: aborted() }));
      assert.equal((await fs.status(`${dir}/f.bin`)).cachedBytes, 0, 'the aborted load cached bytes');
    },
  },
  {
    name: 'abort: free with an aborted signal rejects CANCELLED and the file stays cached',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.bin`, source(patternBytes(300_000, 3)));
      assert.equal((await fs.status(`${dir}/f.bin`)).cachedPercent, 100);
      await expectCode('CANCELLED', 'free of a file', () => fs.free(`${dir}/f.bin`, { signal: aborted() }));
      await expectCode('CANCELLED', 'free of a directory', () => fs.free(dir, { signal: aborted() }));
      assert.equal((await fs.status(`${dir}/f.bin`)).cachedPercent, 100, 'the aborted free dropped pages');
    },
  },
  {
    name: 'abort: pin with an aborted signal rejects CANCELLED and pins nothing',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.txt`, source('f'));
      await expectCode('CANCELLED', 'pin', () => fs.pin(`${dir}/f.txt`, true, { signal: aborted() }));
      assert.equal((await fs.status(`${dir}/f.txt`)).pinned, false, 'the aborted pin pinned the file');
    },
  },
  {
    name: 'abort: setTtl with an aborted signal rejects CANCELLED and sets no TTL',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.txt`, source('f'));
      await expectCode('CANCELLED', 'setTtl', () =>
        fs.setTtl(`${dir}/f.txt`, 3_600_000, 'free', { signal: aborted() }),
      );
      assert.equal((await fs.status(`${dir}/f.txt`)).ttlMs, undefined, 'the aborted setTtl set a TTL');
    },
  },
  {
    name: 'abort: du with an aborted signal rejects CANCELLED',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.txt`, source('f'));
      await expectCode('CANCELLED', 'du', () => fs.du(dir, { signal: aborted() }));
    },
  },
  {
    name: 'abort: report with an aborted signal rejects CANCELLED',
    async run({ fs }) {
      await expectCode('CANCELLED', 'report', () => fs.report({ signal: aborted() }));
    },
  },
  {
    name: 'abort: cachedBytesOf with an aborted signal rejects CANCELLED',
    needs: ['cachedBytesOf'],
    async run({ fs, dir }) {
      const info = await fs.write(`${dir}/f.txt`, source('f'));
      await expectCode('CANCELLED', 'cachedBytesOf', () =>
        fs.cachedBytesOf!([{ path: info.path, fingerprint: info.fingerprint }], { signal: aborted() }),
      );
    },
  },
  {
    name: 'abort: readBuffer with an aborted signal rejects CANCELLED',
    needs: ['readBuffer'],
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.txt`, source('f'));
      await expectCode('CANCELLED', 'readBuffer', () =>
        fs.readBuffer!(`${dir}/f.txt`, { length: 1, signal: aborted() }),
      );
    },
  },
];

/** Optional capability methods agree with the core methods. */
const CAPABILITY_CASES: readonly FsContractCase[] = [
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

export const FS_CONTRACT_CASES: readonly FsContractCase[] = [
  ...WRITE_CASES,
  ...READ_CASES,
  ...METADATA_CASES,
  ...ERROR_CASES,
  ...MOUNT_CASES,
  ...CACHE_CASES,
  ...ABORT_CASES,
  ...CAPABILITY_CASES,
];

// ---- preparation -------------------------------------------------------------------------------

/**
 * Mounts the suite's stores under the prefix: `<prefix>` (writable), `<prefix>-b` (writable) and
 * `<prefix>-ro` (read-only, seeded through a writable mount of the same store first). Returns
 * the context and a cleanup that unmounts them and removes their directories.
 */
export async function prepareFsContract(
  target: FsContractTarget,
): Promise<{ ctx: FsContractContext; cleanup: () => Promise<void> }> {
  const { fs } = target;
  const prefix = target.prefix ?? `/fsc-${randomBytes(4).toString('hex')}`;
  const local = join(target.scratchDir, prefix.slice(1));
  const dirs = { main: join(local, 'main'), other: join(local, 'other'), ro: join(local, 'ro') };
  for (const d of Object.values(dirs)) await mkdir(d, { recursive: true });
  const rootMounted = (await mountedPaths(fs)).includes('/');
  const mounted: string[] = [];
  const ctx: FsContractContext = {
    fs,
    target,
    mount: prefix,
    mountDir: dirs.main,
    otherMount: `${prefix}-b`,
    readOnlyMount: `${prefix}-ro`,
    unmounted: `${prefix}-nowhere`,
    rootMounted,
    prefix,
  };
  const cleanup = async (): Promise<void> => {
    for (const m of mounted.splice(0).reverse()) await fs.unmount(m).catch(() => undefined);
    await target.settle?.().catch(() => undefined);
    await rm(local, { recursive: true, force: true });
    await rm(join(target.scratchDir, `${prefix.slice(1)}-stores`), { recursive: true, force: true });
  };
  try {
    const mountAt = async (path: string, dir: string, readOnly = false): Promise<void> => {
      await fs.mount(path, fileUri(dir), readOnly ? { readOnly } : {});
      mounted.push(path);
      await target.settle?.();
    };
    await mountAt(ctx.mount, dirs.main);
    await mountAt(ctx.otherMount, dirs.other);
    await mountAt(ctx.readOnlyMount, dirs.ro);
    await fs.write(`${ctx.readOnlyMount}/fixture.txt`, source(READ_ONLY_FIXTURE));
    await fs.mkdir(`${ctx.readOnlyMount}/empty`);
    await fs.unmount(ctx.readOnlyMount);
    mounted.pop();
    await target.settle?.();
    await mountAt(ctx.readOnlyMount, dirs.ro, true);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { ctx, cleanup };
}

/** Why a case does not apply to a target (undefined when it does). */
export function fsCaseSkipReason(ctx: FsContractContext, c: FsContractCase): string | undefined {
  for (const need of c.needs ?? []) {
    if (need === 'stores' && !ctx.target.servesStores) return 'mounts do not serve real stores';
    if (need === 'unmountedPaths' && ctx.rootMounted) return '"/" is mounted: no path is outside every mount';
    if (
      (need === 'readBuffer' || need === 'peekFile' || need === 'cachedBytesOf' || need === 'location') &&
      ctx.fs[need] === undefined
    )
      return `the implementation offers no ${need}()`;
  }
  return undefined;
}

/** The case's own directory name: its position and a slug of its name. */
export function fsCaseDirName(c: FsContractCase): string {
  const i = FS_CONTRACT_CASES.indexOf(c);
  const slug = c.name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 48)
    .replace(/-$/, '');
  return `${String(i < 0 ? 99 : i).padStart(2, '0')}-${slug}`;
}

/** Creates the case's directory and returns its context. */
export async function fsCaseContext(ctx: FsContractContext, c: FsContractCase): Promise<FsCaseContext> {
  const name = fsCaseDirName(c);
  const dir = `${ctx.mount}/${name}`;
  await ctx.fs.mkdir(dir);
  return { ...ctx, dir, localDir: join(ctx.mountDir, name) };
}
