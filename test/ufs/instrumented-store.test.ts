import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type ErrorCode, isStrataError } from '../../src/core/errors.js';
import { FileUnderStore } from '../../src/ufs/file/file-store.js';
import { InstrumentedStore, type UfsOperation } from '../../src/ufs/instrumented-store.js';
import { type CallOptions, type ListPage, type UfsStatus, UnderStore } from '../../src/ufs/under-store.js';
import { describeUfsContract } from '../helpers/ufs-contract.js';

// The wrapper changes no semantics: the whole contract passes through it.
describeUfsContract('file, through the instrumented wrapper', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-instrumented-contract-'));
  return {
    store: new InstrumentedStore(new FileUnderStore(pathToFileURL(dir), {})),
    close: () => rm(dir, { recursive: true, force: true }),
  };
});

/**
 * A unit-test store whose status() waits until its signal fires (a store that hangs), recording
 * what it was handed, so the test can see the signal reach the connector.
 */
class HangingStore extends UnderStore {
  readonly uri = 'hang://';
  readonly capabilities = {
    writable: false,
    rename: 'none',
    directories: true,
    list: true,
    rangeRead: true,
  } as const;
  readonly seen: AbortSignal[] = [];

  protected _status(_path: string, options: CallOptions): Promise<UfsStatus> {
    const signal = options.signal!;
    this.seen.push(signal);
    return new Promise((_, fail) => {
      signal.addEventListener(
        'abort',
        () => fail(Object.assign(new Error('aborted'), { name: 'AbortError' })),
        {
          once: true,
        },
      );
    });
  }
  protected async _list(): Promise<ListPage> {
    return { entries: [] };
  }
  protected _read(): Promise<Readable> {
    throw new Error('unused');
  }
  protected _write(): Promise<UfsStatus> {
    throw new Error('unused');
  }
  protected async _delete(): Promise<void> {}
  protected async _mkdir(): Promise<void> {}
  protected async _rename(): Promise<void> {}
}

function recorder() {
  const calls: Array<{ op: UfsOperation; seconds: number; code: ErrorCode | undefined }> = [];
  return {
    calls,
    observe: (op: UfsOperation, seconds: number, code: ErrorCode | undefined) =>
      calls.push({ op, seconds, code }),
  };
}

test('a call past the deadline is aborted at the connector and fails with UFS_UNAVAILABLE', async () => {
  const inner = new HangingStore();
  const r = recorder();
  const store = new InstrumentedStore(inner, { deadlineMs: 20, observe: r.observe });
  await assert.rejects(
    store.status('/x'),
    (err: unknown) => isStrataError(err, 'UFS_UNAVAILABLE') && /store deadline/.test(err.message),
  );
  assert.equal(inner.seen.length, 1);
  assert.equal(inner.seen[0]!.aborted, true, 'the connector was handed the signal that fired');
  assert.deepEqual(
    r.calls.map((c) => [c.op, c.code]),
    [['status', 'UFS_UNAVAILABLE']],
  );
});

test("the caller's signal reaches the connector: aborting it fails the call with CANCELLED", async () => {
  const inner = new HangingStore();
  const r = recorder();
  const store = new InstrumentedStore(inner, { deadlineMs: 0, observe: r.observe });
  const controller = new AbortController();
  const call = store.status('/x', { signal: controller.signal });
  controller.abort();
  await assert.rejects(call, (err: unknown) => isStrataError(err, 'CANCELLED'));
  assert.equal(inner.seen[0]!.aborted, true);
  assert.deepEqual(r.calls[0]?.code, 'CANCELLED');
});

test('an already-aborted signal fails before the connector is called', async () => {
  const inner = new HangingStore();
  const store = new InstrumentedStore(inner);
  await assert.rejects(store.status('/x', { signal: AbortSignal.abort() }), (err: unknown) =>
    isStrataError(err, 'CANCELLED'),
  );
  assert.equal(inner.seen.length, 0);
});

test('every call is reported once with its operation, duration and outcome', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-instrumented-'));
  try {
    const r = recorder();
    const store = new InstrumentedStore(new FileUnderStore(pathToFileURL(dir), {}), { observe: r.observe });
    await store.mkdir('/d');
    await store.status('/d');
    await store.listAll('/d');
    await assert.rejects(store.status('/missing'), (err: unknown) => isStrataError(err, 'NOT_FOUND'));
    assert.deepEqual(
      r.calls.map((c) => [c.op, c.code]),
      [
        ['mkdir', undefined],
        ['status', undefined],
        ['list', undefined],
        ['status', 'NOT_FOUND'],
      ],
    );
    assert.ok(r.calls.every((c) => c.seconds >= 0 && Number.isFinite(c.seconds)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('listAll goes to the connector’s own listAll: a file directory is read once, not once per page', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-instrumented-listall-'));
  try {
    const { writeFile } = await import('node:fs/promises');
    for (let i = 0; i < 2500; i++) await writeFile(join(dir, `k${String(i).padStart(5, '0')}`), '');
    let pages = 0;
    class CountingFileStore extends FileUnderStore {
      protected override _list(path: string, options: Parameters<FileUnderStore['list']>[1] = {}) {
        pages++;
        return super._list(path, options);
      }
    }
    const store = new InstrumentedStore(new CountingFileStore(pathToFileURL(dir), {}));
    const all = await store.listAll('/');
    assert.equal(all.length, 2500);
    assert.equal(all[2499]!.path, '/k02499');
    assert.equal(pages, 1, 'one read of the directory (the paged loop read it once per 1,000 entries)');
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
