import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { IoThread, MAX_IO_THREAD_BYTES, shareableBuffer } from '../../src/core/io-thread.js';

let dir: string;
const io = new IoThread();
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-io-'));
});
after(async () => {
  await io.close();
  await rm(dir, { recursive: true, force: true });
});

test('writes (making the parent), renames, reads back and stats, many ops coalesced into few messages', async () => {
  const n = 200;
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      io.write(join(dir, 'w', `${i}.tmp`), [Buffer.from(`head${i}:`), Buffer.alloc(100, i)], {
        makeParent: true,
        renameTo: join(dir, 'w', `${i}`),
      }),
    ),
  );
  const reads = await Promise.all(
    Array.from({ length: n }, (_, i) => io.read(join(dir, 'w', `${i}`), 0, `head${i}:`.length + 100, dir)),
  );
  for (const [i, r] of reads.entries()) {
    assert.deepEqual(r, Buffer.concat([Buffer.from(`head${i}:`), Buffer.alloc(100, i)]));
    assert.deepEqual(await readFile(join(dir, 'w', `${i}`)), r);
  }
  const st = await io.stat(join(dir, 'w', '7'));
  assert.equal(st.type, 'file');
  assert.equal(st.size, 'head7:'.length + 100);
  assert.equal((await io.stat(join(dir, 'w'))).type, 'directory');
  const s = io.stats();
  assert.equal(s.ops, 2 * n + 2);
  assert.ok(s.messages < s.ops / 10, `${s.messages} messages for ${s.ops} ops`);
});

test('reads fall back (undefined) for short files, directories and symlinks out of the root; errors carry errno', async () => {
  await writeFile(join(dir, 'short'), 'abc');
  assert.equal(await io.read(join(dir, 'short'), 0, 10, dir), undefined);
  assert.deepEqual(await io.read(join(dir, 'short'), 1, 2, dir), Buffer.from('bc'));
  await mkdir(join(dir, 'd'), { recursive: true });
  assert.equal(await io.read(join(dir, 'd'), 0, 1, dir), undefined);
  const outside = await mkdtemp(join(tmpdir(), 'strata-io-out-'));
  await writeFile(join(outside, 'secret'), 'secret!');
  await symlink(join(outside, 'secret'), join(dir, 'escape'));
  assert.equal(await io.read(join(dir, 'escape'), 0, 7, dir), undefined);
  assert.deepEqual(await io.read(join(dir, 'escape'), 0, 7), Buffer.from('secret!'));
  await rm(outside, { recursive: true, force: true });
  await assert.rejects(io.stat(join(dir, 'missing')), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  await assert.rejects(
    io.write(join(dir, 'no', 'parent'), [Buffer.from('x')]),
    (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
  );
  await assert.rejects(io.read(join(dir, 'short'), 0, MAX_IO_THREAD_BYTES + 1), RangeError);
});

test('the thread starts under flags a worker refuses (`--input-type=module -e …`, `--max-old-space-size`)', async () => {
  const { execFile } = await import('node:child_process');
  const url = new URL('../../src/core/io-thread.js', import.meta.url).href;
  const file = join(dir, 'input-type.txt');
  await writeFile(file, 'hello');
  const script = `import { IoThread } from '${url}';
    const t = new IoThread();
    const data = await t.read(${JSON.stringify(file)}, 0, 5);
    process.stdout.write(String(data));
    await t.close();`;
  const out = await new Promise<string>((ok, fail) =>
    execFile(
      process.execPath,
      ['--max-old-space-size=200', '--input-type=module', '-e', script],
      (err, stdout, stderr) => (err ? fail(new Error(`${err.message}\n${stderr}`)) : ok(stdout)),
    ),
  );
  assert.equal(out, 'hello');
});

test('page-sized writes: a shareable last chunk travels by reference, CRC fills are computed over head ‖ tail, checked reads answer CRCs and refuse other sizes', async () => {
  const body = shareableBuffer(1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
  const plain = Buffer.from(body); // an ordinary copy: copied into the message
  const head = Buffer.alloc(16, 0xee);
  const fill = [
    { from: 16, to: 16 + body.length, at: 0 },
    { from: 0, to: 8, at: 8 }, // covers the first fill: order matters
  ];
  const shared = join(dir, 'page-shared');
  const copied = join(dir, 'page-copied');
  await Promise.all([io.write(shared, [head, body], { fill }), io.write(copied, [head, plain], { fill })]);
  const a = await readFile(shared);
  assert.deepEqual(a, await readFile(copied));
  assert.equal(a.length, 16 + body.length);
  assert.deepEqual(a.subarray(16), plain);
  const bodyCrc = crc32(plain) >>> 0;
  assert.equal(a.readUInt32LE(0), bodyCrc);
  assert.equal(a.readUInt32LE(8), crc32(a.subarray(0, 8)) >>> 0);
  assert.deepEqual(head, Buffer.alloc(16, 0xee), "the caller's header is not written into");
  const checked = await io.readChecked(shared, a.length, [
    { from: 16, to: a.length },
    { from: 0, to: 8 },
  ]);
  assert.ok(checked);
  assert.deepEqual(checked.data, a);
  assert.deepEqual(checked.crcs, [bodyCrc, crc32(a.subarray(0, 8)) >>> 0]);
  assert.equal(await io.readChecked(shared, a.length - 1, []), undefined, 'a longer file than asked for');
  assert.equal(await io.readChecked(shared, a.length + 1, []), undefined, 'a shorter file');
  await assert.rejects(io.readChecked(join(dir, 'absent'), 10, []), { code: 'ENOENT' });
});
