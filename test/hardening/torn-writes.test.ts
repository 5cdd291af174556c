import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { connect } from '../../src/client/connect.js';
import type { StrataFileSystem } from '../../src/core/file-system.js';
import { metric, type RunningStrata, startLocal, tempDir, waitFor } from '../helpers/local-process.js';
import { contentOf, logEvents, readAllBytes } from './fault-helpers.js';

/**
 * Issue 16, item 1, "torn writes": what kill -9 of `strata local` can leave behind is detected at
 * the next start (or at the latest on first read), dropped and never served.
 * - Page files: a page cut short mid-payload among the newest pages and one shorter than a header
 *   are dropped at start (the start log `page_store_opened` counts them, and
 *   strata_page_store_checksum_failures_total), a temporary file of an interrupted replacement is
 *   removed; a page cut short among the oldest (past the start check, TORN_CHECK_PAGES) fails its
 *   checks on first read, is dropped and read again from the store.
 * - Metadata records (LevelDB): kill -9 in the middle of a write load; after the restart every
 *   acknowledged write reads back right, an unacknowledged one is absent or whole, never garbage.
 */

const KiB = 1024;
const FILES = Array.from({ length: 20 }, (_, i) => `f-${String(i).padStart(2, '0')}.bin`);
const FILE_BYTES = 256 * KiB;
const PAGE = 16 * KiB;

describe('torn writes: cut-short page files and metadata records after kill -9 are dropped, never served', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let dataDir: string;
  let ufs: string;
  let strata: RunningStrata | undefined;
  let fs: (StrataFileSystem & { close(): Promise<void> }) | undefined;
  const figures: string[] = [];

  const start = async () => {
    strata = await startLocal([
      '--data-dir',
      dataDir,
      '--mount',
      `/data=file://${ufs}`,
      '--page-size',
      String(PAGE),
      '--memory-capacity',
      '1MiB',
      '--s3-port',
      'off',
    ]);
    fs = await connect(strata.registry);
  };
  const crash = async () => {
    await strata?.kill();
    await fs?.close().catch(() => undefined);
    fs = undefined;
  };
  const readBytes = async (path: string) => readAllBytes(await fs!.read(path));

  before(async () => {
    tmp = await tempDir('torn');
    dataDir = join(tmp.dir, 'data');
    ufs = join(tmp.dir, 'ufs');
    await mkdir(ufs, { recursive: true });
    for (const name of FILES) await writeFile(join(ufs, name), contentOf(name, FILE_BYTES));
    await start();
  });

  after(async () => {
    await fs?.close().catch(() => undefined);
    await strata?.stop();
    await tmp?.cleanup();
    if (figures.length > 0) console.log(`# torn-writes figures: ${figures.join('; ')}`);
  });

  test('page files cut short by a crash: dropped at start (or on first read), counted, and read again from the store', async () => {
    for (const name of FILES)
      assert.ok((await readBytes(`/data/${name}`)).equals(contentOf(name, FILE_BYTES)));
    const total = FILES.length * FILE_BYTES;
    // The pages on disk (written after the reads were answered): wait until every one is whole,
    // so the only cut pages are the ones this test makes.
    const pagesDir = join(dataDir, 'pages');
    const listPages = async () => {
      const found: Array<{ path: string; mtimeMs: number; size: number }> = [];
      for (const prefix of await readdir(pagesDir, { withFileTypes: true })) {
        if (!prefix.isDirectory()) continue;
        for (const name of await readdir(join(pagesDir, prefix.name))) {
          if (!name.endsWith('.page')) continue;
          const path = join(pagesDir, prefix.name, name);
          const st = await stat(path).catch(() => undefined);
          if (st) found.push({ path, mtimeMs: st.mtimeMs, size: st.size });
        }
      }
      return found;
    };
    const files = await waitFor('every page written whole to the disk tier', async () => {
      const found = await listPages();
      return found.length === total / PAGE && found.every((f) => f.size === 32 + PAGE) ? found : undefined;
    });
    await crash();
    files.sort((a, b) => a.mtimeMs - b.mtimeMs);
    assert.equal(files.length, total / PAGE, 'one file per page');
    assert.ok(files.length > 256, 'more pages than the start checks (TORN_CHECK_PAGES)');
    const newest = files[files.length - 1]!;
    const nearlyNewest = files[files.length - 2]!;
    const oldest = files[0]!;
    // Cut as a crash leaves them: the time of the last write stays (truncate would bump it).
    const cut = async (file: { path: string; mtimeMs: number }, length: number) => {
      await truncate(file.path, length);
      await utimes(file.path, new Date(file.mtimeMs), new Date(file.mtimeMs));
    };
    await cut(newest, 32 + PAGE / 2); // a write cut mid-payload
    await cut(nearlyNewest, 10); // cut inside the header
    await cut(oldest, 32 + PAGE - 1); // cut by one byte, past the start check
    const temp = `${files[5]!.path}.0badc0de.1.tmp`; // an interrupted replace (write, then rename)
    await copyFile(files[5]!.path, temp);
    await truncate(temp, 100);

    await start();
    const opened = logEvents(strata!.stderr(), 'page_store_opened');
    assert.equal(opened.length, 1, 'one page_store_opened line (one disk tier)');
    assert.deepEqual(
      [opened[0]!.source, opened[0]!.tornPages, opened[0]!.badPages, opened[0]!.tempFilesRemoved],
      ['scan', 1, 1, 1],
      `start log: ${JSON.stringify(opened[0])}`,
    );
    for (const path of [newest.path, nearlyNewest.path, temp]) {
      await assert.rejects(stat(path), { code: 'ENOENT' }, `${path} deleted at start`);
    }
    assert.equal(await metric(strata!.registry, 'strata_page_store_checksum_failures_total'), 2);

    // Every byte read is the file's; the page cut past the start check is caught on its read.
    for (const name of FILES) {
      const got = await readBytes(`/data/${name}`);
      assert.ok(got.equals(contentOf(name, FILE_BYTES)), `${name} reads right after the restart`);
    }
    assert.equal(await metric(strata!.registry, 'strata_page_store_checksum_failures_total'), 3);
    // Dropped on its read, then written again whole from the store's bytes.
    const rewritten = await waitFor('the oldest page written again whole', async () => {
      const st = await stat(oldest.path).catch(() => undefined);
      return st?.size === oldest.size ? st : undefined;
    });
    assert.equal(rewritten.size, 32 + PAGE);
    figures.push(`start after the crash: ${JSON.stringify(opened[0])}`);
  });

  test('metadata records under kill -9 in a write load: acknowledged writes read back right, the rest are absent or whole', async () => {
    const acked = new Map<string, number>();
    const attempted = new Map<string, number>();
    let wrong = 0;
    let stopLoad = false;
    const sizeOf = (n: number) => ((n * 7919) % (96 * KiB)) + 1;
    const writer = async (w: number) => {
      for (let n = 0; !stopLoad; n++) {
        const path = `/data/m-${w}-${n}.bin`;
        const size = sizeOf(n + w * 1000);
        attempted.set(path, size);
        try {
          await fs!.write(path, Readable.from([contentOf(path, size)]), { size });
          acked.set(path, size);
        } catch {
          return; // the process went away
        }
      }
    };
    const reader = async () => {
      while (!stopLoad) {
        const done = [...acked];
        if (done.length === 0) {
          await new Promise((ok) => setImmediate(ok));
          continue;
        }
        const [path, size] = done[Math.floor(Math.random() * done.length)]!;
        try {
          if (!(await readBytes(path)).equals(contentOf(path, size))) wrong++;
        } catch {
          return;
        }
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(writer).concat([reader(), reader()]));
    await waitFor('40 acknowledged writes', async () => acked.size >= 40 || undefined, 60_000);
    await crash(); // kill -9 with writes in flight
    stopLoad = true;
    await load;
    assert.equal(wrong, 0, 'no reader got wrong bytes during the load');

    await start();
    let absent = 0;
    for (const [path, size] of attempted) {
      let got: Buffer | undefined;
      try {
        got = await readBytes(path);
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'NOT_FOUND', `${path}: ${String(err)}`);
        assert.ok(!acked.has(path), `${path} was acknowledged, and is gone`);
        absent++;
        continue;
      }
      assert.ok(got.equals(contentOf(path, size)), `${path}: ${got.length} bytes, not what was written`);
    }
    // The listing agrees: every listed file reads whole.
    const listed = (await fs!.list('/data')).filter((f) => f.path.includes('/m-'));
    for (const f of listed) {
      const size = attempted.get(f.path);
      assert.ok(size !== undefined, `${f.path} was written`);
      assert.ok((await readBytes(f.path)).equals(contentOf(f.path, size)));
    }
    figures.push(
      `kill -9 after ${acked.size} acknowledged writes of ${attempted.size}: ${absent} absent after restart, ${listed.length} listed, 0 wrong`,
    );
  });
});
