import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { connect } from '../../src/client/connect.js';
import { startS3GatewayServer } from '../../src/gateway/s3/index.js';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { type NginxServer, startNginx } from '../helpers/nginx.js';
import { createBucket, type SwiftS3, startSwiftS3 } from '../helpers/swift.js';
import { ACCESS_KEY, SECRET_KEY, s3Error } from './harness.js';

/**
 * Cached objects are served over S3 while their origin is down: a file cached through the CLI
 * (no sidecar ever looked up), and an object written through the gateway (its sidecar cached by
 * the worker) read by a gateway that never saw it. Real origins, stopped for real: nginx behind
 * an http:// mount, Swift's S3 API behind an s3:// mount.
 */

const client = (endpoint: string) =>
  new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    maxAttempts: 1,
  });

describe('S3 gateway with its origin down', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let nginx: NginxServer;
  let swift: SwiftS3;
  let strata: RunningStrata;
  let s3: S3Client;
  const iris = 'sepal,petal\n5.1,1.4\n4.9,1.4\n';

  const cli = async (args: string[]) => {
    const r = await runCli(args, { registry: strata.registry });
    assert.equal(r.code, 0, `strata ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    tmp = await tempDir('s3down');
    const web = join(tmp.dir, 'web');
    await mkdir(join(web, 'data'), { recursive: true });
    await writeFile(join(web, 'data', 'iris.csv'), iris);
    await writeFile(join(web, 'data', 'stat-only.csv'), 'status cached, bytes not\n');
    await writeFile(join(web, 'data', 'never.csv'), 'never looked at\n');
    nginx = await startNginx(web);
    swift = await startSwiftS3();
    await createBucket(swift, 'lake');
    strata = await startLocal(['--data-dir', join(tmp.dir, 'data')], {
      STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY,
      STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY,
    });
    await cli(['fs', 'mount', '--readonly', '/web', nginx.url]);
    await cli([
      'fs',
      'mount',
      '/lake',
      's3://lake',
      ...['--option', `endpoint=${swift.endpoint}`, '--option', `region=${swift.region}`],
      ...[
        '--option',
        `accessKeyId=${swift.accessKeyId}`,
        '--option',
        `secretAccessKey=${swift.secretAccessKey}`,
      ],
    ]);
    s3 = client(strata.ready.addresses.s3!);
  });

  after(async () => {
    s3?.destroy();
    await strata?.stop();
    await nginx?.stop();
    await swift?.stop();
    await tmp?.cleanup();
  });

  test('a file cached through the CLI is served over S3 while its http origin is down', async () => {
    assert.equal(await cli(['fs', 'cat', '/web/data/iris.csv']), iris);
    await cli(['fs', 'stat', '/web/data/stat-only.csv']);
    await nginx.stop();

    const got = await s3.send(new GetObjectCommand({ Bucket: 'web', Key: 'data/iris.csv' }));
    assert.equal(await got.Body!.transformToString(), iris);
    assert.match(got.ETag ?? '', /^"[0-9a-f]{32}"$/);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'web', Key: 'data/iris.csv' }));
    assert.equal(head.ContentLength, iris.length);
    const range = await s3.send(
      new GetObjectCommand({ Bucket: 'web', Key: 'data/iris.csv', Range: 'bytes=0-4' }),
    );
    assert.equal(await range.Body!.transformToString(), 'sepal');
    // Again, now that the gateway has tried (and failed) to list the sidecar directory.
    const again = await s3.send(new GetObjectCommand({ Bucket: 'web', Key: 'data/iris.csv' }));
    assert.equal(await again.Body!.transformToString(), iris);

    // What the cache cannot answer is a retryable 503 (S3 XML), never a 500 or a wrong body.
    assert.deepEqual(
      await s3Error(s3.send(new GetObjectCommand({ Bucket: 'web', Key: 'data/stat-only.csv' }))),
      {
        name: 'ServiceUnavailable',
        status: 503,
      },
    );
    assert.deepEqual(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'web', Key: 'data/never.csv' }))), {
      name: 'ServiceUnavailable',
      status: 503,
    });
  });

  test('an object written through the gateway keeps its metadata while the store is down, for a gateway that never saw it', async () => {
    const body = 'lake object, cached on write';
    await s3.send(
      new PutObjectCommand({
        Bucket: 'lake',
        Key: 'docs/note.txt',
        Body: body,
        ContentType: 'text/x-lake',
        Metadata: { origin: 'swift' },
      }),
    );
    await swift.stop();
    const fs = await connect(strata.registry);
    const fresh = await startS3GatewayServer(fs, {
      credentials: new Map([[ACCESS_KEY, SECRET_KEY]]),
      port: 0,
    });
    const other = client(fresh.url);
    try {
      for (const c of [other, s3]) {
        const got = await c.send(new GetObjectCommand({ Bucket: 'lake', Key: 'docs/note.txt' }));
        assert.equal(await got.Body!.transformToString(), body);
        assert.equal(got.ContentType, 'text/x-lake');
        assert.equal(got.ETag, `"${createHash('md5').update(body).digest('hex')}"`);
        assert.deepEqual(got.Metadata, { origin: 'swift' });
      }
    } finally {
      other.destroy();
      await fresh.close();
      await fs.close();
    }
  });
});
