import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  forceUnmount,
  fuseSkipReason,
  type RunningFuse,
  type ShResult,
  sh,
  startFuse,
} from '../fuse/fuse-helpers.js';
import { type RunningStrata, STRATA_BIN, startLocal, tempDir } from '../helpers/local-process.js';
import { type NginxServer, startNginx } from '../helpers/nginx.js';
import { waitFor } from '../helpers/wait.js';
import { type OriginProxy, startOriginProxy } from './origin-proxy.js';

/**
 * Issue 16, Build 1, "the origin down": an http:// origin (nginx) behind a proxy that stops
 * answering (blackhole: connections held, nothing flows) or refuses (port closed, the origin
 * killed). Cached data is still served (CLI, S3, FUSE); an uncached read fails within the store
 * deadline (10 s by default; a mount's `timeoutMs` sets its connector's) with a clear error — CLI
 * message and non-zero exit, S3 503 ServiceUnavailable, FUSE EIO — never a hang; reads recover by
 * themselves when the origin comes back, with no restart. The times are reported, not asserted:
 * each command runs under a hang guard (3× the deadline) and the outcome checked is the error.
 */

const ACCESS_KEY = 'origin-down-key';
const SECRET_KEY = 'origin-down-secret';
const FILES = [
  'cached.txt',
  'cli.txt',
  's3.txt',
  'fuse.txt',
  'fast.txt',
  'refused.txt',
  'suspect.txt',
] as const;
const body = (name: string) => `contents of ${name}\n`;
const FUSE_SKIP = fuseSkipReason();

describe('the origin down: cached data served, uncached reads fail fast and clearly, then recover', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let nginx: NginxServer;
  let proxy: OriginProxy;
  let strata: RunningStrata;
  let s3: S3Client;
  let fuse: RunningFuse | undefined;
  let fuseDir: string;
  const figures: string[] = [];

  const cli = (args: string, guardMs = 30_000): Promise<ShResult> =>
    sh(`STRATA_REGISTRY=${strata.registry} ${process.execPath} ${STRATA_BIN} ${args}`, guardMs);
  const s3Get = async (bucket: string, key: string) => {
    const started = performance.now();
    try {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return {
        ok: true as const,
        text: await got.Body!.transformToString(),
        ms: performance.now() - started,
      };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      return {
        ok: false as const,
        name: e.name,
        status: e.$metadata?.httpStatusCode,
        ms: performance.now() - started,
      };
    }
  };

  before(async () => {
    tmp = await tempDir('origin-down');
    const web = join(tmp.dir, 'web');
    await mkdir(web, { recursive: true });
    for (const name of FILES) await writeFile(join(web, name), body(name));
    nginx = await startNginx(web);
    proxy = await startOriginProxy(nginx.url);
    strata = await startLocal(['--data-dir', join(tmp.dir, 'data')], {
      STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY,
      STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY,
    });
    for (const mount of [
      `fs mount --readonly /web ${proxy.url}/`,
      `fs mount --readonly /fast ${proxy.url}/ --option timeoutMs=2000`,
    ]) {
      const r = await cli(mount);
      assert.equal(r.code, 0, `${mount}: ${r.stderr}`);
    }
    s3 = new S3Client({
      endpoint: strata.ready.addresses.s3!,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
      maxAttempts: 1,
    });
    fuseDir = join(tmp.dir, 'mnt');
    if (FUSE_SKIP === undefined) {
      await mkdir(fuseDir);
      fuse = await startFuse(strata.registry, fuseDir);
    }
    // Cache one file through the CLI; the others are never read before the origin goes down.
    const warm = await cli('fs cat /web/cached.txt');
    assert.equal(warm.stdout, body('cached.txt'));
  });

  after(async () => {
    s3?.destroy();
    await fuse?.stop();
    if (fuse) await forceUnmount(fuseDir);
    await strata?.stop();
    await proxy?.stop();
    await nginx?.stop();
    await tmp?.cleanup();
    if (figures.length > 0) console.log(`# origin-down figures: ${figures.join('; ')}`);
  });

  test('blackholed: an uncached read fails at the store deadline (10 s) with a clear CLI error', async () => {
    proxy.blackhole();
    const r = await cli('fs cat /web/cli.txt');
    assert.notEqual(r.code, 0, 'the read failed');
    assert.notEqual(r.code, null);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /cli\.txt/);
    // Two 10 s clocks run here: the store deadline and the http connector's own timeout
    // (undici's coarse timers can fire it a little early), and either may say so first.
    assert.match(
      r.stderr,
      /no answer within 10000 ms \(the store deadline\)|sent no response within 10000 ms/,
      'the message names the deadline',
    );
    figures.push(`uncached CLI read, blackholed, default deadline: exit ${r.code} after ${r.ms} ms`);
  });

  test('blackholed: cached data is still served by the CLI, S3 and FUSE, without waiting a whole deadline', async () => {
    const r = await cli('fs cat /web/cached.txt');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, body('cached.txt'));
    const got = await s3Get('web', 'cached.txt');
    assert.deepEqual([got.ok, got.ok && got.text], [true, body('cached.txt')]);
    if (fuse) assert.equal((await sh(`cat ${fuseDir}/web/cached.txt`, 30_000)).stdout, body('cached.txt'));
    // The store is suspect now (it let a call run into the deadline): the two lookups of the
    // object's sidecar get the short deadline (1 s) each, not 10 s (reported; the next test
    // checks the short deadline by its message).
    const again = await s3Get('web', 'cached.txt');
    assert.deepEqual([again.ok, again.ok && again.text], [true, body('cached.txt')]);
    figures.push(
      `cached read, origin blackholed: CLI ${r.ms} ms, S3 ${Math.round(got.ms)} ms then ${Math.round(again.ms)} ms`,
    );
  });

  test('blackholed and suspect: the next uncached read fails at the short deadline', async () => {
    const r = await cli('fs cat /web/suspect.txt');
    assert.notEqual(r.code, 0);
    assert.notEqual(r.code, null);
    assert.match(r.stderr, /no answer within 1000 ms \(the store deadline while the store is suspect/);
    figures.push(`next uncached CLI read, store suspect: exit ${r.code} after ${r.ms} ms`);
  });

  test('blackholed: an uncached S3 GET is a 503 ServiceUnavailable', async () => {
    const got = await s3Get('web', 's3.txt');
    assert.deepEqual(
      [got.ok, !got.ok && got.status, !got.ok && got.name],
      [false, 503, 'ServiceUnavailable'],
    );
    figures.push(`uncached S3 GET, blackholed: 503 after ${Math.round(got.ms)} ms`);
  });

  test('blackholed: an uncached read on the FUSE mount fails EIO', { skip: FUSE_SKIP }, async () => {
    const r = await sh(`cat ${fuseDir}/web/fuse.txt`, 30_000);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Input\/output error/);
    figures.push(`uncached FUSE read, blackholed: EIO after ${r.ms} ms`);
  });

  test("blackholed: a mount's timeoutMs sets its deadline (2 s here)", async () => {
    const r = await cli('fs cat /fast/fast.txt', 6_000);
    assert.notEqual(r.code, 0);
    assert.notEqual(r.code, null, 'no hang past 3x the 2 s deadline');
    assert.match(r.stderr, /2000 ms/);
    figures.push(`uncached CLI read, blackholed, timeoutMs=2000: exit ${r.code} after ${r.ms} ms`);
  });

  test('the origin comes back: the failed reads succeed by themselves', async () => {
    await proxy.open();
    const started = performance.now();
    await waitFor(async () => (await cli('fs cat /web/cli.txt')).stdout === body('cli.txt'), {
      what: 'the CLI read to succeed again',
      timeoutMs: 30_000,
    });
    const got = await s3Get('web', 's3.txt');
    assert.deepEqual([got.ok, got.ok && got.text], [true, body('s3.txt')]);
    if (fuse) assert.equal((await sh(`cat ${fuseDir}/web/fuse.txt`, 30_000)).stdout, body('fuse.txt'));
    figures.push(`recovered after the origin returned: ${Math.round(performance.now() - started)} ms`);
  });

  test('refused (the origin killed): an uncached read fails at once, and recovers', async () => {
    await proxy.refuse();
    const r = await cli('fs cat /web/refused.txt');
    assert.notEqual(r.code, 0);
    assert.notEqual(r.code, null);
    assert.match(r.stderr, /refused\.txt/);
    const cached = await cli('fs cat /web/cached.txt');
    assert.equal(cached.stdout, body('cached.txt'));
    const got = await s3Get('web', 'refused.txt');
    assert.deepEqual(
      [got.ok, !got.ok && got.status, !got.ok && got.name],
      [false, 503, 'ServiceUnavailable'],
    );
    figures.push(`uncached CLI read, origin refused: exit ${r.code} after ${r.ms} ms`);
    await proxy.open();
    await waitFor(async () => (await cli('fs cat /web/refused.txt')).stdout === body('refused.txt'), {
      what: 'the read to succeed once the origin is back',
      timeoutMs: 30_000,
    });
  });
});

describe('--store-deadline sets the store deadline of strata local', () => {
  test('a blackholed origin fails at the configured deadline; a bad value is refused at start', async () => {
    const tmp = await tempDir('store-deadline');
    const web = join(tmp.dir, 'web');
    await mkdir(web);
    await writeFile(join(web, 'x.txt'), 'x');
    const nginx = await startNginx(web);
    const proxy = await startOriginProxy(nginx.url);
    let strata: RunningStrata | undefined;
    try {
      for (const bad of ['-1s', 'soon']) {
        const r = await sh(
          `${process.execPath} ${STRATA_BIN} local --port 0 --data-dir ${tmp.dir}/bad --store-deadline=${bad}`,
          30_000,
        );
        assert.notEqual(r.code, 0, `--store-deadline ${bad} refused`);
        assert.match(r.stderr, /store deadline/);
      }
      strata = await startLocal(['--data-dir', join(tmp.dir, 'data'), '--store-deadline', '1500ms']);
      const env = `STRATA_REGISTRY=${strata.registry}`;
      const mount = await sh(
        `${env} ${process.execPath} ${STRATA_BIN} fs mount --readonly /web ${proxy.url}/`,
      );
      assert.equal(mount.code, 0, mount.stderr);
      proxy.blackhole();
      const r = await sh(`${env} ${process.execPath} ${STRATA_BIN} fs cat /web/x.txt`, 10_000);
      assert.equal(r.code, 69, r.stderr);
      assert.match(r.stderr, /no answer within 1500 ms \(the store deadline\)/);
      console.log(`# --store-deadline 1500ms: uncached CLI read failed after ${r.ms} ms`);
    } finally {
      await strata?.stop();
      await proxy.stop();
      await nginx.stop();
      await tmp.cleanup();
    }
  });
});
