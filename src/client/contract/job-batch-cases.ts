import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobBatchRequest, JobBatchResult } from '../../core/file-system.js';
import { MAX_JOB_BATCH_PATHS } from '../../core/file-system.js';
import { patternBytes } from '../../core/pattern-bytes.js';
import { aborted, expectCode, MIB, readAll, source } from './helpers.js';
import type { FsContractCase } from './types.js';

type Done = Extract<JobBatchResult, { outcome: unknown }>;
type Failed = Extract<JobBatchResult, { error: unknown }>;

function done(r: JobBatchResult | undefined, what: string): Done {
  assert.ok(r !== undefined, `${what}: no result`);
  assert.ok('outcome' in r, `${what}: failed: ${'error' in r ? `${r.error.code}: ${r.error.message}` : ''}`);
  return r;
}

function failed(r: JobBatchResult | undefined, what: string): Failed {
  assert.ok(r !== undefined, `${what}: no result`);
  assert.ok('error' in r, `${what}: expected an error, got ${JSON.stringify(r)}`);
  return r;
}

/**
 * jobBatch (the scheduler's per-owner batches). A batch goes to one worker — the first path's
 * owner on a routing client — so figures are checked through status() for the first path only.
 */
export const JOB_BATCH_CASES: readonly FsContractCase[] = [
  {
    name: 'jobBatch load: one result per path in order, done at 100 % with the store bytes read, a missing path is a NOT_FOUND result beside them',
    needs: ['jobBatch'],
    async run({ fs, dir }) {
      const batch = fs.jobBatch!.bind(fs);
      const a = patternBytes(MIB + 333, 61);
      const b = patternBytes(7000, 62);
      await fs.write(`${dir}/a.bin`, source(a), { writeType: 'THROUGH' });
      await fs.write(`${dir}/b.bin`, source(b), { writeType: 'THROUGH' });
      await fs.write(`${dir}/empty.bin`, source(''), { writeType: 'THROUGH' });
      const paths = [`${dir}/a.bin`, `${dir}/missing.bin`, `${dir}/b.bin`, `${dir}/empty.bin`];
      const results = await batch({ op: 'load', paths });
      assert.deepEqual(
        results.map((r) => r.path),
        paths,
        'results follow the request order',
      );
      const first = done(results[0], 'a.bin');
      assert.equal(first.outcome, 'done');
      assert.equal(first.bytes, a.length);
      assert.equal(first.cachedPercent, 100);
      assert.equal(first.storeBytesRead, a.length, 'a cold load reads the whole file from the store');
      const missing = failed(results[1], 'missing.bin');
      assert.equal(missing.error.code, 'NOT_FOUND');
      assert.equal(missing.error.retryable, false);
      assert.equal(done(results[2], 'b.bin').cachedPercent, 100);
      const empty = done(results[3], 'empty.bin');
      assert.deepEqual([empty.bytes, empty.cachedPercent, empty.storeBytesRead], [0, 100, 0]);
      assert.equal((await fs.status(`${dir}/a.bin`)).cachedPercent, 100, 'status after the batch');

      const again = done((await batch({ op: 'load', paths: [`${dir}/a.bin`] }))[0], 'warm load');
      assert.equal(again.outcome, 'done');
      assert.equal(again.storeBytesRead, 0, 'a warm load reads nothing from the store');
      const skipped = done(
        (await batch({ op: 'load', paths: [`${dir}/a.bin`], options: { skipIfCached: true } }))[0],
        'skipIfCached',
      );
      assert.equal(skipped.outcome, 'skipped');
      assert.deepEqual([skipped.bytes, skipped.cachedPercent, skipped.storeBytesRead], [a.length, 100, 0]);
      assert.ok((await readAll(fs, `${dir}/a.bin`)).equals(a));
      assert.deepEqual(await batch({ op: 'load', paths: [] }), []);
    },
  },
  {
    name: 'jobBatch load options: metadataOnly reads no bytes, skipIfCached loads an uncached file, verify of intact pages repairs none',
    needs: ['jobBatch'],
    async run({ fs, dir }) {
      const batch = fs.jobBatch!.bind(fs);
      const data = patternBytes(300_000, 63);
      const p = `${dir}/m.bin`;
      await fs.write(p, source(data), { writeType: 'THROUGH' });
      const meta = done(
        (await batch({ op: 'load', paths: [p], options: { metadataOnly: true } }))[0],
        'meta',
      );
      assert.deepEqual([meta.outcome, meta.bytes, meta.storeBytesRead], ['done', data.length, 0]);
      assert.equal(meta.cachedPercent, 0, 'metadataOnly cached bytes');
      const dirMeta = done(
        (await batch({ op: 'load', paths: [dir], options: { metadataOnly: true } }))[0],
        'metadataOnly of a directory',
      );
      assert.deepEqual([dirMeta.outcome, dirMeta.bytes], ['done', 0]);
      const loaded = done(
        (await batch({ op: 'load', paths: [p], options: { skipIfCached: true } }))[0],
        'skipIfCached on a cold file',
      );
      assert.equal(loaded.outcome, 'done');
      assert.equal(loaded.cachedPercent, 100);
      const verified = done(
        (await batch({ op: 'load', paths: [p], options: { verify: true } }))[0],
        'verify',
      );
      assert.deepEqual([verified.outcome, verified.repairedPages, verified.storeBytesRead], ['done', 0, 0]);
      const dirLoad = failed((await batch({ op: 'load', paths: [dir] }))[0], 'load of a directory');
      assert.equal(dirLoad.error.code, 'IS_A_DIRECTORY');
    },
  },
  {
    name: 'jobBatch free drops the cached pages (cachedPercent 0); the file still reads',
    needs: ['jobBatch'],
    async run({ fs, dir }) {
      const batch = fs.jobBatch!.bind(fs);
      const data = patternBytes(MIB + 5, 64);
      const p = `${dir}/f.bin`;
      await fs.write(p, source(data), { writeType: 'THROUGH' });
      done((await batch({ op: 'load', paths: [p] }))[0], 'load');
      const freed = await batch({ op: 'free', paths: [p, `${dir}/gone.bin`] });
      const r = done(freed[0], 'free');
      assert.deepEqual([r.outcome, r.bytes, r.cachedPercent], ['done', data.length, 0]);
      assert.equal(failed(freed[1], 'free of a missing file').error.code, 'NOT_FOUND');
      assert.equal((await fs.status(p)).cachedPercent, 0);
      assert.ok((await readAll(fs, p, { readType: 'NO_CACHE' })).equals(data));
    },
  },
  {
    name: 'jobBatch persist uploads a MUST_CACHE file now (then PERSISTED, in the store); nothing pending is skipped',
    needs: ['jobBatch'],
    async run({ fs, dir, localDir, target }) {
      const batch = fs.jobBatch!.bind(fs);
      const data = patternBytes(200_001, 65);
      const p = `${dir}/local.bin`;
      await fs.write(p, source(data), { writeType: 'MUST_CACHE' });
      assert.equal((await fs.status(p)).persistence, 'NOT_PERSISTED');
      await fs.write(`${dir}/through.bin`, source('x'), { writeType: 'THROUGH' });
      const results = await batch({ op: 'persist', paths: [p, `${dir}/through.bin`, `${dir}/nope.bin`] });
      const r = done(results[0], 'persist');
      assert.deepEqual([r.outcome, r.bytes], ['done', data.length]);
      assert.equal(done(results[1], 'persist of a persisted file').outcome, 'skipped');
      assert.equal(failed(results[2], 'persist of a missing file').error.code, 'NOT_FOUND');
      assert.equal((await fs.status(p)).persistence, 'PERSISTED');
      if (target.servesStores) {
        assert.ok((await readFile(join(localDir, 'local.bin'))).equals(data), 'the store holds the bytes');
      }
      assert.equal(done((await batch({ op: 'persist', paths: [p] }))[0], 'again').outcome, 'skipped');
      assert.ok((await readAll(fs, p)).equals(data));
    },
  },
  {
    name: 'jobBatch refuses bad input with INVALID_ARGUMENT (op, paths, options) and an aborted signal with CANCELLED',
    needs: ['jobBatch'],
    async run({ fs, dir }) {
      const batch = fs.jobBatch!.bind(fs);
      const p = `${dir}/x.bin`;
      await fs.write(p, source('x'), { writeType: 'THROUGH' });
      const bad: Array<[string, unknown]> = [
        ['unknown op', { op: 'explode', paths: [p] }],
        ['unknown op, no paths', { op: 'explode', paths: [] }],
        ['paths not an array', { op: 'load', paths: p }],
        ['a path not a string', { op: 'load', paths: [p, 7] }],
        ['too many paths', { op: 'load', paths: Array.from({ length: MAX_JOB_BATCH_PATHS + 1 }, () => p) }],
        ['unknown option', { op: 'load', paths: [p], options: { fast: true } }],
        ['option not a boolean', { op: 'load', paths: [p], options: { verify: 'yes' } }],
      ];
      for (const [what, request] of bad)
        await expectCode('INVALID_ARGUMENT', what, () => batch(request as JobBatchRequest));
      await expectCode('CANCELLED', 'aborted batch', () =>
        batch({ op: 'load', paths: [p] }, { signal: aborted() }),
      );
      assert.equal((await fs.status(p)).cachedPercent, 0, 'refused batches changed nothing');
      const invalid = failed((await batch({ op: 'load', paths: [p, 'relative/path'] }))[1], 'bad path');
      assert.equal(invalid.error.code, 'INVALID_PATH');
    },
  },
];
