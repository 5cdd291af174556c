import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileInfo, ListPageOptions, StrataFileSystem } from '../../core/file-system.js';
import { MAX_LIST_PAGE } from '../../core/file-system.js';
import { compareUtf8 } from '../../core/utf8-order.js';
import { expectCode, names, source } from './helpers.js';
import type { FsContractCase } from './types.js';

/** Walks a directory with listPage, checking each page's size and cursor; returns every entry. */
async function walkPages(
  fs: StrataFileSystem,
  dir: string,
  options: ListPageOptions & { limit: number },
): Promise<{ entries: FileInfo[]; pages: number }> {
  const entries: FileInfo[] = [];
  let startAfter = options.startAfter ?? '';
  let pages = 0;
  for (;;) {
    const page = await fs.listPage(dir, { ...options, startAfter });
    pages++;
    assert.ok(
      page.entries.length <= options.limit,
      `page ${pages} holds ${page.entries.length} > ${options.limit}`,
    );
    entries.push(...page.entries);
    if (page.nextStartAfter === undefined) return { entries, pages };
    assert.equal(
      page.nextStartAfter,
      page.entries[page.entries.length - 1]?.name,
      'the cursor is the last name',
    );
    assert.ok(pages < 100_000, 'the walk does not end');
    startAfter = page.nextStartAfter;
  }
}

/** Paged listings (listPage): the same children as list(), a page at a time. */
export const LISTING_CASES: readonly FsContractCase[] = [
  {
    name: 'listPage walks a directory in pages: the entries of list(), in UTF-8 order, from any startAfter',
    async run(ctx) {
      const { fs, dir } = ctx;
      const all = ['b', '\u{1F600}', '\uFFFD', 'a', 'ä', 'B', 'a-b', 'a.b', 'c d'];
      for (const n of all) await fs.write(`${dir}/${n}`, source(n));
      await fs.mkdir(`${dir}/dir`);
      const whole = await fs.list(dir);
      for (const limit of [1, 2, 4, 1000]) {
        const { entries, pages } = await walkPages(fs, dir, { limit });
        assert.deepEqual(names(entries), names(whole), `limit ${limit}`);
        assert.deepEqual(
          entries.map((e) => [e.path, e.type, e.size]),
          whole.map((e) => [e.path, e.type, e.size]),
          `limit ${limit}: what list() shows`,
        );
        assert.equal(pages, Math.max(1, Math.ceil(whole.length / limit)), `limit ${limit}: pages`);
      }
      const sorted = [...all, 'dir'].sort(compareUtf8);
      assert.deepEqual(names(whole), sorted);
      // startAfter need not be a child: the page starts at the next name.
      const from = await fs.listPage(dir, { startAfter: 'a,', limit: 3 });
      assert.deepEqual(names(from.entries), sorted.filter((n) => compareUtf8(n, 'a,') > 0).slice(0, 3));
      const last = await fs.listPage(dir, { startAfter: sorted[sorted.length - 1]!, limit: 3 });
      assert.deepEqual(last, { entries: [] }, 'after the last name: an empty last page');
      assert.deepEqual(await fs.listPage(`${dir}/dir`), { entries: [] }, 'an empty directory');
    },
  },
  {
    name: 'listPage of "/" pages through mount points; a file or a missing path fails as list() does',
    async run(ctx) {
      const { fs, dir } = ctx;
      const { entries } = await walkPages(fs, '/', { limit: 1 });
      assert.deepEqual(names(entries), names(await fs.list('/')));
      const mine = entries.find((e) => e.path === ctx.mount);
      assert.equal(mine?.type, 'directory');
      assert.equal(mine?.mount, ctx.mount, 'a mount point belongs to its own mount');
      await fs.write(`${dir}/f`, source('f'));
      await expectCode('NOT_A_DIRECTORY', 'listPage of a file', () => fs.listPage(`${dir}/f`));
      await expectCode('NOT_FOUND', 'listPage of a missing directory', () => fs.listPage(`${dir}/missing`));
    },
  },
  {
    name: 'listPage rejects a bad limit or startAfter with INVALID_ARGUMENT',
    async run(ctx) {
      const { fs, dir } = ctx;
      for (const limit of [0, -1, 1.5, MAX_LIST_PAGE + 1])
        await expectCode('INVALID_ARGUMENT', `limit ${limit}`, () => fs.listPage(dir, { limit }));
      for (const startAfter of ['a/b', 'nul\0'])
        await expectCode('INVALID_ARGUMENT', `startAfter ${JSON.stringify(startAfter)}`, () =>
          fs.listPage(dir, { startAfter }),
        );
      assert.deepEqual(await fs.listPage(dir, { limit: MAX_LIST_PAGE }), { entries: [] });
    },
  },
  {
    name: 'listPage shows a file written between two pages when the walk reaches its name',
    async run(ctx) {
      const { fs, dir } = ctx;
      for (const n of ['a', 'b', 'c']) await fs.write(`${dir}/${n}`, source(n));
      const first = await fs.listPage(dir, { limit: 2 });
      assert.deepEqual(names(first.entries), ['a', 'b']);
      await fs.write(`${dir}/bb`, source('bb'));
      await fs.delete(`${dir}/c`);
      const rest = await walkPages(fs, dir, { limit: 2, startAfter: first.nextStartAfter ?? '' });
      assert.deepEqual(names(rest.entries), ['bb']);
    },
  },
  {
    name: 'listPage of a directory of 2,500 files changed in the store: every page, then the changes with sync 0',
    needs: ['stores'],
    async run(ctx) {
      const { fs, dir, localDir } = ctx;
      const all = Array.from({ length: 2500 }, (_, i) => `f-${String(i).padStart(5, '0')}.txt`);
      for (let i = 0; i < all.length; i += 250)
        await Promise.all(all.slice(i, i + 250).map((n) => writeFile(join(localDir, n), n)));
      const walked = await walkPages(fs, dir, { limit: 700, syncIntervalMs: 0 });
      assert.deepEqual(names(walked.entries), all);
      assert.equal(walked.pages, 4);
      assert.equal(walked.entries[10]?.size, Buffer.byteLength(all[10]!));
      // Gone from the store across the chunks the listing was stored in, and one added.
      const gone = new Set([all[0]!, all[999]!, all[1000]!, all[2499]!]);
      for (const n of gone) await rm(join(localDir, n));
      await writeFile(join(localDir, 'f-01000a.txt'), 'new');
      const after = await walkPages(fs, dir, { limit: 1000, syncIntervalMs: 0 });
      const expected = [...all.filter((n) => !gone.has(n)), 'f-01000a.txt'].sort(compareUtf8);
      assert.deepEqual(names(after.entries), expected);
      // A trusting walk now serves the stored listing as it is.
      assert.deepEqual(names((await walkPages(fs, dir, { limit: MAX_LIST_PAGE })).entries), expected);
    },
  },
];
