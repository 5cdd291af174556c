import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type RunningStrata, runCli, startLocal, tempDir, waitFor } from '../helpers/local-process.js';

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
    s3 = new S3Client({
      endpoint: strata.ready.addresses.s3!,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: S3_KEY, secretAccessKey: S3_SECRET },
      maxAttempts: 1,
    });
  });
  after(async () => {
    s3?.destroy();
    await strata?.stop();
    await origin?.stop();
    await tmp?.cleanup();
  });

  test('an uncached read fails TIMEOUT after the mount timeoutMs: the CLI says which call and which option, S3 answers 503', async () => {
    const cat = await cli(['fs', 'cat', '/silent/big.bin']);
    assert.equal(cat.code, 75, `TIMEOUT's exit code; stderr: ${cat.stderr}`);
    assert.match(
      cat.stderr,
      /TIMEOUT: .*GET \/big\.bin: the server sent no response within 500 ms .*timeoutMs/,
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
