import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupCommit, type GroupOp } from '../../src/meta/group-commit.js';

/** An engine whose synced batches the test releases by hand. */
function heldEngine() {
  const batches: { ops: GroupOp[]; release: (err?: Error) => void }[] = [];
  const write = (ops: GroupOp[]) =>
    new Promise<void>((ok, fail) => {
      batches.push({ ops, release: (err) => (err ? fail(err) : ok()) });
    });
  return { batches, write };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((ok) => setImmediate(ok));
  }
}

test('writes of one turn go out as one synced batch, in order; each caller settles only after its batch was written', async () => {
  const engine = heldEngine();
  const group = new GroupCommit(engine.write);
  const settled: string[] = [];
  const a = group.put('a', '1').then(() => settled.push('a'));
  const b = group.del('b').then(() => settled.push('b'));
  const c = group.put('a', '2').then(() => settled.push('c'));
  await until('the first batch', () => engine.batches.length === 1);
  assert.deepEqual(engine.batches[0]!.ops, [
    { type: 'put', key: 'a', value: '1' },
    { type: 'del', key: 'b' },
    { type: 'put', key: 'a', value: '2' },
  ]);
  // Not written yet: nobody is told it is durable.
  await new Promise<void>((ok) => setImmediate(ok));
  assert.equal(settled.length, 0);
  // Writes that arrive while a batch is in flight wait for it, then go out together.
  const d = group.put('d', '4').then(() => settled.push('d'));
  const e = group.put('e', '5').then(() => settled.push('e'));
  await new Promise<void>((ok) => setImmediate(ok));
  assert.equal(engine.batches.length, 1, 'no second batch beside one in flight');
  engine.batches[0]!.release();
  await Promise.all([a, b, c]);
  assert.deepEqual(settled, ['a', 'b', 'c']);
  await until('the second batch', () => engine.batches.length === 2);
  assert.deepEqual(
    engine.batches[1]!.ops.map((o) => o.key),
    ['d', 'e'],
  );
  assert.deepEqual(settled, ['a', 'b', 'c'], 'the second batch is not written yet');
  engine.batches[1]!.release();
  await Promise.all([d, e]);
  assert.equal(group.batches, 2);
  assert.equal(group.ops, 5);
});

test('a failed batch fails every caller in it, and the next batch is written as usual; drain waits for what was queued', async () => {
  const engine = heldEngine();
  const group = new GroupCommit(engine.write);
  const x = group.put('x', '1');
  const y = group.del('y');
  await until('the batch', () => engine.batches.length === 1);
  const z = group.put('z', '3');
  engine.batches[0]!.release(new Error('disk full'));
  await assert.rejects(x, /disk full/);
  await assert.rejects(y, /disk full/);
  await until('the next batch', () => engine.batches.length === 2);
  let drained = false;
  const drain = group.drain().then(() => {
    drained = true;
  });
  await new Promise<void>((ok) => setImmediate(ok));
  assert.equal(drained, false, 'drain waits for the batch in flight');
  engine.batches[1]!.release();
  await z;
  await drain;
  assert.equal(drained, true);
});
