import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { REPO_ROOT, type RunningStrata, startLocal, tempDir } from '../helpers/local-process.js';
import { ACCESS_KEY, SECRET_KEY } from './harness.js';
import { signedHeaders } from './sign.js';

/**
 * 1 GiB through a gateway running as its own process: its peak RSS (VmHWM) must stay well under
 * 64 MiB above its idle RSS, for a PUT and for a GET whose client stops reading for a while.
 */

const SIZE = 1024 * 1024 * 1024;

async function procKb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)![1]) * 1024;
}

function pattern(): { stream: Readable; md5: () => string } {
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 31) & 0xff;
  const hash = createHash('md5');
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= SIZE) return this.push(null);
      hash.update(block);
      sent += block.length;
      this.push(block);
    },
  });
  return { stream, md5: () => hash.digest('hex') };
}

/**
 * Resolves once a paused response's socket has stopped taking in bytes (the sender is held back
 * by TCP flow control): its byte count unchanged over 5 consecutive looks 50 ms apart. Fails
 * after a deadline instead of waiting forever.
 */
async function backpressured(socket: Socket, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let last = -1;
  let still = 0;
  while (still < 5) {
    if (Date.now() > deadline) throw new Error('the gateway kept sending to a paused reader');
    await new Promise((ok) => setTimeout(ok, 50));
    const n = socket.bytesRead;
    still = n === last ? still + 1 : 0;
    last = n;
  }
}

describe('S3 gateway streaming (1 GiB, separate process)', { timeout: 300_000 }, () => {
  let local: RunningStrata;
  let gw: ReturnType<typeof spawn>;
  let url: string;
  let cleanup: () => Promise<void>;
  let s3: S3Client;
  before(async () => {
    const tmp = await tempDir('s3stream');
    cleanup = tmp.cleanup;
    await mkdir(join(tmp.dir, 'store'));
    local = await startLocal([
      '--data-dir',
      join(tmp.dir, 'data'),
      '--mount',
      `/=file://${join(tmp.dir, 'store')}`,
    ]);
    const script = `import { runS3Gateway } from '${REPO_ROOT}/dist/src/gateway/s3/index.js'; process.exit(await runS3Gateway(process.argv.slice(1)));`;
    gw = spawn(
      process.execPath,
      ['--input-type=module', '-e', script, '--', '--registry', local.registry, '--port', '0'],
      {
        env: { ...process.env, STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY, STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const line = await new Promise<string>((ok) => createInterface({ input: gw.stdout! }).once('line', ok));
    url = (JSON.parse(line) as { addresses: { s3: string } }).addresses.s3;
    s3 = new S3Client({
      endpoint: url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'big' }));
  });
  after(async () => {
    s3?.destroy();
    if (gw && gw.exitCode === null) {
      const exited = new Promise((ok) => gw.once('exit', ok));
      gw.kill('SIGTERM');
      await exited;
    }
    await local?.stop();
    await cleanup?.();
  });

  test('1 GiB PUT then GET with a paused reader: bounded gateway memory, same bytes back', async () => {
    const idle = await procKb(gw.pid!, 'VmRSS');
    const src = pattern();
    const put = await s3.send(
      new PutObjectCommand({ Bucket: 'big', Key: 'one-gib.bin', Body: src.stream, ContentLength: SIZE }),
    );
    const md5 = src.md5();
    assert.equal(put.ETag, `"${md5}"`);
    const afterPut = await procKb(gw.pid!, 'VmHWM');
    // GET with raw HTTP so we control reading: pause after the first 8 MiB until the gateway is
    // held back (nothing more arrives on the socket), measure, resume.
    const headers = await signedHeaders(`${url}/big/one-gib.bin`, 'GET');
    const hash = createHash('md5');
    let got = 0;
    let pausedPeak = 0;
    await new Promise<void>((ok, fail) => {
      request(`${url}/big/one-gib.bin`, { headers }, (res) => {
        assert.equal(res.statusCode, 200);
        let paused = false;
        res.on('data', (d: Buffer) => {
          hash.update(d);
          got += d.length;
          if (!paused && got > 8 * 1024 * 1024) {
            paused = true;
            res.pause();
            backpressured(res.socket)
              .then(async () => {
                pausedPeak = (await procKb(gw.pid!, 'VmRSS')) - idle;
                res.resume();
              })
              .catch(fail);
          }
        });
        res.on('end', ok);
        res.on('error', fail);
      })
        .on('error', fail)
        .end();
    });
    const peak = (await procKb(gw.pid!, 'VmHWM')) - idle;
    process.stdout.write(
      `# gateway idle RSS ${(idle / 2 ** 20).toFixed(1)} MiB; peak extra after PUT ${((afterPut - idle) / 2 ** 20).toFixed(1)} MiB, after GET ${(peak / 2 ** 20).toFixed(1)} MiB; extra while the reader paused ${(pausedPeak / 2 ** 20).toFixed(1)} MiB\n`,
    );
    assert.equal(got, SIZE);
    assert.equal(hash.digest('hex'), md5);
    assert.ok(peak < 64 * 2 ** 20, `gateway peak grew by ${peak} bytes`);
    assert.ok(pausedPeak < 64 * 2 ** 20);
  });
});
