import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { decodePageFile } from '../../src/cache/page-file.js';
import { type ConnectedFileSystem, connect } from '../../src/client/connect.js';
import type { JobBatchResult } from '../../src/core/file-system.js';
import { collect } from '../../src/worker/file-system.js';
import { metric, type RunningStrata, startLocal, tempDir } from '../helpers/local-process.js';

/**
 * Per-owner job batches against a real `strata local` (its worker behind the RPC): verify finds
 * pages damaged on disk and fetches them again, persist pushes a write the persister would only
 * upload an hour later.
 */

const MiB = 1024 * 1024;

type Done = Extract<JobBatchResult, { outcome: unknown }>;

function done(r: JobBatchResult | undefined): Done {
  assert.ok(r !== undefined && 'outcome' in r, `expected a done result, got ${JSON.stringify(r)}`);
  return r;
}

/** The page files of the disk tier, by page index (file name `<fileId>.<index>.page`). */
async function pageFiles(data: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.page')) out.set(Number(e.name.split('.').at(-2)), p);
    }
  };
  await walk(join(data, 'pages'));
  return out;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

describe('jobBatch on a real strata local', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let ufs: string;
  let data: string;
  let strata: RunningStrata;
  let fs: ConnectedFileSystem;
  let admin: string;

  before(async () => {
    tmp = await tempDir('job-batch');
    ufs = join(tmp.dir, 'ufs');
    data = join(tmp.dir, 'data');
    await mkdir(ufs, { recursive: true });
    strata = await startLocal([
      '--data-dir',
      data,
      '--mount',
      `/m=${pathToFileURL(ufs)}`,
      '--persist-delay',
      '1h',
    ]);
    admin = strata.ready.addresses.admin ?? strata.registry;
    fs = await connect(strata.registry);
  });

  after(async () => {
    await fs?.close();
    await strata?.stop();
    await tmp?.cleanup();
  });

  test('verify finds a corrupt and a missing page file, fetches just those again, and the file reads right', async () => {
    assert.ok(fs.jobBatch, 'the client offers jobBatch');
    const bytes = randomBytes(4 * MiB + 123);
    await writeFile(join(ufs, 'v.bin'), bytes);
    const first = done((await fs.jobBatch({ op: 'load', paths: ['/m/v.bin'] }))[0]);
    assert.deepEqual([first.outcome, first.cachedPercent, first.storeBytesRead], ['done', 100, bytes.length]);

    const pages = await pageFiles(data);
    assert.deepEqual([...pages.keys()].sort(), [0, 1, 2, 3, 4], 'one page file per MiB');
    // Flip bytes inside page 1's payload (its header stays valid) and delete page 3's file.
    const corrupt = pages.get(1)!;
    const file = await readFile(corrupt);
    for (let i = 0; i < 16; i++) file[32 + 1000 + i]! ^= 0xff;
    await writeFile(corrupt, file);
    await unlink(pages.get(3)!);
    const readBefore = await metric(admin, 'strata_ufs_read_bytes_total');

    const checked = done(
      (await fs.jobBatch({ op: 'load', paths: ['/m/v.bin'], options: { verify: true } }))[0],
    );
    assert.equal(checked.outcome, 'done');
    assert.equal(checked.repairedPages, 2, 'the corrupt page and the missing one');
    assert.equal(checked.cachedPercent, 100);
    assert.equal(checked.storeBytesRead, 2 * MiB, 'only the two bad pages were read again');
    assert.equal((await metric(admin, 'strata_ufs_read_bytes_total')) - readBefore, 2 * MiB);

    // The page files are whole again, and the file reads back with its bytes.
    const after = await pageFiles(data);
    for (const index of [1, 3]) {
      const payload = decodePageFile(await readFile(after.get(index)!), index);
      assert.ok(Buffer.isBuffer(payload), `page ${index}: ${String(payload)}`);
      assert.ok(payload.equals(bytes.subarray(index * MiB, (index + 1) * MiB)), `page ${index} bytes`);
    }
    assert.ok((await collect(await fs.read('/m/v.bin'))).equals(bytes));
    const clean = done(
      (await fs.jobBatch({ op: 'load', paths: ['/m/v.bin'], options: { verify: true } }))[0],
    );
    assert.deepEqual([clean.repairedPages, clean.storeBytesRead], [0, 0], 'a second verify finds nothing');
  });

  test('persist pushes an ASYNC_THROUGH write held back by --persist-delay 1h into the store, byte for byte', async () => {
    assert.ok(fs.jobBatch);
    const bytes = randomBytes(3 * MiB + 7);
    const written = await fs.write('/m/dir/async.bin', Readable.from([bytes]), {
      writeType: 'ASYNC_THROUGH',
    });
    assert.equal(written.persistence, 'TO_BE_PERSISTED');
    assert.equal(await exists(join(ufs, 'dir', 'async.bin')), false, 'not in the store before the batch');

    const results = await fs.jobBatch({ op: 'persist', paths: ['/m/dir/async.bin', '/m/v.bin'] });
    const pushed = done(results[0]);
    assert.deepEqual([pushed.outcome, pushed.bytes], ['done', bytes.length]);
    assert.equal(done(results[1]).outcome, 'skipped', 'a file already in the store');
    assert.ok((await readFile(join(ufs, 'dir', 'async.bin'))).equals(bytes), 'the store holds the bytes');
    assert.equal((await fs.status('/m/dir/async.bin')).persistence, 'PERSISTED');
    assert.equal(
      done((await fs.jobBatch({ op: 'persist', paths: ['/m/dir/async.bin'] }))[0]).outcome,
      'skipped',
    );

    // A directory persists what is staged below it.
    const more = randomBytes(1000);
    await fs.write('/m/dir/sub/late.bin', Readable.from([more]), { writeType: 'ASYNC_THROUGH' });
    assert.equal(done((await fs.jobBatch({ op: 'persist', paths: ['/m/dir'] }))[0]).outcome, 'done');
    assert.ok((await readFile(join(ufs, 'dir', 'sub', 'late.bin'))).equals(more));
  });

  test('bad bodies on POST /rpc/v1/job-batch are 400 INVALID_ARGUMENT and change nothing', async () => {
    await writeFile(join(ufs, 'untouched.bin'), randomBytes(1000));
    const tokenFile = (strata.ready as { tokenFile?: string }).tokenFile;
    assert.ok(tokenFile, 'the ready line names the token file');
    const token = (await readFile(tokenFile, 'utf8')).trim();
    const rpc = strata.ready.addresses.worker!;
    const bodies = [
      '{"op":"delete","paths":["/m/untouched.bin"]}',
      '{"op":"load","paths":"/m/untouched.bin"}',
      '{"op":"load","paths":[1]}',
      '{"op":"load","paths":["/m/untouched.bin"],"options":{"verify":1}}',
      '{"op":"load","paths":["/m/untouched.bin"],"options":{"replicas":2}}',
      `{"op":"load","paths":${JSON.stringify(Array.from({ length: 1025 }, () => '/m/untouched.bin'))}}`,
      '[]',
      '{oops',
    ];
    for (const body of bodies) {
      const res = await fetch(`${rpc}/rpc/v1/job-batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
      });
      const answer = (await res.json()) as { error?: { code?: string } };
      assert.equal(res.status, 400, body.slice(0, 80));
      assert.equal(answer.error?.code, 'INVALID_ARGUMENT', body.slice(0, 80));
    }
    assert.equal((await fs.status('/m/untouched.bin')).cachedPercent, 0);
  });
});
