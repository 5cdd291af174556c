import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { clusterToken, type RunningWorker, startWorker } from '../helpers/cluster.js';
import { type EtcdProcess, startEtcd } from '../helpers/etcd.js';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { type NginxServer, startNginx } from '../helpers/nginx.js';
import { createBucket, type SwiftS3, startSwiftS3 } from '../helpers/swift.js';

/**
 * Issue 16, Build 4: store credentials never appear in what Strata prints. Mounts are made with
 * unique canary secrets (an s3:// mount whose keys Swift really accepts, an http:// mount with
 * Basic auth in the URI and credential headers, mounts that fail), then everything that prints is
 * collected — every CLI command's output, the daemon's stderr at --log-level debug, /metrics, the
 * dashboard API, the admin config and registry endpoints, S3 errors, the files of the data dir
 * (the sealed registry) — and grepped for every canary.
 */

const tag = () => randomBytes(6).toString('hex');
const ACCOUNT = `akcnry${tag()}`;
const USER = `u${tag()}`;
const CANARY = {
  s3AccessKey: `${ACCOUNT}:${USER}`,
  s3Account: ACCOUNT,
  s3SecretKey: `skcnry${tag()}`,
  basicUser: `bucnry${tag()}`,
  basicPass: `bpcnry${tag()}`,
  bearer: `brcnry${tag()}`,
  apiKey: `apcnry${tag()}`,
  customHeader: `xhcnry${tag()}`,
  badAccessKey: `bakcnry${tag()}`,
  badSecretKey: `bskcnry${tag()}`,
  badSessionToken: `stcnry${tag()}`,
  badUriPass: `bupcnry${tag()}`,
  gatewaySecret: `gwcnry${tag()}`,
  bootUser: `mucnry${tag()}`,
  bootPass: `mpcnry${tag()}`,
};
const BASIC_B64 = Buffer.from(`${CANARY.basicUser}:${CANARY.basicPass}`).toString('base64');
const GATEWAY_KEY = 'canary-gateway-key';

describe('secrets canary: no output of Strata holds a store credential', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let nginx: NginxServer;
  let swift: SwiftS3;
  let strata: RunningStrata;
  let s3: S3Client;
  let dataDir: string;
  /** Every output collected: what printed it → the text. */
  const outputs = new Map<string, string>();

  const cli = async (args: string[], expectOk: boolean | undefined = true) => {
    const r = await runCli(args, {
      registry: strata.registry,
      env: { STRATA_S3_SECRET_ACCESS_KEY: CANARY.gatewaySecret, AWS_SECRET_ACCESS_KEY: CANARY.s3SecretKey },
    });
    outputs.set(`strata ${args.join(' ')}`, `${r.stdout}\n${r.stderr}`);
    if (expectOk === true) assert.equal(r.code, 0, `strata ${args.join(' ')}: ${r.stderr}`);
    else if (expectOk === false)
      assert.notEqual(r.code, 0, `strata ${args.join(' ')} should fail: ${r.stdout}`);
    return r;
  };

  const get = async (path: string, token?: string) => {
    const res = await fetch(`${strata.registry}${path}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    const text = await res.text();
    outputs.set(`GET ${path}${token ? ' (token)' : ''}`, text);
    return { status: res.status, text };
  };

  before(async () => {
    tmp = await tempDir('canary');
    const web = join(tmp.dir, 'web');
    await mkdir(join(web, 'data'), { recursive: true });
    await writeFile(join(web, 'data', 'a.txt'), 'cached through the http mount\n');
    await writeFile(join(web, 'data', 'later.txt'), 'read only after the origin is down\n');
    nginx = await startNginx(web);
    swift = await startSwiftS3({ users: [{ account: ACCOUNT, user: USER, secret: CANARY.s3SecretKey }] });
    const canaryCreds = { ...swift, accessKeyId: CANARY.s3AccessKey, secretAccessKey: CANARY.s3SecretKey };
    await createBucket(canaryCreds, 'canary');
    dataDir = join(tmp.dir, 'data');
    // A mount given at start, with Basic auth in its URI (the ready line shows the configuration).
    const boot = `/boot=http://${CANARY.bootUser}:${CANARY.bootPass}@${new URL(nginx.url).host}/`;
    strata = await startLocal(['--data-dir', dataDir, '--log-level', 'debug', '--mount', boot], {
      STRATA_S3_ACCESS_KEY_ID: GATEWAY_KEY,
      STRATA_S3_SECRET_ACCESS_KEY: CANARY.gatewaySecret,
    });
    s3 = new S3Client({
      endpoint: strata.ready.addresses.s3!,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: GATEWAY_KEY, secretAccessKey: CANARY.gatewaySecret },
      maxAttempts: 1,
    });
  });

  after(async () => {
    s3?.destroy();
    await strata?.stop();
    await nginx?.stop();
    await swift?.stop();
    await tmp?.cleanup();
  });

  test('mounts with canary credentials work, and every output is free of them', async () => {
    const nginxUrl = new URL(nginx.url);
    await cli([
      'fs',
      'mount',
      '/lake',
      's3://canary/base',
      ...['--option', `endpoint=${swift.endpoint}`, '--option', `region=${swift.region}`],
      ...[
        '--option',
        `accessKeyId=${CANARY.s3AccessKey}`,
        '--option',
        `secretAccessKey=${CANARY.s3SecretKey}`,
      ],
    ]);
    await cli([
      'fs',
      'mount',
      '--readonly',
      '/web',
      `http://${CANARY.basicUser}:${CANARY.basicPass}@${nginxUrl.host}/`,
      ...['--option', `header.Authorization=Bearer ${CANARY.bearer}`],
      ...['--option', `header.X-Api-Key=${CANARY.apiKey}`],
      ...['--option', `header.X-Canary=${CANARY.customHeader}`, '--option', 'secretHeaders=X-Canary'],
    ]);

    // The mounts really work with these credentials (so the canaries really reached the stores).
    await s3.send(new PutObjectCommand({ Bucket: 'lake', Key: 'obj.txt', Body: 'through the canary key' }));
    assert.equal((await cli(['fs', 'cat', '/lake/obj.txt'])).stdout, 'through the canary key');
    assert.equal((await cli(['fs', 'cat', '/web/data/a.txt'])).stdout, 'cached through the http mount\n');
    assert.equal((await cli(['fs', 'cat', '/boot/data/a.txt'])).stdout, 'cached through the http mount\n');

    // Everything the CLI prints.
    for (const args of [
      ['fs', 'mounts'],
      ['fs', 'mounts', '--json'],
      ['conf', 'show'],
      ['conf', 'show', '--json'],
      ['report'],
      ['report', '--json'],
      ['fs', 'stat', '/lake/obj.txt'],
      ['fs', 'stat', '/web/data/a.txt'],
      ['fs', 'ls', '/lake'],
      ['fs', 'ls', '/web/data'],
      ['fs', 'du', '/'],
      ['fs', 'location', '/lake/obj.txt'],
    ])
      await cli(args);
    await cli(['doctor', '--json'], undefined);
    // Failing reads and stats of both stores.
    await cli(['fs', 'cat', '/lake/missing.txt'], false);
    await cli(['fs', 'cat', '/web/data/missing.txt'], false);
    await cli(['fs', 'stat', '/web/nope/x'], false);

    // Bad mounts: wrong keys (the store refuses them), an unreachable origin with user info, a
    // masked value copied back.
    await cli(
      [
        'fs',
        'mount',
        '/bad-s3',
        's3://canary',
        ...['--option', `endpoint=${swift.endpoint}`, '--option', `region=${swift.region}`],
        ...[
          '--option',
          `accessKeyId=${CANARY.badAccessKey}`,
          '--option',
          `secretAccessKey=${CANARY.badSecretKey}`,
        ],
        ...['--option', `sessionToken=${CANARY.badSessionToken}`],
      ],
      false,
    );
    await cli(
      ['fs', 'mount', '--readonly', '/bad-web', `http://bad:${CANARY.badUriPass}@127.0.0.1:1/`],
      false,
    );
    await cli(
      [
        'fs',
        'mount',
        '/bad-masked',
        's3://canary',
        ...['--option', `endpoint=${swift.endpoint}`, '--option', 'accessKeyId=****'],
        ...['--option', `secretAccessKey=${CANARY.badSecretKey}`],
      ],
      false,
    );

    // S3 answers, errors included.
    await s3.send(new ListBucketsCommand({}));
    for (const key of ['lake/missing.txt', 'web/data/missing.txt']) {
      const [bucket, ...rest] = key.split('/');
      const err = await s3.send(new GetObjectCommand({ Bucket: bucket!, Key: rest.join('/') })).then(
        () => undefined,
        (e: Error) => e,
      );
      outputs.set(`S3 GET ${key}`, `${err?.name} ${err?.message} ${JSON.stringify(err)}`);
    }

    // HTTP endpoints of the admin port, anonymous and with the token.
    const token = (await readFile(join(dataDir, 'token'), 'utf8')).trim();
    await get('/metrics');
    await get('/healthz');
    for (const view of [
      'session',
      'overview',
      'workers',
      'mounts',
      'jobs',
      'history',
      'node',
      'node/history',
      'browse?path=/',
      'browse?path=/web/data',
      'browse?path=/lake',
      'du?path=/',
    ])
      await get(`/api/v1/dashboard/${view}`, token);
    for (const path of ['/api/v1/config', '/registry/v1/mounts', '/registry/v1/workers'])
      assert.equal((await get(path, token)).status, 200, path);

    // The origin down: the failing read's error and what the worker logs about it.
    await nginx.stop();
    await cli(['fs', 'cat', '/web/data/later.txt'], false);
    const down = await s3.send(new GetObjectCommand({ Bucket: 'web', Key: 'data/later.txt' })).then(
      () => undefined,
      (e: Error) => e,
    );
    outputs.set('S3 GET web/data/later.txt (origin down)', `${down?.name} ${down?.message}`);
    await cli(['doctor', '--json'], false);

    // The sealed registry and everything else the worker keeps on disk, key and token aside.
    for (const file of await readdir(dataDir, { recursive: true, withFileTypes: true })) {
      if (!file.isFile() || ['secrets.key', 'token'].includes(file.name)) continue;
      const path = join(file.parentPath, file.name);
      outputs.set(`file ${path}`, (await readFile(path)).toString('latin1'));
    }
    outputs.set('strata local stderr (debug)', strata.stderr());

    assert.ok(outputs.size > 40, `only ${outputs.size} outputs collected`);
    // The canaries are where they should be: the test would catch a leak (this proves it looks).
    assert.ok(strata.stderr().includes('"level":"debug"'), 'the daemon logs at debug');
    // The detector finds a canary where one is (the command lines that passed them in).
    assert.ok(findLeaks(new Map([['command lines', [...outputs.keys()].join('\n')]])).length >= 5);
    const leaks = findLeaks(outputs);
    assert.deepEqual(leaks, [], `canary secrets leaked:\n${leaks.join('\n')}`);
  });
});

describe('secrets canary in a cluster: etcd and the worker hold no store credential in clear', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let etcd: EtcdProcess;
  let swift: SwiftS3;
  let worker: RunningWorker;

  before(async () => {
    tmp = await tempDir('canary-etcd');
    etcd = await startEtcd();
    swift = await startSwiftS3({ users: [{ account: ACCOUNT, user: USER, secret: CANARY.s3SecretKey }] });
    await createBucket(
      { ...swift, accessKeyId: CANARY.s3AccessKey, secretAccessKey: CANARY.s3SecretKey },
      'canary',
    );
    worker = await startWorker(etcd.uri, ['--data-dir', join(tmp.dir, 'w0'), '--log-level', 'debug']);
  });

  after(async () => {
    await worker?.stop();
    await swift?.stop();
    await etcd?.stop();
    await tmp?.cleanup();
  });

  test('a canary s3 mount through etcd: the keyspace, the worker log and its endpoints are clean', async () => {
    const outputs = new Map<string, string>();
    const cli = async (args: string[], ok: boolean) => {
      const r = await runCli(args, { registry: etcd.uri });
      outputs.set(`strata ${args.join(' ')}`, `${r.stdout}\n${r.stderr}`);
      assert.equal(r.code === 0, ok, `strata ${args.join(' ')}: ${r.code} ${r.stderr}`);
      return r.stdout;
    };
    await cli(
      [
        'fs',
        'mount',
        '/lake',
        's3://canary',
        ...['--option', `endpoint=${swift.endpoint}`, '--option', `region=${swift.region}`],
        ...[
          '--option',
          `accessKeyId=${CANARY.s3AccessKey}`,
          '--option',
          `secretAccessKey=${CANARY.s3SecretKey}`,
        ],
      ],
      true,
    );
    await writeFile(join(tmp.dir, 'obj.txt'), 'through etcd');
    await cli(['fs', 'put', join(tmp.dir, 'obj.txt'), '/lake/obj.txt'], true);
    assert.equal(await cli(['fs', 'cat', '/lake/obj.txt'], true), 'through etcd');
    await cli(['fs', 'ls', '/lake'], true);
    await cli(['fs', 'cat', '/lake/missing.txt'], false);
    for (const args of [
      ['fs', 'mounts', '--json'],
      ['report', '--json'],
      ['conf', 'show'],
    ])
      await cli(args, true);
    await cli(
      [
        'fs',
        'mount',
        '/bad',
        's3://canary',
        ...['--option', `endpoint=${swift.endpoint}`, '--option', `accessKeyId=${CANARY.badAccessKey}`],
        ...['--option', `secretAccessKey=${CANARY.badSecretKey}`],
      ],
      false,
    );
    const token = await clusterToken(etcd.uri);
    for (const path of [
      '/metrics',
      '/api/v1/dashboard/mounts',
      '/api/v1/dashboard/overview',
      '/rpc/v1/mounts',
    ]) {
      const res = await fetch(`${worker.ready.addresses.worker}${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      outputs.set(`worker GET ${path}`, await res.text());
    }
    // The whole etcd keyspace, values decoded.
    const res = await fetch(`${etcd.clientUrl}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({
        key: Buffer.from([0]).toString('base64'),
        range_end: Buffer.from([0]).toString('base64'),
      }),
    });
    const kvs = ((await res.json()) as { kvs?: Array<{ key: string; value: string }> }).kvs ?? [];
    const dump = kvs.map((kv) => `${b64(kv.key)} = ${b64(kv.value)}`).join('\n');
    assert.match(dump, /"sealed":"v1\./, 'the mount record is in etcd, sealed');
    outputs.set('etcd keyspace', dump);
    outputs.set('strata worker stderr (debug)', worker.stderr());
    assert.deepEqual(findLeaks(outputs), []);
  });
});

const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/** `canary in where: excerpt` for every canary found in an output (none, when nothing leaks). */
function findLeaks(outputs: ReadonlyMap<string, string>): string[] {
  const leaks: string[] = [];
  const canaries = { ...CANARY, basicB64: BASIC_B64 };
  for (const [where, text] of outputs)
    for (const [name, value] of Object.entries(canaries))
      if (text.includes(value)) leaks.push(`${name} in ${where}: …${excerpt(text, value)}…`);
  return leaks;
}

function excerpt(text: string, value: string): string {
  const at = text.indexOf(value);
  return text.slice(Math.max(0, at - 120), at + value.length + 40).replace(/\s+/g, ' ');
}
