import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JOB_KINDS, kindsConflict, pathsOverlap } from '../../src/scheduler/job-kinds.js';
import {
  boundRecord,
  MAX_LISTED_FAILURES,
  MAX_RECORD_BYTES,
  newJobRecord,
  recordBytes,
  type SchedulerJob,
  withFailure,
} from '../../src/scheduler/job-record.js';
import { compareTraversal } from '../../src/scheduler/traversal.js';

test('a synthetic 10 M file job with a million failures keeps its record under the bound', () => {
  let job: SchedulerJob = newJobRecord('big', 'load', '/data', {
    replicas: 1,
    skipIfCached: false,
    metadataOnly: false,
  });
  let failures = job.failures;
  // Failure paths as long as a path may be (4 KiB), the worst case for the bound.
  const long = (i: number) => `/data/${'x'.repeat(4000)}/${i}`;
  for (let i = 0; i < 1_000_000; i++)
    failures = withFailure(failures, { path: long(i), code: 'NOT_FOUND', message: 'm'.repeat(500) });
  assert.equal(failures.length, MAX_LISTED_FAILURES);
  assert.ok(failures.every((f) => f.message.length <= 200));
  job = {
    ...job,
    state: 'RUNNING',
    failures,
    counters: {
      listedFiles: 10_000_000,
      listedBytes: 10_000_000 * 1_048_576,
      doneFiles: 8_999_000,
      doneBytes: 8_999_000 * 1_048_576,
      skippedFiles: 0,
      failedFiles: 1_000_000,
      handledBytes: 9_999_000 * 1_048_576,
    },
    cursor: {
      after: long(1),
      nextBatch: 78_126,
      done: [1, 2, 3].map((k) => ({ id: 78_120 + k, first: long(k), last: long(k + 1) })),
    },
  };
  assert.ok(recordBytes(job) > MAX_RECORD_BYTES, 'unbounded, 100 long failures would pass the bound');
  const stored = boundRecord(job);
  assert.ok(recordBytes(stored) <= MAX_RECORD_BYTES, `${recordBytes(stored)} B`);
  assert.ok(stored.failures.length > 0, 'some failures stay listed');
  assert.equal(stored.counters.failedFiles, 1_000_000, 'all of them stay counted');
  assert.deepEqual(stored.cursor, job.cursor);
  // With ordinary paths nothing is dropped.
  const short = {
    ...job,
    cursor: { nextBatch: 1, done: [] },
    failures: failures.map((f, i) => ({ ...f, path: `/data/f${i}` })),
  };
  assert.equal(boundRecord(short).failures.length, MAX_LISTED_FAILURES);
});

test('traversal order: files of a directory before its subdirectories, each in UTF-8 order', () => {
  const order = ['/a/b', '/a/z', '/a/\u{1F600}', '/a/c/x', '/a/c/d/y', '/a/c/e', '/a/d/a', '/a/\uFFFD/q'];
  // '/a/c/e' is a file of /a/c, so it comes before /a/c/d/y (in a subdirectory); U+FFFD sorts before an emoji in UTF-8.
  const expected = ['/a/b', '/a/z', '/a/\u{1F600}', '/a/c/e', '/a/c/x', '/a/c/d/y', '/a/d/a', '/a/\uFFFD/q'];
  assert.deepEqual([...order].sort(compareTraversal), expected);
  assert.equal(compareTraversal('/a/b', '/a/b'), 0);
});

test('the kinds table: what is implemented, which conflict', () => {
  assert.deepEqual(
    Object.entries(JOB_KINDS)
      .filter(([, k]) => k.file !== undefined || k.op !== undefined)
      .map(([name]) => name),
    ['load', 'free', 'persist', 'copy', 'move'],
  );
  // copy and move have no owners' batch op: they run file by file through the scheduler.
  assert.deepEqual(
    Object.entries(JOB_KINDS)
      .filter(([, k]) => k.op === undefined)
      .map(([name]) => name),
    ['copy', 'move'],
  );
  assert.deepEqual(
    Object.entries(JOB_KINDS)
      .filter(([, k]) => k.dst)
      .map(([name]) => name),
    ['copy', 'move'],
  );
  // Every kind takes a bandwidth; copy and move take overwrite.
  assert.ok(Object.values(JOB_KINDS).every((k) => k.options.bandwidth === 0));
  assert.equal(JOB_KINDS.copy!.options.overwrite, false);
  assert.ok(kindsConflict('load', 'free') && kindsConflict('free', 'load'));
  assert.ok(!kindsConflict('load', 'load'));
  assert.ok(pathsOverlap('/a', '/a/b') && pathsOverlap('/a/b', '/a') && pathsOverlap('/', '/x'));
  assert.ok(!pathsOverlap('/a', '/ab'));
});
