import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { JobInfo } from '../../src/core/jobs.js';
import { metric, type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { createBucket, type SwiftS3, startSwiftS3, testS3Client } from '../helpers/swift.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Jobs across store types on a real `strata local`: copy and move from a file:// mount to an S3
 * bucket on Swift (s3api), and a metadata-only load after which listings and statuses are served
 * with no store call.
 */

async function body(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('strata local: copy and move file:// → s3:// (Swift), metadata-only load', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let swift: SwiftS3;
  let s3: S3Client;
  let strata: RunningStrata;
  let files: string;
  let headers: Record<string, string>;
  const data = new Map<string, Buffer>();

  const cli = (args: string[]) => runCli(args, { registry: strata.registry });

  async function job(spec: Record<string, unknown>): Promise<JobInfo> {
    const base = strata.ready.addresses.admin!;
    const res = await fetch(`${base}/api/v1/jobs`, { method: 'POST', headers, body: JSON.stringify(spec) });
    const created = (await res.json()) as JobInfo;
    assert.equal(res.status, 201, JSON.stringify(created));
    return waitFor(
      async () => {
        const r = (await (await fetch(`${base}/api/v1/jobs/${created.id}`, { headers })).json()) as JobInfo;
        return r.state === 'PENDING' || r.state === 'RUNNING' ? undefined : r;
      },
      { what: `the ${String(spec.kind)} job to end`, timeoutMs: 120_000 },
    );
  }

  before(async () => {
    tmp = await tempDir('jobs-stores');
    files = join(tmp.dir, 'files');
    for (const d of ['set/a', 'set/b', 'mv/x', 'meta/p', 'meta/q'])
      await mkdir(join(files, d), { recursive: true });
    for (let i = 0; i < 12; i++) {
      for (const d of ['set/a', 'set/b', 'mv/x', 'meta/p', 'meta/q']) {
        const rel = `${d}/f${i}.bin`;
        const bytes = randomBytes(1000 + i * 517);
        await writeFile(join(files, rel), bytes);
        data.set(rel, bytes);
      }
    }
    swift = await startSwiftS3();
    s3 = testS3Client(swift);
    await createBucket(swift, 'lake');
    strata = await startLocal(['--data-dir', join(tmp.dir, 'data')]);
    const tokenFile = (strata.ready as unknown as { tokenFile: string }).tokenFile;
    headers = {
      authorization: `Bearer ${(await readFile(tokenFile, 'utf8')).trim()}`,
      'content-type': 'application/json',
    };
    const s3Options = ['endpoint', 'region', 'accessKeyId', 'secretAccessKey'].flatMap((k) => [
      '--option',
      `${k}=${(swift as unknown as Record<string, string>)[k]}`,
    ]);
    for (const args of [
      ['fs', 'mount', '/lake', 's3://lake', ...s3Options],
      ['fs', 'mount', '/files', pathToFileURL(files).href, '--sync-interval', '1h'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(async () => {
    await strata?.stop();
    s3?.destroy();
    await swift?.stop();
    await tmp?.cleanup();
  });

  test('copy of a tree from file:// to S3: every object byte for byte in the bucket, the source kept', async () => {
    const end = await job({ kind: 'copy', path: '/files/set', dst: '/lake/copied' });
    assert.equal(end.state, 'SUCCEEDED', JSON.stringify(end));
    assert.equal(end.filesDone, 24);
    for (const [rel, bytes] of data) {
      if (!rel.startsWith('set/')) continue;
      const key = `copied/${rel.slice('set/'.length)}`;
      const got = await body(
        (await s3.send(new GetObjectCommand({ Bucket: 'lake', Key: key }))).Body as Readable,
      );
      assert.ok(got.equals(bytes), key);
    }
    assert.equal((await readdir(join(files, 'set', 'a'))).length, 12, 'copy keeps the source');
  });

  test('move from file:// to S3: objects in the bucket, then the source files and directories gone', async () => {
    const end = await job({ kind: 'move', path: '/files/mv', dst: '/lake/moved' });
    assert.equal(end.state, 'SUCCEEDED', JSON.stringify(end));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'moved/' }));
    assert.deepEqual(
      (listed.Contents ?? []).map((o) => o.Key).sort(),
      [...data.keys()]
        .filter((r) => r.startsWith('mv/'))
        .map((r) => `moved/${r.slice('mv/'.length)}`)
        .sort(),
    );
    for (const [rel, bytes] of data) {
      if (!rel.startsWith('mv/')) continue;
      const key = `moved/${rel.slice('mv/'.length)}`;
      const got = await body(
        (await s3.send(new GetObjectCommand({ Bucket: 'lake', Key: key }))).Body as Readable,
      );
      assert.ok(got.equals(bytes), key);
    }
    assert.deepEqual(await readdir(files), ['meta', 'set'], 'the moved tree is gone from the source');
  });

  test('a move onto itself or into itself is refused and changes nothing', async () => {
    const base = strata.ready.addresses.admin!;
    for (const dst of ['/files/set', '/files/set/a/inner']) {
      const res = await fetch(`${base}/api/v1/jobs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ kind: 'move', path: '/files/set', dst }),
      });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
    }
    assert.equal((await readdir(join(files, 'set', 'a'))).length, 12);
  });

  test('a metadata-only load: listings and statuses afterwards are served with no store call, no bytes cached', async () => {
    const end = await job({ kind: 'load', path: '/files/meta', options: { metadataOnly: true } });
    assert.equal(end.state, 'SUCCEEDED', JSON.stringify(end));
    assert.equal(end.filesDone, 24);
    const ops = () => metric(strata.registry, 'strata_ufs_operation_seconds_count', { mount: '/files' });
    const before = await ops();
    for (const d of ['/files/meta', '/files/meta/p', '/files/meta/q']) {
      const ls = await cli(['fs', 'ls', '--json', d]);
      assert.equal(ls.code, 0, ls.stderr);
    }
    const stat = await cli(['fs', 'stat', '--json', '/files/meta/p/f3.bin']);
    assert.equal(stat.code, 0, stat.stderr);
    assert.equal((JSON.parse(stat.stdout) as { cachedPercent: number }).cachedPercent, 0, 'no bytes loaded');
    assert.equal(await ops(), before, 'no store operation after the metadata-only load');
  });
});
