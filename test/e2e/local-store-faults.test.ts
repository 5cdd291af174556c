import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, open, rm, statfs, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type ConnectedFileSystem, connect } from '../../src/client/connect.js';
import { isStrataError } from '../../src/core/errors.js';
import { collect } from '../../src/worker/file-system.js';
import {
  metric,
  type RunningStrata,
  runCli,
  startLocal,
  tempDir,
  waitFor,
} from '../helpers/local-process.js';
import { localS3Client } from '../helpers/s3-client.js';

const MiB = 1024 * 1024;
const run = promisify(execFile);

const S3_KEY = 'AKIASTRATAFAULTS';
const S3_SECRET = 'strata-faults-secret';

/**
 * A small HTTP origin over in-memory files, the way the http connector expects one (HEAD for
 * sizes, ranged GETs, nginx's JSON autoindex for directories). A GET of a path in `silent` is
 * accepted and never answered.
 */
async function startOrigin(
  files: Record<string, Buffer>,
  options: { port?: number; silent?: readonly string[] } = {},
): Promise<{ url: string; server: Server; stop(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    if (path.endsWith('/')) {
      const names = Object.keys(files)
        .filter((f) => f.startsWith(path) && !f.slice(path.length).includes('/'))
        .map((f) => ({ name: f.slice(path.length), type: 'file', size: files[f]!.length }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(names));
      return;
    }
    const data = files[path];
    if (data === undefined) {
      res.writeHead(404).end();
      return;
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': data.length, etag: '"v1"' }).end();
      return;
    }
    if (options.silent?.includes(path)) return; // accepted, never answered
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      const start = Number(m[1]);
      const end = m[2] === '' ? data.length - 1 : Math.min(Number(m[2]), data.length - 1);
      res.writeHead(206, {
        'content-range': `bytes ${start}-${end}/${data.length}`,
        'content-length': end - start + 1,
        etag: '"v1"',
      });
      res.end(data.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { 'content-length': data.length, etag: '"v1"' }).end(data);
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    server,
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

function s3Client(strata: RunningStrata): S3Client {
  return localS3Client(strata, S3_KEY, S3_SECRET);
}

/** The HTTP status an S3 call failed with. */
async function s3Status(call: Promise<unknown>): Promise<number | undefined> {
  try {
    await call;
  } catch (err) {
    return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  }
  return 200;
}

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}

describe('strata local with an origin that accepts connections and never answers', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let origin: Awaited<ReturnType<typeof startOrigin>>;
  let strata: RunningStrata;
  let s3: S3Client;
  const cli = (args: string[]) => runCli(args, { registry: strata.registry });

  before(async () => {
    tmp = await tempDir('silent-origin');
    origin = await startOrigin({ '/big.bin': Buffer.alloc(3 * 1024 * 1024, 7) }, { silent: ['/big.bin'] });
    strata = await startLocal(['--data-dir', tmp.dir], {
      STRATA_S3_ACCESS_KEY_ID: S3_KEY,
      STRATA_S3_SECRET_ACCESS_KEY: S3_SECRET,
    });
    const mounted = await cli(['fs', 'mount', '--option', 'timeoutMs=500', '/silent', origin.url]);
    assert.equal(mounted.code, 0, mounted.stderr);
    s3 = s3Client(strata);
  });
  after(async () => {
    s3?.destroy();
    await strata?.stop();
    await origin?.stop();
    await tmp?.cleanup();
  });

  test('an uncached read fails UFS_UNAVAILABLE after the mount timeoutMs: the CLI says which call and which option, S3 answers 503', async () => {
    const cat = await cli(['fs', 'cat', '/silent/big.bin']);
    assert.equal(cat.code, 69, `UFS_UNAVAILABLE's exit code; stderr: ${cat.stderr}`);
    assert.match(
      cat.stderr,
      /UFS_UNAVAILABLE: .*GET \/big\.bin: the server sent no response within 500 ms .*timeoutMs/,
    );
    await assert.rejects(
      s3.send(new GetObjectCommand({ Bucket: 'silent', Key: 'big.bin' })),
      (err: unknown) => {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        assert.equal(e.$metadata?.httpStatusCode, 503, String(err));
        assert.equal(e.name, 'ServiceUnavailable');
        return true;
      },
    );
  });
});

describe('strata local with a mount whose store is down at start', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let origin: Awaited<ReturnType<typeof startOrigin>> | undefined;
  let strata: RunningStrata;
  let port: number;
  const cli = (args: string[]) => runCli(args, { registry: strata.registry });

  before(async () => {
    tmp = await tempDir('down-at-start');
    port = await freePort();
  });
  after(async () => {
    await strata?.stop();
    await origin?.stop();
    await tmp?.cleanup();
  });

  test('it starts anyway; the mount fails UFS_UNAVAILABLE saying why, then works once the store answers', async () => {
    strata = await startLocal(['--data-dir', tmp.dir, '--mount', `/m=http://127.0.0.1:${port}/`]);
    assert.equal(strata.ready.ready, true);
    const down = await cli(['fs', 'cat', '/m/hello.txt']);
    assert.equal(down.code, 69, `UFS_UNAVAILABLE's exit code; stderr: ${down.stderr}`);
    assert.match(
      down.stderr,
      new RegExp(
        `UFS_UNAVAILABLE: /m is unavailable: its store http://127\\.0\\.0\\.1:${port}/? does not answer .*ECONNREFUSED.*retrying in the background`,
      ),
    );
    const mounts = await cli(['fs', 'mounts', '--json']);
    assert.equal(mounts.code, 0, mounts.stderr);
    assert.match(mounts.stdout, /"\/m"/, 'the mount is in the table');

    origin = await startOrigin({ '/hello.txt': Buffer.from('hello\n') }, { port });
    const cat = await waitFor(
      'the mount to work once its store answers',
      async () => {
        const r = await cli(['fs', 'cat', '/m/hello.txt']);
        return r.code === 0 ? r : undefined;
      },
      30_000,
    );
    assert.equal(cat.stdout, 'hello\n');
    const ls = await cli(['fs', 'ls', '/m']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /hello\.txt/);
    assert.match(strata.stderr(), /"event":"mount_unavailable"/);
    assert.match(strata.stderr(), /"event":"mount_available"/);
  });
});

describe('strata local with its data directory on a small disk that fills up (an 8 MiB tmpfs)', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let data: string;
  let mounted = false;
  let strata: RunningStrata;
  let fs: ConnectedFileSystem;
  let s3: S3Client;
  const big = randomBytes(16 * MiB);
  const disk0 = { tier: 'disk0' };

  before(async () => {
    tmp = await tempDir('full-disk');
    data = join(tmp.dir, 'data');
    const ufs = join(tmp.dir, 'ufs'); // the store lives on the ordinary disk
    await mkdir(join(ufs, 'src'), { recursive: true });
    await writeFile(join(ufs, 'src', 'big.bin'), big);
    await mkdir(join(ufs, 'many'));
    for (let i = 0; i < 400; i++)
      await writeFile(join(ufs, 'many', `file-with-a-longish-name-${i}.txt`), `${i}`);
    await mkdir(data);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', data]);
    mounted = true;
    strata = await startLocal(
      [
        '--data-dir',
        data,
        '--page-size',
        '64KiB',
        '--memory-capacity',
        '1MiB',
        '--disk-capacity',
        '64MiB', // a quota the disk cannot hold
        '--mount',
        `/=${pathToFileURL(ufs)}`,
      ],
      { STRATA_S3_ACCESS_KEY_ID: S3_KEY, STRATA_S3_SECRET_ACCESS_KEY: S3_SECRET },
    );
    fs = await connect(strata.registry);
    s3 = s3Client(strata);
  });
  after(async () => {
    s3?.destroy();
    await fs?.close();
    await strata?.stop();
    if (mounted) await run('umount', [data]);
    await tmp?.cleanup();
  });

  test('ENOSPC shrinks the disk tier to what the disk holds and evicts; reads are served; a write that cannot stage answers CACHE_FULL (S3 503), never 500', async () => {
    const admin = strata.registry;
    // A cold read of twice the disk: the tier fills the disk, meets ENOSPC, shrinks and evicts.
    assert.ok((await collect(await fs.read('/src/big.bin'))).equals(big));
    const disk = await statfs(data);
    const diskBytes = disk.blocks * disk.bsize;
    // Pages still being written when the quota shrank count as used until their writes settle.
    const capacity = await waitFor('the disk tier to shrink below the disk size and fit in it', async () => {
      const c = await metric(admin, 'strata_page_store_capacity_bytes', disk0);
      const used = await metric(admin, 'strata_page_store_used_bytes', disk0);
      return c > 0 && c < diskBytes && used <= c ? c : undefined;
    });
    assert.ok((await metric(admin, 'strata_page_store_evictions_total', disk0)) > 0, 'it evicted');
    // The second pass keeps evicting inside the shrunk quota rather than meeting ENOSPC again.
    assert.ok((await collect(await fs.read('/src/big.bin'))).equals(big));
    assert.ok((await metric(admin, 'strata_page_store_capacity_bytes', disk0)) <= capacity);
    assert.ok(
      (await statfs(data)).bavail > 0,
      'the tier leaves room on the disk for the metadata store and staging',
    );

    // A 30 MiB write cannot be staged on an 8 MiB disk: the table's CACHE_FULL, not INTERNAL.
    const huge = randomBytes(30 * MiB);
    await assert.rejects(
      fs.write('/src/huge.bin', Readable.from([huge]), { size: huge.length }),
      (err: unknown) => isStrataError(err, 'CACHE_FULL') || assert.fail(String(err)),
    );
    const put = s3Status(s3.send(new PutObjectCommand({ Bucket: 'src', Key: 'huge.bin', Body: huge })));
    assert.equal(await put, 503, 'S3 answers CACHE_FULL as 503 ServiceUnavailable');

    // Afterwards: reads still served, and a write that fits goes through (the cache made room).
    assert.ok(
      (await collect(await fs.read('/src/big.bin', { offset: 5 * MiB, length: MiB }))).equals(
        big.subarray(5 * MiB, 6 * MiB),
      ),
    );
    const small = randomBytes(200 * 1024);
    await fs.write('/src/small.bin', Readable.from([small]), { size: small.length });
    assert.ok((await collect(await fs.read('/src/small.bin'))).equals(small));
  });

  test('a disk filled by something else: a metadata write answers CACHE_FULL (507), not INTERNAL, and works once space is back', async () => {
    // Fill what is left of the disk with a file that is not Strata's.
    const filler = join(data, 'filler');
    const fh = await open(filler, 'w');
    try {
      const chunk = Buffer.alloc(64 * 1024);
      for (;;) await fh.write(chunk);
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      await fh.close();
    }
    try {
      // Listing 400 entries stores them in the metadata store (LevelDB on the full disk).
      await assert.rejects(fs.list('/many'), (err: unknown) => {
        assert.ok(isStrataError(err), String(err));
        assert.equal(err.code, 'CACHE_FULL', err.message);
        assert.match(err.message, /metadata store .*No space left on device/);
        return true;
      });
    } finally {
      await rm(filler);
    }
    assert.equal((await fs.list('/many')).length, 400);
  });
});
