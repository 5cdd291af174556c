import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { isStrataError } from '../../core/errors.js';
import { WRITE_TYPES } from '../../core/file-system.js';
import { patternBytes } from '../../core/pattern-bytes.js';
import {
  aborted,
  describeError,
  exists,
  expectCode,
  fileUri,
  freshStore,
  mountedPaths,
  names,
  readAll,
  settle,
  source,
} from './helpers.js';
import type { FsContractCase } from './types.js';

/** AbortSignal on every method. */
export const ABORT_CASES: readonly FsContractCase[] = [
  {
    name: 'abort: status with an aborted signal rejects CANCELLED',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f`, source('f'));
      await expectCode('CANCELLED', 'status', () => fs.status(`${dir}/f`, { signal: aborted() }));
    },
  },
  {
    name: 'abort: a signal aborted with a TimeoutError reason rejects TIMEOUT',
    async run({ fs, dir }) {
      const signal = AbortSignal.abort(new DOMException('deadline passed', 'TimeoutError'));
      await expectCode('TIMEOUT', 'status', () => fs.status(dir, { signal }));
      await expectCode('TIMEOUT', 'list', () => fs.list(dir, { signal }));
    },
  },
  {
    name: 'abort: list with an aborted signal rejects CANCELLED',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f`, source('f'));
      await expectCode('CANCELLED', 'list', () => fs.list(dir, { signal: aborted() }));
    },
  },
  {
    name: 'abort: read with an aborted signal rejects CANCELLED and caches nothing',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.bin`, source(patternBytes(300_000, 1)), { writeType: 'THROUGH' });
      let stream: Readable | undefined;
      try {
        stream = await fs.read(`${dir}/f.bin`, { signal: aborted() });
      } catch (err) {
        assert.ok(isStrataError(err, 'CANCELLED'), `read(): expected CANCELLED, got ${describeError(err)}`);
      }
      if (stream) {
        stream.destroy();
        assert.fail('read() resolved with a stream despite the aborted signal');
      }
      assert.equal((await fs.status(`${dir}/f.bin`)).cachedBytes, 0, 'an aborted read cached bytes');
    },
  },
  {
    name: 'abort: write with an aborted signal rejects CANCELLED and leaves no file nor changes an existing one (every write type)',
    async run({ fs, dir }) {
      await fs.write(`${dir}/existing.txt`, source('old bytes'));
      for (const writeType of WRITE_TYPES) {
        await expectCode('CANCELLED', `write ${writeType}`, () =>
          fs.write(`${dir}/new-${writeType}.txt`, source('new bytes'), { writeType, signal: aborted() }),
        );
        assert.ok(
          !(await exists(fs, `${dir}/new-${writeType}.txt`)),
          `${writeType}: the aborted write left a file`,
        );
        await expectCode('CANCELLED', `overwrite ${writeType}`, () =>
          fs.write(`${dir}/existing.txt`, source('new bytes!'), { writeType, signal: aborted() }),
        );
        assert.equal(
          (await readAll(fs, `${dir}/existing.txt`)).toString(),
          'old bytes',
          `${writeType}: an aborted overwrite changed the file`,
        );
      }
      assert.deepEqual(names(await fs.list(dir, { syncIntervalMs: 0 })), ['existing.txt']);
    },
  },
  {
    name: 'abort: delete with an aborted signal rejects CANCELLED and the file and directory stay',
    async run({ fs, dir }) {
      await fs.write(`${dir}/d/f.txt`, source('f'));
      await expectCode('CANCELLED', 'delete of a file', () =>
        fs.delete(`${dir}/d/f.txt`, { signal: aborted() }),
      );
      await expectCode('CANCELLED', 'recursive delete', () =>
        fs.delete(`${dir}/d`, { recursive: true, signal: aborted() }),
      );
      assert.equal((await readAll(fs, `${dir}/d/f.txt`)).toString(), 'f');
    },
  },
  {
    name: 'abort: mkdir with an aborted signal rejects CANCELLED and makes no directory',
    async run({ fs, dir }) {
      await expectCode('CANCELLED', 'mkdir', () => fs.mkdir(`${dir}/new/deeper`, { signal: aborted() }));
      assert.ok(!(await exists(fs, `${dir}/new`)), 'the aborted mkdir made a directory');
    },
  },
  {
    name: 'abort: rename with an aborted signal rejects CANCELLED and moves nothing',
    async run({ fs, dir }) {
      await fs.write(`${dir}/a.txt`, source('a'));
      await expectCode('CANCELLED', 'rename', () =>
        fs.rename(`${dir}/a.txt`, `${dir}/b.txt`, { signal: aborted() }),
      );
      assert.ok(await exists(fs, `${dir}/a.txt`), 'the source is gone');
      assert.ok(!(await exists(fs, `${dir}/b.txt`)), 'the target appeared');
    },
  },
  {
    name: 'abort: mount with an aborted signal rejects CANCELLED and mounts nothing',
    async run(ctx) {
      const { fs } = ctx;
      const point = `${ctx.prefix}-abort-mount`;
      const store = await freshStore(ctx, 'abort-mount');
      try {
        await expectCode('CANCELLED', 'mount', () => fs.mount(point, fileUri(store), { signal: aborted() }));
        await settle(ctx);
        assert.ok(!(await mountedPaths(fs)).includes(point), 'the aborted mount is listed');
      } finally {
        if ((await mountedPaths(fs)).includes(point)) {
          await fs.unmount(point);
          await settle(ctx);
        }
      }
    },
  },
  {
    name: 'abort: unmount with an aborted signal rejects CANCELLED and the mount stays',
    async run(ctx) {
      const { fs } = ctx;
      const point = `${ctx.prefix}-abort-unmount`;
      await fs.mount(point, fileUri(await freshStore(ctx, 'abort-unmount')));
      await settle(ctx);
      try {
        await expectCode('CANCELLED', 'unmount', () => fs.unmount(point, { signal: aborted() }));
        await settle(ctx);
        assert.ok((await mountedPaths(fs)).includes(point), 'the aborted unmount removed the mount');
      } finally {
        if ((await mountedPaths(fs)).includes(point)) {
          await fs.unmount(point);
          await settle(ctx);
        }
      }
    },
  },
  {
    name: 'abort: mounts with an aborted signal rejects CANCELLED',
    async run({ fs }) {
      await expectCode('CANCELLED', 'mounts', () => fs.mounts({ signal: aborted() }));
    },
  },
  {
    name: 'abort: load with an aborted signal rejects CANCELLED and caches nothing',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.bin`, source(patternBytes(300_000, 2)), { writeType: 'THROUGH' });
      await expectCode('CANCELLED', 'load of a file', () => fs.load(`${dir}/f.bin`, { signal: aborted() }));
      await expectCode('CANCELLED', 'load of a directory', () => fs.load(dir, { signal: aborted() }));
      assert.equal((await fs.status(`${dir}/f.bin`)).cachedBytes, 0, 'the aborted load cached bytes');
    },
  },
  {
    name: 'abort: free with an aborted signal rejects CANCELLED and the file stays cached',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.bin`, source(patternBytes(300_000, 3)));
      assert.equal((await fs.status(`${dir}/f.bin`)).cachedPercent, 100);
      await expectCode('CANCELLED', 'free of a file', () => fs.free(`${dir}/f.bin`, { signal: aborted() }));
      await expectCode('CANCELLED', 'free of a directory', () => fs.free(dir, { signal: aborted() }));
      assert.equal((await fs.status(`${dir}/f.bin`)).cachedPercent, 100, 'the aborted free dropped pages');
    },
  },
  {
    name: 'abort: pin with an aborted signal rejects CANCELLED and pins nothing',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.txt`, source('f'));
      await expectCode('CANCELLED', 'pin', () => fs.pin(`${dir}/f.txt`, true, { signal: aborted() }));
      assert.equal((await fs.status(`${dir}/f.txt`)).pinned, false, 'the aborted pin pinned the file');
    },
  },
  {
    name: 'abort: setTtl with an aborted signal rejects CANCELLED and sets no TTL',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.txt`, source('f'));
      await expectCode('CANCELLED', 'setTtl', () =>
        fs.setTtl(`${dir}/f.txt`, 3_600_000, 'free', { signal: aborted() }),
      );
      assert.equal((await fs.status(`${dir}/f.txt`)).ttlMs, undefined, 'the aborted setTtl set a TTL');
    },
  },
  {
    name: 'abort: du with an aborted signal rejects CANCELLED',
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.txt`, source('f'));
      await expectCode('CANCELLED', 'du', () => fs.du(dir, { signal: aborted() }));
    },
  },
  {
    name: 'abort: report with an aborted signal rejects CANCELLED',
    async run({ fs }) {
      await expectCode('CANCELLED', 'report', () => fs.report({ signal: aborted() }));
    },
  },
  {
    name: 'abort: cachedBytesOf with an aborted signal rejects CANCELLED',
    needs: ['cachedBytesOf'],
    async run({ fs, dir }) {
      const info = await fs.write(`${dir}/f.txt`, source('f'));
      await expectCode('CANCELLED', 'cachedBytesOf', () =>
        fs.cachedBytesOf!([{ path: info.path, fingerprint: info.fingerprint }], { signal: aborted() }),
      );
    },
  },
  {
    name: 'abort: readBuffer with an aborted signal rejects CANCELLED',
    needs: ['readBuffer'],
    async run({ fs, dir }) {
      await fs.write(`${dir}/f.txt`, source('f'));
      await expectCode('CANCELLED', 'readBuffer', () =>
        fs.readBuffer!(`${dir}/f.txt`, { length: 1, signal: aborted() }),
      );
    },
  },
];

/** Optional capability methods agree with the core methods. */
