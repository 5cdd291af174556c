import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MountInfo } from '../../core/file-system.js';
import {
  expectCode,
  fileUri,
  freshStore,
  mountedPaths,
  names,
  readAll,
  settle,
  source,
  withHttpRoot,
} from './helpers.js';
import type { FsContractCase } from './types.js';

/** Mount, unmount, mounts and credential masking. */
export const MOUNT_CASES: readonly FsContractCase[] = [
  {
    name: 'mount adds a mount that mounts() lists and that serves its store; MOUNT_CONFLICT on a taken point or a file; unmount removes it',
    async run(ctx) {
      const { fs, dir } = ctx;
      const store = await freshStore(ctx, 'mount-case');
      if (ctx.target.servesStores) await writeFile(join(store, 'hello.txt'), 'hello from the store');
      const point = `${ctx.prefix}-m`;
      const info = await fs.mount(point, fileUri(store), { syncIntervalMs: 5000, writeType: 'THROUGH' });
      try {
        await settle(ctx);
        const expected: MountInfo = {
          path: point,
          uri: fileUri(store),
          readOnly: false,
          fallbackToUfs: false,
          syncIntervalMs: 5000,
          writeType: 'THROUGH',
          options: {},
        };
        assert.deepEqual(info, expected);
        assert.deepEqual(
          (await fs.mounts()).find((m) => m.path === point),
          expected,
        );
        assert.ok(
          (await fs.report()).mounts.some((m) => m.path === point),
          'report() does not list the new mount',
        );
        const st = await fs.status(point);
        assert.equal(st.type, 'directory');
        assert.equal(st.mount, point);
        if (ctx.target.servesStores) {
          assert.deepEqual(names(await fs.list(point)), ['hello.txt']);
          assert.equal((await readAll(fs, `${point}/hello.txt`)).toString(), 'hello from the store');
        }
        // The mount's write type is the default of writes below it.
        await fs.write(`${point}/w.txt`, source('written'));
        assert.equal((await fs.status(`${point}/w.txt`)).cachedBytes, 0, 'not written THROUGH');
        await expectCode('MOUNT_CONFLICT', 'mount on a taken point', () => fs.mount(point, fileUri(store)));
        await fs.write(`${dir}/file`, source('a file'));
        await expectCode('MOUNT_CONFLICT', 'mount onto a file', () =>
          fs.mount(`${dir}/file`, fileUri(store)),
        );
      } finally {
        await fs.unmount(point);
        await settle(ctx);
      }
      assert.ok(!(await mountedPaths(fs)).includes(point), 'still listed after unmount');
      await expectCode(ctx.rootMounted ? 'NOT_FOUND' : 'NOT_MOUNTED', 'status below an unmounted point', () =>
        fs.status(`${point}/w.txt`),
      );
      await expectCode('NOT_MOUNTED', 'unmount of a path that is not a mount point', () => fs.unmount(point));
      assert.equal((await readAll(fs, `${dir}/file`)).toString(), 'a file');
      if (ctx.target.servesStores)
        assert.equal(await readFile(join(store, 'w.txt'), 'utf8'), 'written', 'unmount must keep the store');
    },
  },
  {
    name: 'mount info masks the URI user info and the options the connector declares secret (mount, mounts, report)',
    async run(ctx) {
      const { fs } = ctx;
      const point = `${ctx.prefix}-secret`;
      await withHttpRoot(async (host) => {
        // http declares credential headers secret (Authorization, Cookie, X-Api-Key…, and any a
        // mount names in secretHeaders); other options stay readable, whatever their names.
        const info = await fs.mount(point, `http://alice:s3cr3t-pass@${host}/base`, {
          readOnly: true,
          options: {
            timeoutMs: '5000',
            'header.Authorization': 'Bearer very-secret',
            'header.Cookie': 'session=cookie-1',
            'header.x-api-key': 'api-key-1',
            'header.X-Vault-Token': 'vault-1',
            'header.Accept': 'application/json',
            secretHeaders: 'X-Vault-Token',
          },
        });
        try {
          await settle(ctx);
          const shown = [
            ['mount()', info],
            ['mounts()', (await fs.mounts()).find((m) => m.path === point)],
            ['report()', (await fs.report()).mounts.find((m) => m.path === point)],
          ] as const;
          for (const [where, m] of shown) {
            assert.ok(m, `${where} does not list ${point}`);
            assert.equal(m.uri, `http://${host}/base`, `${where}: uri`);
            assert.deepEqual(
              m.options,
              {
                timeoutMs: '5000',
                'header.Authorization': '****',
                'header.Cookie': '****',
                'header.x-api-key': '****',
                'header.X-Vault-Token': '****',
                'header.Accept': 'application/json',
                secretHeaders: 'X-Vault-Token',
              },
              `${where}: options`,
            );
            const text = JSON.stringify(m);
            for (const secret of ['s3cr3t-pass', 'alice', 'very-secret', 'cookie-1', 'api-key-1', 'vault-1'])
              assert.ok(!text.includes(secret), `${where} shows ${secret}: ${text}`);
          }
        } finally {
          await fs.unmount(point);
          await settle(ctx);
        }
      });
    },
  },
  {
    name: 'a secret option given as its masked form (****) is refused, never stored',
    async run(ctx) {
      const { fs } = ctx;
      const point = `${ctx.prefix}-masked`;
      await withHttpRoot(async (host) => {
        await expectCode('INVALID_ARGUMENT', 'mount with header.Authorization=****', () =>
          fs.mount(point, `http://${host}/`, { readOnly: true, options: { 'header.Authorization': '****' } }),
        );
        await settle(ctx);
        assert.ok(!(await fs.mounts()).some((m) => m.path === point), 'the mount was added');
      });
    },
  },
];
