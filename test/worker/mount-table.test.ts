import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_STORE_DEADLINE_MS, deadlineOf } from '../../src/ufs/instrumented-store.js';
import { MountTable } from '../../src/worker/mount-table.js';

test("a mount's timeoutMs longer than the store deadline raises it; a shorter one leaves the deadline", () => {
  const record = (options: Record<string, string>) => ({
    ...MountTable.validate('/m', 'http://127.0.0.1:1/'),
    options,
  });
  assert.equal(deadlineOf(record({}).options, DEFAULT_STORE_DEADLINE_MS), 10_000);
  assert.equal(deadlineOf(record({ timeoutMs: '60000' }).options, DEFAULT_STORE_DEADLINE_MS), 60_000);
  assert.equal(deadlineOf(record({ timeoutMs: '500' }).options, DEFAULT_STORE_DEADLINE_MS), 10_000);
  assert.equal(deadlineOf(record({ timeoutMs: 'soon' }).options, DEFAULT_STORE_DEADLINE_MS), 10_000);
  assert.equal(deadlineOf(record({ timeoutMs: '60000' }).options, 0), 0, 'a deadline switched off stays off');
});
