import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { connect } from '../../src/client/connect.js';
import type { StrataFileSystem } from '../../src/core/file-system.js';
import { metric, type RunningStrata, startLocal, tempDir, waitFor } from '../helpers/local-process.js';
import { contentOf, logEvents, readAllBytes } from './fault-helpers.js';

/**
 * Issue 16, item 1, "kill -9 of a worker under a mixed load of reads and writes": `strata local`
 * with a CACHE_THROUGH mount (/ct) and an ASYNC_THROUGH mount (/at) on file:// stores, writers on
 * both and readers of files cached before and written during the load, then SIGKILL. Every
 * acknowledged CACHE_THROUGH write is in its store at once; every acknowledged ASYNC_THROUGH write
 * (none persisted before the kill: --persist-delay 1h) is in its store after the restart, from
 * the journal; an unacknowledged write reads as absent or whole; no read ever got wrong bytes
 * (every file's content is derived from its path).
 */

const KiB = 1024;
const SEEDED = Array.from({ length: 10 }, (_, i) => `/ct/seed-${i}.bin`);
const SEED_BYTES = 512 * KiB;
const WANTED_ACKS = 30;

describe('kill -9 under a mixed load: acknowledged writes survive, no reader gets wrong bytes', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let dataDir: string;
  let ufs: string;
  let strata: RunningStrata | undefined;
  let fs: (StrataFileSystem & { close(): Promise<void> }) | undefined;
  const figures: string[] = [];
  /** path → size of every write started; `acked`: those whose write() resolved. */
  const attempted = new Map<string, number>();
  const acked = new Map<string, number>();
  let reads = 0;
  let wrongReads = 0;
  let failedReads = 0;

  const start = async () => {
    strata = await startLocal([
      '--data-dir',
      dataDir,
      '--mount',
      `/ct=file://${join(ufs, 'ct')}`,
      '--page-size',
      '64KiB',
      '--memory-capacity',
      '4MiB',
      '--persist-delay',
      '1h',
      '--s3-port',
      'off',
    ]);
    fs = await connect(strata.registry);
  };
  const storePath = (path: string) => join(ufs, path.slice(1));
  const readBytes = async (path: string) => readAllBytes(await fs!.read(path));

  before(async () => {
    tmp = await tempDir('kill9-load');
    dataDir = join(tmp.dir, 'data');
    ufs = join(tmp.dir, 'ufs');
    await mkdir(join(ufs, 'ct'), { recursive: true });
    await mkdir(join(ufs, 'at'), { recursive: true });
    for (const path of SEEDED) await writeFile(storePath(path), contentOf(path, SEED_BYTES));
    await start();
    await fs!.mount('/at', `file://${join(ufs, 'at')}`, { writeType: 'ASYNC_THROUGH' });
    for (const path of SEEDED) assert.ok((await readBytes(path)).equals(contentOf(path, SEED_BYTES)));
  });

  after(async () => {
    await fs?.close().catch(() => undefined);
    await strata?.stop();
    await tmp?.cleanup();
    if (figures.length > 0) console.log(`# kill9-mixed-load figures: ${figures.join('; ')}`);
  });

  test('kill -9 mid-load: CACHE_THROUGH acknowledged writes are in the store at once, no reader got wrong bytes', async () => {
    let stopLoad = false;
    const sizeOf = (n: number) => ((n * 104_729) % (300 * KiB)) + 1;
    const writer = async (mount: 'ct' | 'at', w: number) => {
      for (let n = 0; !stopLoad; n++) {
        const path = `/${mount}/w${w}-${n}.bin`;
        const size = sizeOf(n * 7 + w);
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
        const pool = [...SEEDED.map((p) => [p, SEED_BYTES] as const), ...acked];
        const [path, size] = pool[Math.floor(Math.random() * pool.length)]!;
        let got: Buffer;
        try {
          got = await readBytes(path);
        } catch {
          failedReads++; // a read the kill cut off: an error, never bytes
          if (stopLoad || strata!.child.exitCode !== null || strata!.child.signalCode !== null) return;
          continue;
        }
        reads++;
        if (!got.equals(contentOf(path, size))) wrongReads++;
      }
    };
    const load = Promise.all([
      ...[0, 1, 2].map((w) => writer('ct', w)),
      ...[0, 1, 2].map((w) => writer('at', w)),
      ...[0, 1, 2].map(() => reader()),
    ]);
    const count = (mount: string) => [...acked.keys()].filter((p) => p.startsWith(`/${mount}/`)).length;
    await waitFor(
      `${WANTED_ACKS} acknowledged writes on each mount`,
      async () => (count('ct') >= WANTED_ACKS && count('at') >= WANTED_ACKS) || undefined,
      90_000,
    );
    const pendingBefore = await metric(strata!.registry, 'strata_async_persist_pending');
    await strata!.kill(); // SIGKILL with writes and reads in flight
    stopLoad = true;
    await load;
    await fs!.close().catch(() => undefined);
    fs = undefined;

    assert.equal(wrongReads, 0, `no read got wrong bytes (${reads} reads)`);
    for (const [path, size] of acked) {
      if (!path.startsWith('/ct/')) continue;
      const stored = await readFile(storePath(path));
      assert.ok(stored.equals(contentOf(path, size)), `${path} acknowledged and in the store`);
    }
    // The premise of the next test: the ASYNC_THROUGH writes were not persisted before the kill.
    let persistedEarly = 0;
    for (const path of acked.keys()) {
      if (path.startsWith('/at/') && (await readFile(storePath(path)).catch(() => undefined)))
        persistedEarly++;
    }
    assert.equal(
      persistedEarly,
      0,
      'no ASYNC_THROUGH write was persisted before the kill (persist delay 1 h)',
    );
    assert.ok(
      pendingBefore >= WANTED_ACKS,
      `strata_async_persist_pending was ${pendingBefore} before the kill`,
    );
    figures.push(
      `kill -9 after ${count('ct')} CACHE_THROUGH + ${count('at')} ASYNC_THROUGH acknowledged writes (${attempted.size} started), ${reads} reads checked, ${failedReads} cut off by the kill, 0 wrong`,
    );
  });

  test('after the restart: every acknowledged ASYNC_THROUGH write reaches its store from the journal; every file reads right or is absent', async () => {
    const t0 = performance.now();
    await start();
    const recovered = logEvents(strata!.stderr(), 'persist_recovered')[0];
    const asyncAcked = [...acked].filter(([p]) => p.startsWith('/at/'));
    assert.ok(
      Number(recovered?.toPersist) >= asyncAcked.length,
      `persist_recovered re-queued the journal: ${JSON.stringify(recovered)}`,
    );
    await waitFor(
      'every acknowledged ASYNC_THROUGH write in its store',
      async () => {
        for (const [path, size] of asyncAcked) {
          const stored = await readFile(storePath(path)).catch(() => undefined);
          if (stored === undefined || !stored.equals(contentOf(path, size))) return undefined;
        }
        return true;
      },
      90_000,
    );
    const persistMs = Math.round(performance.now() - t0);
    await waitFor('no write left pending', async () => {
      return (await metric(strata!.registry, 'strata_async_persist_pending')) === 0 || undefined;
    });
    let absent = 0;
    for (const [path, size] of attempted) {
      let got: Buffer;
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
    for (const path of SEEDED) assert.ok((await readBytes(path)).equals(contentOf(path, SEED_BYTES)));
    assert.equal(await metric(strata!.registry, 'strata_page_store_checksum_failures_total'), 0);
    figures.push(
      `restart + ${asyncAcked.length} ASYNC_THROUGH persists from the journal in ${persistMs} ms; ${absent} unacknowledged writes absent, the others whole`,
    );
  });
});
