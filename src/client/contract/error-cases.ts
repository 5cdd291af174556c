import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { exists, expectCode, names, readAll, source } from './helpers.js';
import { type FsContractCase, READ_ONLY_FIXTURE } from './types.js';

/** The stable error codes of the one table. */
export const ERROR_CASES: readonly FsContractCase[] = [
  {
    name: 'missing paths are NOT_FOUND for every method that names one',
    async run(ctx) {
      const { fs, dir } = ctx;
      const p = `${dir}/missing`;
      await expectCode('NOT_FOUND', 'status', () => fs.status(p));
      await expectCode('NOT_FOUND', 'list', () => fs.list(p));
      await expectCode('NOT_FOUND', 'read', () => fs.read(p));
      await expectCode('NOT_FOUND', 'delete', () => fs.delete(p));
      await expectCode('NOT_FOUND', 'delete recursive', () => fs.delete(p, { recursive: true }));
      await expectCode('NOT_FOUND', 'rename from', () => fs.rename(p, `${dir}/other`));
      await expectCode('NOT_FOUND', 'load', () => fs.load(p));
      await expectCode('NOT_FOUND', 'free', () => fs.free(p));
      await expectCode('NOT_FOUND', 'pin', () => fs.pin(p, true));
      await expectCode('NOT_FOUND', 'setTtl', () => fs.setTtl(p, 60_000));
      await expectCode('NOT_FOUND', 'du', () => fs.du(p));
      await expectCode('NOT_FOUND', 'status below a missing directory', () => fs.status(`${p}/deeper/x`));
      await expectCode('NOT_FOUND', 'status in the read-only mount', () =>
        fs.status(`${ctx.readOnlyMount}/missing`),
      );
      assert.ok(!(await exists(fs, `${dir}/other`)));
    },
  },
  {
    name: 'reading a directory or writing onto one (or onto a mount point) is IS_A_DIRECTORY',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.mkdir(`${dir}/d`);
      await fs.write(`${dir}/d/keep.txt`, source('keep'));
      await expectCode('IS_A_DIRECTORY', 'read of a directory', () => fs.read(`${dir}/d`));
      await expectCode('IS_A_DIRECTORY', 'write onto a directory', () =>
        fs.write(`${dir}/d`, source('x'), { size: 1 }),
      );
      await expectCode('IS_A_DIRECTORY', 'read of a mount point', () => fs.read(ctx.mount));
      await expectCode('IS_A_DIRECTORY', 'write onto a mount point', () =>
        fs.write(ctx.otherMount, source('x'), { size: 1 }),
      );
      assert.equal((await fs.status(`${dir}/d`)).type, 'directory');
      assert.equal((await readAll(fs, `${dir}/d/keep.txt`)).toString(), 'keep');
    },
  },
  {
    name: 'listing a file, or a path below a file, is NOT_A_DIRECTORY',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.write(`${dir}/f.txt`, source('f'));
      await expectCode('NOT_A_DIRECTORY', 'list of a file', () => fs.list(`${dir}/f.txt`));
      await expectCode('NOT_A_DIRECTORY', 'write below a file', () =>
        fs.write(`${dir}/f.txt/x`, source('x'), { size: 1 }),
      );
    },
  },
  {
    name: 'rename onto an existing file or directory is ALREADY_EXISTS and changes nothing',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.write(`${dir}/a.txt`, source('a'));
      await fs.write(`${dir}/b.txt`, source('b'));
      await fs.mkdir(`${dir}/d`);
      await expectCode('ALREADY_EXISTS', 'rename onto a file', () =>
        fs.rename(`${dir}/a.txt`, `${dir}/b.txt`),
      );
      await expectCode('ALREADY_EXISTS', 'rename onto a directory', () =>
        fs.rename(`${dir}/a.txt`, `${dir}/d`),
      );
      await expectCode('ALREADY_EXISTS', 'rename a directory onto a file', () =>
        fs.rename(`${dir}/d`, `${dir}/b.txt`),
      );
      assert.equal((await readAll(fs, `${dir}/a.txt`)).toString(), 'a');
      assert.equal((await readAll(fs, `${dir}/b.txt`)).toString(), 'b');
      assert.equal((await fs.status(`${dir}/d`)).type, 'directory');
    },
  },
  {
    name: 'deleting a non-empty directory without recursive is DIRECTORY_NOT_EMPTY',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.write(`${dir}/d/f.txt`, source('f'));
      await expectCode('DIRECTORY_NOT_EMPTY', 'delete', () => fs.delete(`${dir}/d`));
      await expectCode('DIRECTORY_NOT_EMPTY', 'delete recursive: false', () =>
        fs.delete(`${dir}/d`, { recursive: false }),
      );
      assert.equal((await readAll(fs, `${dir}/d/f.txt`)).toString(), 'f');
    },
  },
  {
    name: 'paths with "..", ".", empty segments, NUL or no leading slash are INVALID_PATH for every method, and nothing is written',
    async run(ctx) {
      const { fs, dir } = ctx;
      await fs.write(`${dir}/ok.txt`, source('ok'));
      const bad = [`${dir}/../x`, `${dir}/./x`, `${dir}//x`, `${dir}/a\0b`, 'relative/x'];
      for (const p of bad) {
        const q = JSON.stringify(p);
        await expectCode('INVALID_PATH', `status(${q})`, () => fs.status(p));
        await expectCode('INVALID_PATH', `list(${q})`, () => fs.list(p));
        await expectCode('INVALID_PATH', `read(${q})`, () => fs.read(p));
        await expectCode('INVALID_PATH', `write(${q})`, () => fs.write(p, source('x'), { size: 1 }));
        await expectCode('INVALID_PATH', `delete(${q})`, () => fs.delete(p, { recursive: true }));
        await expectCode('INVALID_PATH', `mkdir(${q})`, () => fs.mkdir(p));
        await expectCode('INVALID_PATH', `rename(${q}, ok)`, () => fs.rename(p, `${dir}/new`));
        await expectCode('INVALID_PATH', `rename(ok, ${q})`, () => fs.rename(`${dir}/ok.txt`, p));
        await expectCode('INVALID_PATH', `load(${q})`, () => fs.load(p));
        await expectCode('INVALID_PATH', `free(${q})`, () => fs.free(p));
        await expectCode('INVALID_PATH', `pin(${q})`, () => fs.pin(p, true));
        await expectCode('INVALID_PATH', `setTtl(${q})`, () => fs.setTtl(p, 1000));
        await expectCode('INVALID_PATH', `du(${q})`, () => fs.du(p));
      }
      assert.deepEqual(names(await fs.list(dir)), ['ok.txt']);
      if (ctx.target.servesStores) {
        const leaked = await stat(join(ctx.localDir, '..', 'x')).then(
          () => true,
          () => false,
        );
        assert.ok(!leaked, 'a write escaped the case directory');
      }
    },
  },
  {
    name: 'an empty path is INVALID_PATH',
    async run({ fs, dir }) {
      await expectCode('INVALID_PATH', 'status("")', () => fs.status(''));
      await expectCode('INVALID_PATH', 'list("")', () => fs.list(''));
      await expectCode('INVALID_PATH', 'read("")', () => fs.read(''));
      await expectCode('INVALID_PATH', 'mkdir("")', () => fs.mkdir(''));
      await expectCode('INVALID_PATH', 'rename(dir, "")', () => fs.rename(dir, ''));
    },
  },
  {
    name: 'write, mkdir, delete and rename in a read-only mount are READ_ONLY and change nothing',
    async run(ctx) {
      const { fs } = ctx;
      const ro = ctx.readOnlyMount;
      await expectCode('READ_ONLY', 'write', () => fs.write(`${ro}/new.txt`, source('x'), { size: 1 }));
      await expectCode('READ_ONLY', 'overwrite', () =>
        fs.write(`${ro}/fixture.txt`, source('x'), { size: 1 }),
      );
      await expectCode('READ_ONLY', 'mkdir', () => fs.mkdir(`${ro}/newdir`));
      await expectCode('READ_ONLY', 'delete of a file', () => fs.delete(`${ro}/fixture.txt`));
      await expectCode('READ_ONLY', 'delete of a directory', () => fs.delete(`${ro}/empty`));
      await expectCode('READ_ONLY', 'rename', () => fs.rename(`${ro}/fixture.txt`, `${ro}/moved.txt`));
      assert.ok((await readAll(fs, `${ro}/fixture.txt`)).equals(READ_ONLY_FIXTURE));
      assert.deepEqual(names(await fs.list(ro)), ['empty', 'fixture.txt']);
      const info = (await fs.mounts()).find((m) => m.path === ro);
      assert.equal(info?.readOnly, true);
    },
  },
  {
    name: 'paths outside every mount are NOT_MOUNTED',
    needs: ['unmountedPaths'],
    async run(ctx) {
      const { fs } = ctx;
      const p = `${ctx.unmounted}/x`;
      await expectCode('NOT_MOUNTED', 'status', () => fs.status(p));
      await expectCode('NOT_MOUNTED', 'status of the top-level directory', () => fs.status(ctx.unmounted));
      await expectCode('NOT_MOUNTED', 'list', () => fs.list(ctx.unmounted));
      await expectCode('NOT_MOUNTED', 'read', () => fs.read(p));
      await expectCode('NOT_MOUNTED', 'write', () => fs.write(p, source('x'), { size: 1 }));
      await expectCode('NOT_MOUNTED', 'mkdir', () => fs.mkdir(p));
      await expectCode('NOT_MOUNTED', 'delete', () => fs.delete(p));
      assert.ok(!(await fs.list('/')).some((e) => e.path === ctx.unmounted));
    },
  },
];
