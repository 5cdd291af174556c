import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { isStrataError } from '../../src/core/errors.js';
import { compareUtf8 } from '../../src/core/utf8-order.js';
import { createUnderStore } from '../../src/ufs/factory.js';
import { FileUnderStore } from '../../src/ufs/file/file-store.js';
import { describeUfsContract } from '../helpers/ufs-contract.js';

describeUfsContract('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-file-contract-'));
  return {
    store: new FileUnderStore(pathToFileURL(dir), {}),
    close: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('file under-store specifics', () => {
  let base: string;
  let root: string;
  let outside: string;
  let store: FileUnderStore;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'strata-file-'));
    root = join(base, 'root dir');
    outside = join(base, 'outside');
    await mkdir(root);
    await mkdir(outside);
    await writeFile(join(outside, 'secret.txt'), 'secret');
    await writeFile(join(root, 'inside.txt'), 'inside');
    await symlink(outside, join(root, 'out-dir'));
    await symlink(join(outside, 'secret.txt'), join(root, 'out-file'));
    await symlink(join(root, 'inside.txt'), join(root, 'in-link'));
    store = (await createUnderStore(pathToFileURL(root).href)) as FileUnderStore;
  });
  after(async () => {
    await store.close();
    await rm(base, { recursive: true, force: true });
  });

  const code = (c: string) => (err: unknown) => isStrataError(err) && err.code === c;

  test('the factory loads it and the URI is the root', () => {
    assert.ok(store instanceof FileUnderStore);
    assert.equal(store.uri, pathToFileURL(root).href);
  });

  test('a symlink cannot lead out of the root', async () => {
    await assert.rejects(store.status('/out-dir/secret.txt'), code('INVALID_PATH'));
    await assert.rejects(store.read('/out-dir/secret.txt'), code('INVALID_PATH'));
    await assert.rejects(store.read('/out-file'), code('INVALID_PATH'));
    // The one-trip small read checks the file it opened, through a link to a file or a directory.
    await assert.rejects(store.readBuffer('/out-file', { length: 6 }), code('INVALID_PATH'));
    await assert.rejects(store.readBuffer('/out-dir/secret.txt', { length: 6 }), code('INVALID_PATH'));
    assert.equal((await store.readBuffer('/in-link', { length: 6 })).toString(), 'inside');
    await assert.rejects(store.list('/out-dir'), code('INVALID_PATH'));
    await assert.rejects(
      store.write('/out-dir/planted.txt', Readable.from([Buffer.from('x')])),
      code('INVALID_PATH'),
    );
    await assert.rejects(
      store.write('/out-dir/new/deep.txt', Readable.from([Buffer.from('x')])),
      code('INVALID_PATH'),
    );
    await assert.rejects(store.mkdir('/out-dir/sub'), code('INVALID_PATH'));
    await assert.rejects(store.rename('/inside.txt', '/out-dir/moved.txt'), code('INVALID_PATH'));
    assert.deepEqual(await readdir(outside), ['secret.txt']);
    // Escaping links are left out of listings; links that stay inside work.
    const names = (await store.listAll('/')).map((e) => e.path);
    assert.deepEqual(names, ['/in-link', '/inside.txt']);
    assert.equal((await buffer(await store.read('/in-link'))).toString(), 'inside');
    // Removing the link itself is harmless and allowed: the target stays.
    await store.delete('/out-file');
    assert.equal(await readFile(join(outside, 'secret.txt'), 'utf8'), 'secret');
  });

  test('a write whose source fails midway leaves the old file and no temp file', async () => {
    const first = await store.write('/keep/file.bin', Readable.from([Buffer.from('old content')]));
    async function* failing() {
      yield Buffer.alloc(256 * 1024, 1);
      yield Buffer.alloc(256 * 1024, 2);
      throw new Error('source broke');
    }
    await assert.rejects(store.write('/keep/file.bin', Readable.from(failing())), (err: unknown) => {
      assert.ok(isStrataError(err));
      assert.match(err.message, /source broke/);
      return true;
    });
    assert.equal(await readFile(join(root, 'keep', 'file.bin'), 'utf8'), 'old content');
    assert.deepEqual(await readdir(join(root, 'keep')), ['file.bin']);
    const now = await store.status('/keep/file.bin');
    assert.equal(now.size, first.size);
    assert.equal(now.mtimeMs, first.mtimeMs);
  });

  test('a write with a wrong announced size is refused and leaves nothing', async () => {
    await assert.rejects(
      store.write('/sized.bin', Readable.from([Buffer.from('12345')]), { size: 4 }),
      code('INVALID_ARGUMENT'),
    );
    await assert.rejects(store.status('/sized.bin'), code('NOT_FOUND'));
    assert.ok(!(await readdir(root)).some((n) => n.startsWith('.strata-tmp-')));
  });

  test('temp files of unfinished writes are hidden from list', async () => {
    await mkdir(join(root, 'hide'));
    await writeFile(join(root, 'hide', '.strata-tmp-deadbeef'), 'partial');
    await writeFile(join(root, 'hide', 'real.txt'), 'r');
    assert.deepEqual(
      (await store.listAll('/hide')).map((e) => e.path),
      ['/hide/real.txt'],
    );
  });

  test('overwrite keeps the file mode; read of a directory is IS_A_DIRECTORY', async () => {
    await writeFile(join(root, 'mode.sh'), 'v1', { mode: 0o751 });
    await store.write('/mode.sh', Readable.from([Buffer.from('v2')]));
    assert.equal((await stat(join(root, 'mode.sh'))).mode & 0o777, 0o751);
    await assert.rejects(store.read('/keep'), code('IS_A_DIRECTORY'));
    await assert.rejects(store.write('/keep', Readable.from([Buffer.from('x')])), code('IS_A_DIRECTORY'));
  });

  test('rename refuses an existing destination', async () => {
    await store.write('/r/a.txt', Readable.from([Buffer.from('a')]));
    await store.write('/r/b.txt', Readable.from([Buffer.from('b')]));
    await assert.rejects(store.rename('/r/a.txt', '/r/b.txt'), code('ALREADY_EXISTS'));
    assert.equal((await buffer(await store.read('/r/b.txt'))).toString(), 'b');
  });

  test('an aborted read stops with CANCELLED', async () => {
    await writeFile(join(root, 'long.bin'), Buffer.alloc(8 * 1024 * 1024));
    const ac = new AbortController();
    const stream = await store.read('/long.bin', { signal: ac.signal });
    ac.abort();
    await assert.rejects(buffer(stream), code('CANCELLED'));
  });

  test('a file truncated while being read fails FINGERPRINT_CHANGED, not a short read', async () => {
    await writeFile(join(root, 'shrinks.bin'), Buffer.alloc(8 * 1024 * 1024, 7));
    const stream = await store.read('/shrinks.bin');
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.ok(!first.done && first.value.length > 0);
    await truncate(join(root, 'shrinks.bin'), 0);
    await assert.rejects(
      (async () => {
        for (;;) if ((await iterator.next()).done) break;
      })(),
      code('FINGERPRINT_CHANGED'),
    );
  });

  test('names sort in code point order (UTF-8 byte order)', () => {
    const names = ['b', '\u{1F600}', '\uFFFD', 'a', 'ä', 'B'];
    const byBytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual([...names].sort(compareUtf8), byBytes);
  });
});
