import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { TokenBucket } from '../../src/scheduler/token-bucket.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A bucket on a fake clock: `advance` moves the clock and fires the timers that fall due. */
let clock = 0;
const now = () => clock;
function advance(ms: number): void {
  clock += ms;
  mock.timers.tick(ms);
}
/** Lets resolved promises run their continuations. */
const settle = () => new Promise<void>((ok) => setImmediate(ok));

beforeEach(() => {
  clock = 0;
  mock.timers.enable({ apis: ['setTimeout'] });
});
afterEach(() => mock.timers.reset());

test('token bucket: grants at the rate after a small burst, first come first served', async () => {
  const bucket = new TokenBucket(1 * MiB, now);
  const granted: Array<[number, number]> = [];
  // 20 takes of 256 KiB = 5 MiB at 1 MiB/s, the burst (0.1 s = 102.4 KiB... at least 64 KiB) aside.
  for (let i = 0; i < 20; i++) void bucket.take(256 * KiB).then(() => granted.push([i, clock]));
  await settle();
  assert.deepEqual(
    granted.map(([i]) => i),
    [0],
    'the first take is the burst, the rest wait',
  );
  for (let t = 0; t < 6000; t += 10) {
    advance(10);
    await settle();
  }
  assert.deepEqual(
    granted.map(([i]) => i),
    Array.from({ length: 20 }, (_, i) => i),
    'in order',
  );
  // Bytes granted by the last grant ≤ rate × time + one take (the debt rule).
  const last = granted.at(-1)![1] / 1000;
  const bytes = 20 * 256 * KiB;
  assert.ok(bytes <= 1 * MiB * last + 256 * KiB, `${bytes} B granted by ${last} s`);
  assert.ok(bytes >= 1 * MiB * last * 0.97, `not slower than the rate: ${bytes} B by ${last} s`);
  assert.ok(bucket.throttledMs() >= granted.at(-1)![1] - 20, 'throttled while anyone waited');
});

test('token bucket: a take beyond the burst goes into debt that the next taker pays', async () => {
  const bucket = new TokenBucket(100 * KiB, now); // burst 64 KiB
  let big = -1;
  let next = -1;
  void bucket.take(1 * MiB).then(() => {
    big = clock;
  });
  void bucket.take(1).then(() => {
    next = clock;
  });
  await settle();
  assert.equal(big, 0, 'the bucket was full: granted at once, into debt');
  // The debt is 1 MiB − 64 KiB: the next byte waits for it at 100 KiB/s (≈ 9.6 s).
  for (let t = 0; t < 9500; t += 100) {
    advance(100);
    await settle();
  }
  assert.equal(next, -1, 'still paying the debt');
  for (let t = 0; t < 300; t += 10) {
    advance(10);
    await settle();
  }
  assert.ok(next > 9500 && next <= 9800, `granted at ${next} ms`);
});

test('token bucket: the rate changes live; 0 releases the waiters; abort rejects without taking', async () => {
  const bucket = new TokenBucket(10 * KiB, now); // 64 KiB burst, then 10 KiB/s
  await bucket.take(64 * KiB);
  let slow = false;
  void bucket.take(64 * KiB).then(() => {
    slow = true;
  });
  advance(1000);
  await settle();
  assert.equal(slow, false, 'at 10 KiB/s 64 KiB take 6.4 s');
  bucket.setRate(1 * MiB); // the waiter is re-timed: the rest arrives within ~0.06 s
  for (let t = 0; t < 100 && !slow; t += 10) {
    advance(10);
    await settle();
  }
  assert.equal(slow, true, 'granted soon after the rate went up');

  const abort = new AbortController();
  bucket.setRate(1);
  const aborted = bucket.take(10 * KiB, abort.signal);
  abort.abort(new Error('stop'));
  await assert.rejects(aborted, /stop/);
  const freed = bucket.take(1 * MiB);
  bucket.setRate(0);
  assert.equal(await freed, 0, 'unlimited: released at once (no time passed)');
  assert.equal(await bucket.take(100 * MiB), 0);
  assert.throws(() => bucket.setRate(-1), /bandwidth/);
});
