import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { failureLines } from '../../src/cli/job-output.js';
import {
  bar,
  ellipsize,
  etaSeconds,
  formatEta,
  labelText,
  progressFraction,
  RateMeter,
  render,
} from '../../src/cli/progress-bar.js';
import type { JobInfo } from '../../src/core/jobs.js';
import { parseRate } from '../../src/core/units.js';

/** The progress bar's pure parts: one line within the width, whatever the job looks like. */

const MiB = 1024 * 1024;

function job(over: Partial<JobInfo> = {}): JobInfo {
  return {
    id: 'j1',
    kind: 'load',
    path: '/s3/datasets/train',
    options: {},
    state: 'RUNNING',
    filesDone: 0,
    filesSkipped: 0,
    filesFailed: 0,
    filesTotal: 0,
    listingDone: true,
    bytesDone: 0,
    bytesTotal: 0,
    pagesRepaired: 0,
    failures: [],
    createdAtMs: 1_000,
    updatedAtMs: 1_000,
    ...over,
  };
}

const mid = job({ filesDone: 2520, filesTotal: 6000, bytesDone: 2520 * MiB, bytesTotal: 6000 * MiB });
const rate = { bytesPerSecond: 200 * MiB, filesPerSecond: 200 };

describe('progress bar', () => {
  test('at 0 % with nothing listed yet: unknown percent and totals, an empty bar', () => {
    assert.equal(
      render(job(), undefined, 120),
      'RUNNING  load /s3/datasets/train  [------------------------------]  ?%  0/? files  0B/?  ETA ?  0 failed',
    );
    const listed = render(job({ filesTotal: 10, bytesTotal: 10 * MiB }), undefined, 100);
    assert.match(listed, /\[-+\] {2}0% {2}0\/10 files {2}0B\/10\.0MiB {2}ETA \?/);
  });

  test('mid-way: bar, percent, files and bytes of the total, rate and ETA', () => {
    const line = render(mid, rate, 120);
    assert.equal(
      line,
      'RUNNING  load /s3/datasets/train  [######----------]  42%  2520/6000 files  2.5GiB/5.9GiB  200.0MiB/s  ETA 18s  0 failed',
    );
    // 42 % of the bar's inner cells are full.
    const cells = /\[(#*)(-*)\]/.exec(line);
    const inner = (cells?.[1]?.length ?? 0) + (cells?.[2]?.length ?? 0);
    assert.equal(cells?.[1]?.length, Math.floor(0.42 * inner));
  });

  test('at 100 %: the final state, a full bar, the time it took, no rate or ETA', () => {
    const done = job({
      state: 'SUCCEEDED',
      filesDone: 6000,
      filesTotal: 6000,
      bytesDone: 6000 * MiB,
      bytesTotal: 6000 * MiB,
      startedAtMs: 1_000,
      endedAtMs: 32_000,
    });
    const line = render(done, rate, 120);
    assert.equal(
      line,
      'SUCCEEDED  load /s3/datasets/train  [##########################]  100%  6000/6000 files  5.9GiB/5.9GiB  in 31s  0 failed',
    );
    assert.doesNotMatch(line, /ETA|MiB\/s/);
    // An empty tree that succeeded is 100 %, not "?".
    assert.match(render(job({ state: 'SUCCEEDED' }), undefined, 80), /100% {2}0\/0 files/);
    // …but one cancelled before anything was listed is not.
    assert.match(
      render(job({ state: 'CANCELLED' }), undefined, 80),
      /^CANCELLED {2}.* {2}\?% {2}0\/0 files {2}0B\/0B {2}0 failed$/,
    );
  });

  test('while the listing goes on the total is marked "N+" and there is no ETA yet', () => {
    const line = render({ ...mid, listingDone: false }, rate, 140);
    assert.match(line, / 2520\/6000\+ files /);
    assert.match(line, /ETA \?/);
    assert.match(render(mid, rate, 140), / 2520\/6000 files .*ETA \d/);
  });

  test('on a terminal of normal width the label and the bar stay even when every figure is shown', () => {
    const line = render(
      job({ path: '/m/paced', filesDone: 512, filesTotal: 512, bytesDone: 8 * MiB, bytesTotal: 8 * MiB }),
      { bytesPerSecond: 2.2 * MiB, filesPerSecond: 140 },
      99,
    );
    assert.match(line, /^RUNNING {2}load \/m\/paced {2}\[#+\] {2}100% {2}512\/512 files {2}8\.0MiB\/8\.0MiB/);
    assert.ok(line.length <= 99, line);
  });

  test('failures: counted, kept before the rate and ETA when the line is short, and the percent is by files', () => {
    const failing = job({
      filesDone: 2517,
      filesFailed: 3,
      filesTotal: 6000,
      bytesDone: 2517 * MiB,
      bytesTotal: 6000 * MiB,
    });
    assert.match(render(failing, rate, 120), / {2}42% {2}2517\/6000 files {2}.* {2}3 failed$/);
    assert.equal(render(failing, rate, 40), 'RUNNING  42%  2517/6000 files  3 failed');
    assert.equal(render(mid, rate, 40), 'RUNNING  42%  2520/6000 files  ETA 18s');
    // By files when some failed (their bytes are not in bytesDone): 2520 of 6000 handled.
    assert.equal(progressFraction(failing), 2520 / 6000);
    const ended = render(
      { ...failing, state: 'COMPLETED_WITH_FAILURES', filesDone: 5997, filesTotal: 6000 },
      undefined,
      120,
    );
    assert.match(ended, /^COMPLETED_WITH_FAILURES {2}.*100% {2}5997\/6000 files {2}.*3 failed$/);
  });

  test('narrow widths: never longer than the width, state and percent kept to the last', () => {
    for (const width of [200, 120, 100, 80, 60, 40, 30, 20, 14, 12, 5, 0]) {
      for (const j of [job(), mid, job({ ...mid, filesFailed: 9 })]) {
        const line = render(j, rate, width);
        assert.ok(line.length <= width, `${width}: ${JSON.stringify(line)}`);
        if (width >= 14)
          assert.match(line, /^RUNNING {2}(\?|42)%|^RUNNING {2}.*(\?|42)%/, `${width}: ${line}`);
      }
    }
    assert.equal(render(mid, rate, 12), 'RUNNING  42%');
    assert.equal(render(mid, rate, 5), 'RUNNI');
    // A long path keeps its end when it shares the room with the bar.
    const long = job({ ...mid, path: `/s3/${'x'.repeat(200)}/part-0001.parquet` });
    const line = render(long, undefined, 140);
    assert.ok(line.length <= 140);
    assert.match(line, /^RUNNING {2}load …x+\/part-0001\.parquet {2}\[/);
    assert.equal(labelText('load', '/s3/datasets/train', 17), 'load …asets/train');
    assert.equal(labelText('load', '/s3/datasets/train', 8), 'loa…rain');
  });

  test('load --verify: repaired pages are shown when there are some', () => {
    const verified = job({ ...mid, pagesRepaired: 3 });
    assert.match(render(verified, rate, 140), / {2}0 failed {2}3 pages repaired$/);
    assert.doesNotMatch(render(mid, rate, 140), /repaired/);
  });

  test('failureLines: notes, then the listed failures, then how many more', () => {
    const ended = {
      ...mid,
      state: 'COMPLETED_WITH_FAILURES',
      filesFailed: 12,
      failures: Array.from({ length: 11 }, (_, i) => ({
        path: `/m/f${i}`,
        code: 'NOT_FOUND',
        message: 'gone',
      })),
      notes: ['2 live workers for 3 replicas'],
    } as JobInfo;
    const lines = failureLines(ended)
      .split('\n')
      .filter((l) => l !== '');
    assert.equal(lines[0], '  note: 2 live workers for 3 replicas');
    assert.equal(lines[1], '  failed: /m/f0: NOT_FOUND: gone');
    assert.equal(lines.length, 1 + 10 + 1);
    assert.equal(lines.at(-1), `  … and 2 more failed (strata job status --json ${ended.id})`);
    assert.equal(failureLines(mid), '');
  });

  test('bar, ellipsize, ETA formatting', () => {
    assert.equal(bar(0.5, 12), '[#####-----]');
    assert.equal(bar(undefined, 6), '[----]');
    assert.equal(bar(1, 6), '[####]');
    assert.equal(ellipsize('abcdefghij', 5), 'ab…ij');
    assert.equal(ellipsize('abc', 5), 'abc');
    assert.equal(formatEta(0.2), '1s');
    assert.equal(formatEta(245), '4m05s');
    assert.equal(formatEta(7_800), '2h10m');
    assert.equal(formatEta(3 * 86_400 + 4 * 3600), '3d4h');
    assert.equal(etaSeconds(mid, rate), (3480 * MiB) / (200 * MiB));
    assert.equal(etaSeconds(mid, undefined), undefined);
    // Metadata-only loads move no bytes: the ETA comes from files per second.
    const meta = job({ filesDone: 100, filesTotal: 400 });
    assert.equal(etaSeconds(meta, { bytesPerSecond: 0, filesPerSecond: 50 }), 6);
    assert.match(render(meta, { bytesPerSecond: 0, filesPerSecond: 50 }, 120), /50 files\/s {2}ETA 6s/);
  });

  test('RateMeter: bytes and files per second over its window; a stall falls to 0', () => {
    const meter = new RateMeter(5_000);
    assert.equal(meter.rate(), undefined);
    meter.add(0, job());
    assert.equal(meter.rate(), undefined, 'one sample spans no time');
    for (let t = 1; t <= 10; t++) meter.add(t * 1000, job({ bytesDone: t * 10 * MiB, filesDone: t * 4 }));
    assert.deepEqual(meter.rate(), { bytesPerSecond: 10 * MiB, filesPerSecond: 4 });
    // Nothing moves for the whole window: the rate over it is 0.
    const stalled = job({ bytesDone: 100 * MiB, filesDone: 40 });
    for (let t = 11; t <= 16; t++) meter.add(t * 1000, stalled);
    assert.deepEqual(meter.rate(), { bytesPerSecond: 0, filesPerSecond: 0 });
  });
});

describe('parseRate', () => {
  test('units as parseSize (binary), with or without /s; a bare number is bytes per second', () => {
    assert.equal(parseRate('20MiB/s'), 20 * MiB);
    assert.equal(parseRate('20MiB/s'), 20_971_520);
    assert.equal(parseRate('100MB/s'), 100 * MiB);
    assert.equal(parseRate('1.5GiB/s'), 1.5 * 1024 * MiB);
    assert.equal(parseRate('200MiB'), 200 * MiB);
    assert.equal(parseRate('4096'), 4096);
    assert.equal(parseRate(' 64 KiB / s '), 64 * 1024);
    assert.equal(parseRate('0'), 0);
    assert.equal(parseRate(1000), 1000);
  });

  test('anything else is INVALID_ARGUMENT with examples', () => {
    for (const bad of ['fast', '', '/s', '-5MiB/s', '20MiB/min', '20 parsecs', 'MiB/s', '1e9']) {
      assert.throws(
        () => parseRate(bad, '--bandwidth'),
        (e: Error & { code?: string }) =>
          e.code === 'INVALID_ARGUMENT' && /--bandwidth: cannot parse .*20MiB\/s/.test(e.message),
        bad,
      );
    }
    assert.throws(() => parseRate(-1), /cannot parse/);
    assert.throws(() => parseRate(Number.NaN), /cannot parse/);
  });
});
