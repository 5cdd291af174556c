import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_STORE_DEADLINE_MS } from '../../src/ufs/instrumented-store.js';
import { deadlineOf, MountTable } from '../../src/worker/mount-table.js';

test("a mount's timeoutMs longer than the store deadline raises it; a shorter one leaves the deadline", () => {
  const record = (options: Record<string, string>) => ({
    ...MountTable.validate('/m', 'http://127.0.0.1:1/'),
    options,
  });
  assert.equal(deadlineOf(record({}), DEFAULT_STORE_DEADLINE_MS), 10_000);
  assert.equal(deadlineOf(record({ timeoutMs: '60000' }), DEFAULT_STORE_DEADLINE_MS), 60_000);
  assert.equal(deadlineOf(record({ timeoutMs: '500' }), DEFAULT_STORE_DEADLINE_MS), 10_000);
  assert.equal(deadlineOf(record({ timeoutMs: 'soon' }), DEFAULT_STORE_DEADLINE_MS), 10_000);
  assert.equal(deadlineOf(record({ timeoutMs: '60000' }), 0), 0, 'a deadline switched off stays off');
});
