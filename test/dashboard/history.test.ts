import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type HistorySample, MetricsHistory, mergeHistories } from '../../src/dashboard/history.js';

const sample = (t: number, hitBytes: number): HistorySample => ({
  t,
  hitBytes,
  missBytes: 0,
  storeReadBytes: 0,
  storeWriteBytes: 0,
  evictions: 0,
  usedBytes: 0,
});

describe('dashboard history', () => {
  test('the ring keeps the newest `capacity` samples, oldest first', async () => {
    let now = 0;
    let hits = 0;
    const h = new MetricsHistory(
      async () => {
        const { t: _t, ...values } = sample(0, ++hits);
        return values;
      },
      {
        intervalMs: 1000,
        capacity: 5,
        now: () => (now += 1000),
      },
    );
    for (let i = 0; i < 12; i++) await h.sample();
    const kept = h.samples();
    assert.deepEqual(
      kept.map((s) => s.hitBytes),
      [8, 9, 10, 11, 12],
    );
    assert.deepEqual(
      kept.map((s) => s.t),
      [8000, 9000, 10000, 11000, 12000],
    );
    assert.deepEqual(
      h.samples(10000).map((s) => s.hitBytes),
      [11, 12],
    );
  });

  test('one hour at the default interval; a failed read of the counters leaves a gap, not a throw', async () => {
    let fail = false;
    const h = new MetricsHistory(async () => {
      if (fail) throw new Error('registry gone');
      return { hitBytes: 1, missBytes: 0, storeReadBytes: 0, storeWriteBytes: 0, evictions: 0, usedBytes: 0 };
    });
    assert.equal(h.capacity, 720);
    await h.sample();
    fail = true;
    await h.sample();
    assert.equal(h.samples().length, 1);
  });

  test('histories of several workers merge into buckets, each carried forward and summed', () => {
    const a = [sample(1000, 10), sample(2000, 20), sample(3000, 30)];
    // Sampled 300 ms later than a, and it joined a second later.
    const b = [sample(2300, 5), sample(3300, 7)];
    const merged = mergeHistories([a, b, []], 1000);
    assert.deepEqual(
      merged.map((s) => [s.t, s.hitBytes]),
      [
        [1000, 10],
        [2000, 20],
        [3000, 35],
        [4000, 37],
      ],
    );
    assert.deepEqual(mergeHistories([a], 1000), a);
    assert.deepEqual(mergeHistories([], 1000), []);
  });
});
