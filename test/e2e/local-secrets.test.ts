import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { createBucket, type SwiftS3, startSwiftS3, testS3Client } from '../helpers/swift.js';

/**
 * Issue 12, part 2: a mount option its connector declares secret (s3: accessKeyId,
 * secretAccessKey, sessionToken; http: credential headers, the ones named in secretHeaders, user
 * info in the URI) is masked wherever a mount is shown, never logged or put in an error
 * message, and sealed at rest in mounts.json; the store always gets the real value.
 */

const AUTH = 'Bearer origin-secret-7';
const COOKIE = 'sid=cookie-secret-8';
const ORIGIN_KEY = 'xkey-secret-6';
const WEB_USER = 'webuser';
const WEB_PASS = 'webpass-9';
const HTTP_SECRETS = [AUTH, 'origin-secret-7', 'cookie-secret-8', ORIGIN_KEY, WEB_USER, WEB_PASS];

/** An HTTP origin that serves /base/<name>.txt and a JSON listing only with all three credentials. */
function startOrigin(): Promise<{ server: Server; host: string; refused: () => number }> {
  let refused = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const h = req.headers;
    if (h.authorization !== AUTH || h.cookie !== COOKIE || h['x-origin-key'] !== ORIGIN_KEY) {
      refused++;
      res.writeHead(401, { 'content-length': 0 }).end();
      return;
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/base/' || path === '/base') {
      const body = JSON.stringify(
        ['f', 'g'].map((n) => ({
          name: `${n}.txt`,
          type: 'file',
          mtime: new Date(0).toUTCString(),
          size: 18,
        })),
      );
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const m = /^\/base\/([a-z])\.txt$/.exec(path);
    if (!m) {
      res.writeHead(404, { 'content-length': 0 }).end();
      return;
    }
    const body = Buffer.from(`origin file ${m[1]}.txt\n`);
    const headers: Record<string, string | number> = {
      etag: `"${m[1]}-1"`,
      'last-modified': new Date(0).toUTCString(),
      'accept-ranges': 'bytes',
    };
    const range = /^bytes=(\d+)-(\d*)$/.exec(h.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(range[2] ? Number(range[2]) : body.length - 1, body.length - 1);
      const part = body.subarray(start, end + 1);
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${start}-${end}/${body.length}`,
        'content-length': part.length,
      });
      res.end(req.method === 'HEAD' ? undefined : part);
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () =>
      ok({ server, host: `127.0.0.1:${(server.address() as AddressInfo).port}`, refused: () => refused }),
    ),
  );
}

function assertNoSecret(text: string, where: string, secrets: readonly string[]): void {
  for (const s of secrets) assert.ok(!text.includes(s), `${where} shows "${s}":\n${text.slice(0, 4000)}`);
}

describe('mount secrets in strata local: masked everywhere, sealed at rest, real for the store', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let swift: SwiftS3;
  let s3: S3Client;
  let origin: Awaited<ReturnType<typeof startOrigin>>;
  let strata: RunningStrata;
  let data: string;
  let token: string;
  let allSecrets: string[];

  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(args, { registry: strata.registry, env });
  const webUri = () => `http://${WEB_USER}:${WEB_PASS}@${origin.host}/base`;
  const webOptions = () => [
    '--option',
    `header.Authorization=${AUTH}`,
    '--option',
    `header.Cookie=${COOKIE}`,
    '--option',
    `header.X-Origin-Key=${ORIGIN_KEY}`,
    '--option',
    'secretHeaders=X-Origin-Key',
    '--option',
    'timeoutMs=5000',
  ];
  const s3Options = (secret = swift.secretAccessKey) => [
    '--option',
    `endpoint=${swift.endpoint}`,
    '--option',
    `region=${swift.region}`,
    '--option',
    `accessKeyId=${swift.accessKeyId}`,
    '--option',
    `secretAccessKey=${secret}`,
  ];

  async function authed(path: string): Promise<string> {
    const res = await fetch(`${strata.registry}${path}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, path);
    return res.text();
  }

  before(async () => {
    tmp = await tempDir('mountsecrets');
    data = join(tmp.dir, 'data');
    [swift, origin] = await Promise.all([startSwiftS3(), startOrigin()]);
    s3 = testS3Client(swift);
    await createBucket(swift, 'vault');
    await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'before.txt', Body: 'in the vault\n' }));
    allSecrets = [...HTTP_SECRETS, swift.secretAccessKey, swift.accessKeyId];
    strata = await startLocal(['--data-dir', data]);
    token = (await readFile(join(data, 'token'), 'utf8')).trim();
  });

  after(async () => {
    await strata?.stop();
    s3?.destroy();
    await swift?.stop();
    origin?.server.closeAllConnections();
    origin?.server.close();
    await tmp?.cleanup();
  });

  test('the declared secrets of s3 and http mounts are masked in every view, in conf show and in the log', async () => {
    const web = await cli(['fs', 'mount', '--readonly', '/web', webUri(), ...webOptions()]);
    assert.equal(web.code, 0, web.stderr);
    const vault = await cli(['fs', 'mount', '/vault', 's3://vault', ...s3Options()]);
    assert.equal(vault.code, 0, vault.stderr);
    // The stores got the real values: both serve files.
    assert.equal((await cli(['fs', 'cat', '/web/f.txt'])).stdout, 'origin file f.txt\n');
    assert.equal((await cli(['fs', 'cat', '/vault/before.txt'])).stdout, 'in the vault\n');

    const views: Array<[string, string]> = [
      ['fs mount output', web.stdout + vault.stdout],
      ['/registry/v1/mounts', await authed('/registry/v1/mounts')],
      ['/rpc/v1/mounts', await authed('/rpc/v1/mounts')],
      ['/rpc/v1/report', await authed('/rpc/v1/report')],
      ['/api/v1/config', await authed('/api/v1/config')],
    ];
    for (const args of [['fs', 'mounts'], ['fs', 'mounts', '--json'], ['report'], ['report', '--json']]) {
      const r = await cli(args);
      assert.equal(r.code, 0, r.stderr);
      views.push([`strata ${args.join(' ')}`, r.stdout]);
    }
    for (const [where, text] of views) assertNoSecret(text, where, allSecrets);

    const mounts = JSON.parse(await authed('/rpc/v1/mounts')) as Array<{
      path: string;
      uri: string;
      options: Record<string, string>;
    }>;
    const shownWeb = mounts.find((m) => m.path === '/web');
    assert.equal(shownWeb?.uri, `http://${origin.host}/base`);
    assert.deepEqual(shownWeb?.options, {
      'header.Authorization': '****',
      'header.Cookie': '****',
      'header.X-Origin-Key': '****',
      secretHeaders: 'X-Origin-Key',
      timeoutMs: '5000',
    });
    assert.deepEqual(mounts.find((m) => m.path === '/vault')?.options, {
      accessKeyId: '****',
      endpoint: swift.endpoint,
      region: swift.region,
      secretAccessKey: '****',
    });
    const registryView = JSON.parse(await authed('/registry/v1/mounts')) as { mounts: typeof mounts };
    assert.deepEqual(
      registryView.mounts.find((m) => m.path === '/web')?.options,
      shownWeb?.options,
      'the registry view and the worker view differ',
    );
    const table = (await cli(['fs', 'mounts'])).stdout;
    assert.match(table, /header\.Authorization=\*\*\*\*/);
    assert.match(table, /secretAccessKey=\*\*\*\*/);

    const conf = await cli(['conf', 'show'], {
      STRATA_MOUNTS: `/w=${webUri()}`,
      STRATA_S3_SECRET_ACCESS_KEY: swift.secretAccessKey,
    });
    assert.equal(conf.code, 0, conf.stderr);
    assertNoSecret(conf.stdout, 'conf show', [WEB_PASS, WEB_USER, swift.secretAccessKey, token]);
    assert.match(conf.stdout, new RegExp(`STRATA_MOUNTS=/w=http://${origin.host}/base`));

    assertNoSecret(strata.stderr(), 'the strata local log', [...allSecrets, token]);
  });

  test('a failed mount says why without the secrets; a masked value (****) is refused, never stored', async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((ok) => closed.close(ok));
    const unreachable = await cli([
      'fs',
      'mount',
      '--readonly',
      '/gone',
      `http://${WEB_USER}:${WEB_PASS}@127.0.0.1:${port}/base`,
      ...webOptions(),
    ]);
    assert.notEqual(unreachable.code, 0);
    assertNoSecret(unreachable.stderr + unreachable.stdout, 'the unreachable mount error', allSecrets);

    const denied = await cli(['fs', 'mount', '/denied', 's3://vault', ...s3Options('wrong-secret-0')]);
    assert.notEqual(denied.code, 0, 'a wrong secret mounted');
    assert.match(denied.stderr, /strata: [A-Z_]+: /);
    assertNoSecret(denied.stderr + denied.stdout, 'the denied mount error', [
      ...allSecrets,
      'wrong-secret-0',
    ]);

    const masked = await cli(['fs', 'mount', '/masked', 's3://vault', ...s3Options('****')]);
    assert.equal(masked.code, 64, masked.stderr);
    assert.match(masked.stderr, /INVALID_ARGUMENT: option secretAccessKey is "\*\*\*\*"/);
    const listed = JSON.parse((await cli(['fs', 'mounts', '--json'])).stdout) as Array<{ path: string }>;
    assert.deepEqual(
      listed.map((m) => m.path).filter((p) => ['/gone', '/denied', '/masked'].includes(p)),
      [],
    );
    assertNoSecret(strata.stderr(), 'the strata local log', [...allSecrets, 'wrong-secret-0']);
  });

  test('mounts.json holds no secret in clear; after a restart the stores get the real secrets back', async () => {
    await strata.stop();
    const stored = await readFile(join(data, 'registry', 'mounts.json'), 'utf8');
    assertNoSecret(stored, 'mounts.json', allSecrets);
    assert.match(stored, /"sealed": "v1\./);
    strata = await startLocal(['--data-dir', data]);
    // Files never read before: the origin and S3 are asked, with the credentials from mounts.json.
    const refusedBefore = origin.refused();
    const g = await cli(['fs', 'cat', '/web/g.txt']);
    assert.equal(g.code, 0, g.stderr);
    assert.equal(g.stdout, 'origin file g.txt\n');
    assert.equal(origin.refused(), refusedBefore, 'the origin refused a request after the restart');
    await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'after.txt', Body: 'after the restart\n' }));
    const a = await cli(['fs', 'cat', '/vault/after.txt']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, 'after the restart\n');
  });

  test('a mount record written by the old format (secrets in clear) loads, works, is sealed and masked', async () => {
    await strata.stop();
    const oldData = join(tmp.dir, 'old-data');
    await mkdir(join(oldData, 'registry'), { recursive: true });
    const legacy = {
      version: 1,
      mounts: [
        {
          path: '/old-s3',
          uri: 's3://vault/',
          readOnly: false,
          syncIntervalMs: -1,
          writeType: 'CACHE_THROUGH',
          options: {
            endpoint: swift.endpoint,
            region: swift.region,
            accessKeyId: swift.accessKeyId,
            secretAccessKey: swift.secretAccessKey,
          },
        },
        {
          path: '/old-web',
          uri: webUri(),
          readOnly: true,
          syncIntervalMs: -1,
          writeType: 'CACHE_THROUGH',
          options: {
            'header.Authorization': AUTH,
            'header.Cookie': COOKIE,
            'header.X-Origin-Key': ORIGIN_KEY,
            secretHeaders: 'X-Origin-Key',
          },
          fallbackToUfs: false,
        },
      ],
    };
    await writeFile(join(oldData, 'registry', 'mounts.json'), JSON.stringify(legacy, null, 2));
    strata = await startLocal(['--data-dir', oldData]);
    token = (await readFile(join(oldData, 'token'), 'utf8')).trim();
    assert.equal((await cli(['fs', 'cat', '/old-web/f.txt'])).stdout, 'origin file f.txt\n');
    assert.equal((await cli(['fs', 'cat', '/old-s3/before.txt'])).stdout, 'in the vault\n');
    assertNoSecret(
      await readFile(join(oldData, 'registry', 'mounts.json'), 'utf8'),
      'resealed mounts.json',
      allSecrets,
    );
    assert.match(strata.stderr(), /"event":"mounts_sealed","records":2/);
    for (const path of ['/registry/v1/mounts', '/rpc/v1/mounts', '/rpc/v1/report'])
      assertNoSecret(await authed(path), path, allSecrets);
  });
});
