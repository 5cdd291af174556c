import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { isStrataError, StrataError } from '../../src/core/errors.js';
import {
  DEFAULT_STORE_DEADLINE_MS,
  DEFAULT_SUSPECT_DEADLINE_MS,
  DEFAULT_SUSPECT_WINDOW_MS,
  InstrumentedStore,
} from '../../src/ufs/instrumented-store.js';
import { type CallOptions, type ListPage, type UfsStatus, UnderStore } from '../../src/ufs/under-store.js';
import { waitFor } from '../helpers/wait.js';

/** A store whose status hangs until aborted while `silent`, and answers at once otherwise. */
class SwitchableStore extends UnderStore {
  readonly uri = 'http://user:pw-canary@origin.test/base';
  readonly capabilities = {
    writable: false,
    rename: 'none',
    directories: true,
    list: true,
    rangeRead: true,
  } as const;
  silent = true;

  protected _status(path: string, options: CallOptions): Promise<UfsStatus> {
    if (!this.silent) return Promise.resolve({ path, type: 'file', size: 1, mtimeMs: 0 });
    const signal = options.signal!;
    return new Promise((_, fail) =>
      signal.addEventListener(
        'abort',
        () => fail(Object.assign(new Error('aborted'), { name: 'AbortError' })),
        {
          once: true,
        },
      ),
    );
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

const failure = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (err) {
    assert.ok(isStrataError(err, 'UFS_UNAVAILABLE'), `UFS_UNAVAILABLE, got ${String(err)}`);
    return err.message;
  }
  assert.fail('the call succeeded');
};

test('the defaults: a 10 s deadline, then 1 s for 10 s while the store is suspect', () => {
  assert.equal(DEFAULT_STORE_DEADLINE_MS, 10_000);
  assert.equal(DEFAULT_SUSPECT_DEADLINE_MS, 1_000);
  assert.equal(DEFAULT_SUSPECT_WINDOW_MS, 10_000);
});

test('a silent store is suspect after one whole deadline; the first answer clears it', async () => {
  const inner = new SwitchableStore();
  const store = new InstrumentedStore(inner, {
    deadlineMs: 300,
    suspectDeadlineMs: 30,
    suspectWindowMs: 60_000,
  });
  const first = await failure(store.status('/a'));
  assert.match(first, /status \/a: no answer within 300 ms \(the store deadline\)/);
  assert.doesNotMatch(first, /pw-canary/, 'no user info in the message');
  const second = await failure(store.status('/b'));
  assert.match(second, /status \/b: no answer within 30 ms \(the store deadline while the store is suspect/);
  // A short deadline missed does not extend the window or reset it: still suspect.
  assert.match(await failure(store.status('/c')), /within 30 ms/);
  inner.silent = false;
  assert.equal((await store.status('/d')).path, '/d', 'the store answers again: served');
  inner.silent = true;
  assert.match(
    await failure(store.status('/e')),
    /within 300 ms \(the store deadline\)/,
    'suspicion cleared',
  );
});

test('the window ends by itself: a store that is only slow gets a whole deadline again', async () => {
  const inner = new SwitchableStore();
  const store = new InstrumentedStore(inner, {
    deadlineMs: 200,
    suspectDeadlineMs: 20,
    suspectWindowMs: 150,
  });
  assert.match(await failure(store.status('/a')), /within 200 ms/);
  assert.match(await failure(store.status('/b')), /within 20 ms/);
  await waitFor(async () => /within 200 ms/.test(await failure(store.status('/c'))), {
    what: 'a call with the whole deadline once the window has passed',
    timeoutMs: 10_000,
  });
});

test('suspectWindowMs 0 turns it off', async () => {
  const store = new InstrumentedStore(new SwitchableStore(), { deadlineMs: 50, suspectWindowMs: 0 });
  assert.match(await failure(store.status('/a')), /within 50 ms \(the store deadline\)/);
  // A window of 0 ms has ended by the next call.
  assert.match(await failure(store.status('/b')), /within 50 ms \(the store deadline\)/);
});

/** A store that first fails with its own timeout at 95 % of `deadlineMs`, then hangs like SwitchableStore. */
class EarlyTimeoutStore extends SwitchableStore {
  timeoutFirst = true;
  constructor(private readonly deadlineMs: number) {
    super();
  }
  protected override _status(path: string, options: CallOptions): Promise<UfsStatus> {
    if (!this.timeoutFirst) return super._status(path, options);
    this.timeoutFirst = false;
    const ms = Math.round(this.deadlineMs * 0.95);
    return new Promise((_, fail) => {
      const t = setTimeout(
        () =>
          fail(
            new StrataError('UFS_UNAVAILABLE', `HEAD ${path}: the server sent no response within ${ms} ms`),
          ),
        ms,
      );
      options.signal?.addEventListener('abort', () => clearTimeout(t), { once: true });
    });
  }
}

test("a connector's own timeout just before the deadline makes the store suspect too", async () => {
  // The http connector's 10 s timeout, on undici's coarse clock, can beat the 10 s store deadline.
  const inner = new EarlyTimeoutStore(400);
  const store = new InstrumentedStore(inner, {
    deadlineMs: 400,
    suspectDeadlineMs: 30,
    suspectWindowMs: 60_000,
  });
  const first = await failure(store.status('/a'));
  assert.match(first, /the server sent no response within 380 ms/, "the connector's own message is kept");
  const second = await failure(store.status('/b'));
  assert.match(second, /no answer within 30 ms \(the store deadline while the store is suspect/);
});
