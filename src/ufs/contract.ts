import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { type ErrorCode, isStrataError } from '../core/errors.js';
import { patternBytes } from '../core/pattern-bytes.js';
import { fingerprintOf, MAX_BUFFER_READ, type UfsStatus, type UnderStore } from './under-store.js';

/**
 * The one under-store contract suite. Every connector's tests run it (test/ufs/*.test.ts) and
 * users run it against their own store with `strata ufs test URI`. It writes only under a scratch
 * directory of its own and removes it afterwards.
 *
 * Read-only stores (http) cannot be written, so they are checked against a fixture tree that the
 * caller placed in the store beforehand (see writeFixtureTree) under `fixtureDir`.
 */

export interface ContractContext {
  readonly store: UnderStore;
  /** Scratch directory for writable stores, e.g. "/strata-contract-1a2b3c". */
  readonly dir: string;
  /** Directory holding the fixture tree (writable stores: written by the suite itself). */
  readonly fixtureDir: string;
}

export interface ContractCase {
  readonly name: string;
  /** Needs a writable store. */
  readonly writes?: boolean;
  /** Needs a capability beyond the basics. */
  readonly needs?: 'rename' | 'list' | 'rangeRead';
  run(ctx: ContractContext): Promise<void>;
}

export interface ContractResult {
  readonly name: string;
  readonly status: 'pass' | 'fail' | 'skip';
  readonly ms: number;
  readonly error?: string;
}

export { patternBytes };

export const FIXTURE_FILES: ReadonlyArray<{ path: string; content: Buffer }> = [
  { path: 'small.txt', content: Buffer.from('hello, strata\n') },
  { path: 'big.bin', content: patternBytes(3 * 1024 * 1024 + 17) },
  { path: 'dir/nested.txt', content: Buffer.from('nested\n') },
  { path: 'dir/deeper/leaf.txt', content: Buffer.from('leaf\n') },
  { path: 'ünï côde & space.txt', content: Buffer.from('unicode\n') },
  { path: 'empty.txt', content: Buffer.alloc(0) },
];

/** Writes the fixture tree into a local folder (used to prepare read-only stores such as http). */
export async function writeFixtureTree(localDir: string): Promise<void> {
  for (const f of FIXTURE_FILES) {
    const target = join(localDir, f.path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, f.content);
  }
}

async function writeFixturesThrough(store: UnderStore, dir: string): Promise<void> {
  for (const f of FIXTURE_FILES) {
    await store.write(`${dir}/${f.path}`, Readable.from([f.content]), { size: f.content.length });
  }
}

class ContractFailure extends Error {}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ContractFailure(message);
}

async function expectCode(code: ErrorCode, what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    const value = await fn();
    if (value instanceof Readable) await buffer(value);
  } catch (err) {
    check(
      isStrataError(err, code),
      `${what}: expected ${code}, got ${isStrataError(err) ? err.code : String(err)}`,
    );
    return;
  }
  throw new ContractFailure(`${what}: expected ${code}, but it succeeded`);
}

async function readAll(store: UnderStore, path: string, offset?: number, length?: number): Promise<Buffer> {
  const opts: { offset?: number; length?: number } = {};
  if (offset !== undefined) opts.offset = offset;
  if (length !== undefined) opts.length = length;
  return buffer(await store.read(path, opts));
}

function fixture(path: string): Buffer {
  const f = FIXTURE_FILES.find((x) => x.path === path);
  if (!f) throw new Error(`no fixture ${path}`);
  return f.content;
}

export const CONTRACT_CASES: readonly ContractCase[] = [
  {
    name: 'root is a directory',
    async run({ store }) {
      const s = await store.status('/');
      check(s.type === 'directory', `root type is ${s.type}`);
    },
  },
  {
    name: 'status of a missing path is NOT_FOUND',
    async run({ store, fixtureDir }) {
      await expectCode('NOT_FOUND', 'status(missing)', () =>
        store.status(`${fixtureDir}/no-such-file-${Date.now()}`),
      );
    },
  },
  {
    name: 'status reports type and exact size',
    async run({ store, fixtureDir }) {
      for (const f of FIXTURE_FILES) {
        const s = await store.status(`${fixtureDir}/${f.path}`);
        check(s.type === 'file', `${f.path}: type ${s.type}`);
        check(s.size === f.content.length, `${f.path}: size ${s.size}, expected ${f.content.length}`);
        check(s.path === `${fixtureDir}/${f.path}`, `${f.path}: status path is ${s.path}`);
      }
      const d = await store.status(`${fixtureDir}/dir`);
      check(d.type === 'directory', `dir: type ${d.type}`);
    },
  },
  {
    name: 'read returns the exact bytes',
    async run({ store, fixtureDir }) {
      for (const f of FIXTURE_FILES) {
        const got = await readAll(store, `${fixtureDir}/${f.path}`);
        check(
          got.equals(f.content),
          `${f.path}: ${got.length} bytes read differ from the ${f.content.length} written`,
        );
      }
    },
  },
  {
    name: 'ranged reads (middle, across 1 MiB, to end, empty, past end)',
    needs: 'rangeRead',
    async run({ store, fixtureDir }) {
      const big = fixture('big.bin');
      const p = `${fixtureDir}/big.bin`;
      const cases: Array<[number, number | undefined]> = [
        [0, 10],
        [1024 * 1024 - 5, 10],
        [2 * 1024 * 1024 + 3, 1024 * 1024],
        [big.length - 7, undefined],
        [big.length - 7, 1000],
        [123, 0],
        [big.length, undefined],
      ];
      for (const [offset, length] of cases) {
        const got = await readAll(store, p, offset, length);
        const end = length === undefined ? big.length : Math.min(big.length, offset + length);
        check(
          got.equals(big.subarray(offset, end)),
          `range ${offset}+${length}: got ${got.length} bytes, wrong content`,
        );
      }
      await expectCode('INVALID_RANGE', 'read past the end', () => readAll(store, p, big.length + 1, 5));
    },
  },
  {
    name: 'readBuffer gives the bytes of read for whole files and ranges; NOT_FOUND and INVALID_RANGE as read',
    async run({ store, fixtureDir }) {
      for (const f of FIXTURE_FILES) {
        if (f.content.length > 4 * 1024 * 1024) continue;
        const got = await store.readBuffer(`${fixtureDir}/${f.path}`, { length: f.content.length });
        check(got.equals(f.content), `${f.path}: readBuffer gave ${got.length} bytes, not the file's`);
        const past = await store.readBuffer(`${fixtureDir}/${f.path}`, { length: f.content.length + 100 });
        check(past.equals(f.content), `${f.path}: readBuffer past the end gave ${past.length} bytes`);
      }
      if (store.capabilities.rangeRead) {
        const big = fixture('big.bin');
        const p = `${fixtureDir}/big.bin`;
        for (const [offset, length] of [
          [0, 10],
          [1024 * 1024 - 5, 10],
          [big.length - 7, 1000],
          [123, 0],
        ] as const) {
          const got = await store.readBuffer(p, { offset, length });
          const end = Math.min(big.length, offset + length);
          check(
            got.equals(big.subarray(offset, end)),
            `readBuffer ${offset}+${length}: ${got.length} bytes, wrong content`,
          );
        }
        await expectCode('INVALID_RANGE', 'readBuffer past the end', () =>
          store.readBuffer(p, { offset: big.length + 1, length: 5 }),
        );
      }
      await expectCode('NOT_FOUND', 'readBuffer(missing)', () =>
        store.readBuffer(`${fixtureDir}/missing.bin`, { length: 10 }),
      );
      await expectCode('INVALID_RANGE', 'readBuffer of more than MAX_BUFFER_READ', () =>
        store.readBuffer(`${fixtureDir}/missing.bin`, { length: MAX_BUFFER_READ + 1 }),
      );
    },
  },
  {
    name: 'read of a missing file is NOT_FOUND',
    async run({ store, fixtureDir }) {
      await expectCode('NOT_FOUND', 'read(missing)', () => readAll(store, `${fixtureDir}/missing.bin`));
    },
  },
  {
    name: 'list returns direct children, sorted, with types',
    needs: 'list',
    async run({ store, fixtureDir }) {
      const entries = await store.listAll(fixtureDir);
      const names = entries.map((e) => e.path.slice(fixtureDir.length + 1));
      const expected = ['big.bin', 'dir', 'empty.txt', 'small.txt', 'ünï côde & space.txt'];
      check(JSON.stringify(names) === JSON.stringify(expected), `list gave ${JSON.stringify(names)}`);
      const dir = entries.find((e) => e.path.endsWith('/dir'));
      check(dir?.type === 'directory', 'dir is not listed as a directory');
      const small = entries.find((e) => e.path.endsWith('/small.txt'));
      check(
        small?.type === 'file' && small.size === fixture('small.txt').length,
        'small.txt listed with wrong size',
      );
    },
  },
  {
    name: 'listBatches gives every child once, in batches no larger than asked, with the statuses of listAll',
    needs: 'list',
    async run({ store, fixtureDir }) {
      const all = await store.listAll(fixtureDir);
      const seen: UfsStatus[] = [];
      for await (const batch of store.listBatches(fixtureDir, { batch: 2 })) {
        check(batch.length >= 1 && batch.length <= 2, `a batch of ${batch.length} (asked 2)`);
        seen.push(...batch);
      }
      const key = (e: UfsStatus) => `${e.path} ${e.type} ${e.type === 'file' ? e.size : 0}`;
      const a = all.map(key).sort();
      const b = seen.map(key).sort();
      check(
        JSON.stringify(a) === JSON.stringify(b),
        `batches gave ${JSON.stringify(b)}, listAll ${JSON.stringify(a)}`,
      );
      await expectCode('NOT_FOUND', 'listBatches(missing)', async () => {
        for await (const _ of store.listBatches(`${fixtureDir}/missing-dir`)) {
          // nothing
        }
      });
    },
  },
  {
    name: 'list pages cover every entry exactly once',
    needs: 'list',
    async run({ store, fixtureDir }) {
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await store.list(fixtureDir, token === undefined ? { limit: 2 } : { limit: 2, token });
        check(page.entries.length <= 2, `page of ${page.entries.length} > limit 2`);
        seen.push(...page.entries.map((e) => e.path));
        token = page.nextToken;
        check(++pages < 20, 'paging does not terminate');
      } while (token !== undefined);
      check(seen.length === 5 && new Set(seen).size === 5, `paging saw ${JSON.stringify(seen)}`);
    },
  },
  {
    name: 'list of a missing directory is NOT_FOUND, of a file NOT_A_DIRECTORY',
    needs: 'list',
    async run({ store, fixtureDir }) {
      await expectCode('NOT_FOUND', 'list(missing)', () => store.list(`${fixtureDir}/nowhere`));
      await expectCode('NOT_A_DIRECTORY', 'list(file)', () => store.list(`${fixtureDir}/small.txt`));
    },
  },
  {
    name: 'paths that climb out are rejected',
    async run({ store, fixtureDir }) {
      await expectCode('INVALID_PATH', 'status(/../etc/passwd)', () => store.status('/../etc/passwd'));
      await expectCode('INVALID_PATH', 'read(a/../../x)', () => store.read(`${fixtureDir}/../../x`));
      await expectCode('INVALID_PATH', 'status(NUL)', () => store.status(`${fixtureDir}/a\0b`));
    },
  },
  {
    name: 'overwrite replaces content and changes the fingerprint',
    writes: true,
    async run({ store, dir }) {
      const p = `${dir}/over.txt`;
      // The second version is longer, so its fingerprint differs even if the store's clock did not move.
      const a = await store.write(p, Readable.from([Buffer.from('first version')]));
      const b = await store.write(p, Readable.from([Buffer.from('second, longer version')]));
      check(fingerprintOf(a) !== fingerprintOf(b), 'fingerprint did not change on overwrite');
      const s = await store.status(p);
      check(fingerprintOf(s) === fingerprintOf(b), 'status fingerprint differs from the one write returned');
      check((await readAll(store, p)).toString() === 'second, longer version', 'overwrite not visible');
    },
  },
  {
    name: 'write from a multi-chunk stream of unknown size',
    writes: true,
    async run({ store, dir }) {
      const data = patternBytes(5 * 1024 * 1024 + 3, 99);
      const chunks = [];
      for (let i = 0; i < data.length; i += 64 * 1024) chunks.push(data.subarray(i, i + 64 * 1024));
      const s = await store.write(`${dir}/stream.bin`, Readable.from(chunks));
      check(s.size === data.length, `write returned size ${s.size}`);
      check((await readAll(store, `${dir}/stream.bin`)).equals(data), 'streamed write read back differs');
    },
  },
  {
    name: 'mkdir is idempotent and makes parents',
    writes: true,
    async run({ store, dir }) {
      await store.mkdir(`${dir}/m/n/o`);
      await store.mkdir(`${dir}/m/n/o`);
      const s = await store.status(`${dir}/m/n`);
      check(s.type === 'directory', 'parent made by mkdir is not a directory');
    },
  },
  {
    name: 'delete removes files; missing is NOT_FOUND; non-empty directory needs recursive',
    writes: true,
    async run({ store, dir }) {
      await store.write(`${dir}/del/a.txt`, Readable.from([Buffer.from('a')]));
      await store.write(`${dir}/del/sub/b.txt`, Readable.from([Buffer.from('b')]));
      await store.delete(`${dir}/del/a.txt`);
      await expectCode('NOT_FOUND', 'status(after delete)', () => store.status(`${dir}/del/a.txt`));
      await expectCode('NOT_FOUND', 'delete(missing)', () => store.delete(`${dir}/del/a.txt`));
      await expectCode('DIRECTORY_NOT_EMPTY', 'delete(non-empty dir)', () => store.delete(`${dir}/del`));
      await store.delete(`${dir}/del`, { recursive: true });
      await expectCode('NOT_FOUND', 'status(after recursive delete)', () =>
        store.status(`${dir}/del/sub/b.txt`),
      );
    },
  },
  {
    name: 'write with server-side encryption: done by a store that can, refused (UNSUPPORTED, nothing written) by one that cannot',
    writes: true,
    async run({ store, dir }) {
      const path = `${dir}/encrypted.bin`;
      const body = patternBytes(64 * 1024 + 3);
      const write = () =>
        store.write(path, Readable.from([body]), { size: body.length, encryption: { mode: 'AES256' } });
      const refused = async (what: string) => {
        await expectCode('NOT_FOUND', `status after ${what}`, () => store.status(path));
      };
      if (store.capabilities.encryption !== true) {
        await expectCode('UNSUPPORTED', 'write(encryption) on a store that cannot encrypt', write);
        return refused('a refused encrypted write');
      }
      // A connector that can ask may meet a server that does not encrypt: it must say so.
      const st = await write().catch((err: unknown) => {
        if (isStrataError(err, 'UNSUPPORTED')) return undefined;
        throw err;
      });
      if (st === undefined) return refused('an encrypted write the server refused');
      check(st.size === body.length, `encrypted write: size ${st.size}, expected ${body.length}`);
      check((await readAll(store, path)).equals(body), 'an encrypted write reads back as its plaintext');
      await store.delete(path);
    },
  },
  {
    name: 'rename moves a file and a directory',
    writes: true,
    needs: 'rename',
    async run({ store, dir }) {
      await store.write(`${dir}/ren/a.txt`, Readable.from([Buffer.from('move me')]));
      await store.rename(`${dir}/ren/a.txt`, `${dir}/ren/b.txt`);
      await expectCode('NOT_FOUND', 'status(renamed source)', () => store.status(`${dir}/ren/a.txt`));
      check(
        (await readAll(store, `${dir}/ren/b.txt`)).toString() === 'move me',
        'renamed file content differs',
      );
      await store.rename(`${dir}/ren`, `${dir}/ren2`);
      check(
        (await readAll(store, `${dir}/ren2/b.txt`)).toString() === 'move me',
        'renamed directory lost its file',
      );
      await expectCode('NOT_FOUND', 'rename(missing)', () => store.rename(`${dir}/nope`, `${dir}/nope2`));
    },
  },
];

export interface RunOptions {
  /** For read-only stores: where the fixture tree already is. */
  readonly fixtureDir?: string;
  /** Called after each case (the CLI prints progress). */
  readonly onResult?: (result: ContractResult) => void;
}

/** Prepares scratch space; returns the context and a cleanup function. */
export async function prepareContract(
  store: UnderStore,
  options: RunOptions = {},
): Promise<{ ctx: ContractContext; cleanup: () => Promise<void> }> {
  const dir = `/strata-contract-${randomBytes(4).toString('hex')}`;
  if (store.capabilities.writable) {
    await writeFixturesThrough(store, `${dir}/fixture`);
    return {
      ctx: { store, dir, fixtureDir: `${dir}/fixture` },
      cleanup: () => store.delete(dir, { recursive: true }).catch(() => undefined),
    };
  }
  return { ctx: { store, dir, fixtureDir: options.fixtureDir ?? '/' }, cleanup: async () => undefined };
}

/** Whether a case applies to this store (and fixture availability). */
export function caseApplies(store: UnderStore, c: ContractCase, hasFixtures: boolean): string | undefined {
  if (c.writes && !store.capabilities.writable) return 'store is read-only';
  if (c.needs === 'rename' && store.capabilities.rename === 'none') return 'store cannot rename';
  if (c.needs === 'list' && !store.capabilities.list) return 'store cannot list';
  if (c.needs === 'rangeRead' && !store.capabilities.rangeRead) return 'store has no range reads';
  if (
    !hasFixtures &&
    !c.writes &&
    c.name !== 'root is a directory' &&
    c.name !== 'paths that climb out are rejected'
  ) {
    return 'needs a fixture tree (--fixture-dir) on a read-only store';
  }
  return undefined;
}

/** Runs every case and returns the results; used by `strata ufs test`. */
export async function runUfsContract(store: UnderStore, options: RunOptions = {}): Promise<ContractResult[]> {
  const hasFixtures = store.capabilities.writable || options.fixtureDir !== undefined;
  const { ctx, cleanup } = await prepareContract(store, options);
  const results: ContractResult[] = [];
  try {
    for (const c of CONTRACT_CASES) {
      const started = performance.now();
      const skip = caseApplies(store, c, hasFixtures);
      let result: ContractResult;
      if (skip) {
        result = { name: c.name, status: 'skip', ms: 0, error: skip };
      } else {
        try {
          await c.run(ctx);
          result = { name: c.name, status: 'pass', ms: performance.now() - started };
        } catch (err) {
          result = {
            name: c.name,
            status: 'fail',
            ms: performance.now() - started,
            error: err instanceof Error ? err.message : String(err),
          };
        }
      }
      results.push(result);
      options.onResult?.(result);
    }
  } finally {
    await cleanup();
  }
  return results;
}

/** Helper for statuses in tests. */
export function describeStatus(s: UfsStatus): string {
  return `${s.type} ${s.path} ${s.size}B ${fingerprintOf(s)}`;
}
