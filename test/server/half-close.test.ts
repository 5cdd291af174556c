import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunningStrata, startLocal, tempDir } from '../helpers/local-process.js';

/** Sends one request, half-closes at once (FIN after the head), and collects all that comes back. */
function halfClosedExchange(base: string, head: string): Promise<Buffer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.end(head); // the write side is closed right after the request
    });
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of the answer within 20 s; got ${Buffer.concat(chunks).length} bytes`));
    }, 20_000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

function splitAnswer(raw: Buffer): { status: string; body: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  assert.ok(end > 0, `an HTTP answer came back: ${JSON.stringify(raw.subarray(0, 200).toString('latin1'))}`);
  return { status: raw.subarray(0, raw.indexOf('\r\n')).toString('latin1'), body: raw.subarray(end + 4) };
}

describe('a client that half-closes right after its request still gets the whole answer', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let strata: RunningStrata;
  let token: string;
  const big = randomBytes(3 * 1024 * 1024 + 123); // several pages, streamed

  before(async () => {
    tmp = await tempDir('half-close');
    await writeFile(join(tmp.dir, 'big.bin'), big);
    await writeFile(join(tmp.dir, 'small.txt'), 'small\n');
    strata = await startLocal(['--data-dir', join(tmp.dir, 'data'), '--mount', `/m=file://${tmp.dir}`]);
    token = (await readFile(join(tmp.dir, 'data', 'token'), 'utf8')).trim();
  });

  after(async () => {
    await strata?.stop();
    await tmp?.cleanup();
  });

  const read = (path: string) =>
    `GET /rpc/v1/read?path=${encodeURIComponent(path)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`;

  test('a small file over the worker RPC', async () => {
    const { status, body } = splitAnswer(
      await halfClosedExchange(String(strata.ready.addresses.worker), read('/m/small.txt')),
    );
    assert.match(status, /^HTTP\/1\.1 200 /);
    assert.equal(body.toString(), 'small\n');
  });

  test('a multi-page file, cold then warm, over the worker RPC: every byte', async () => {
    for (const round of ['cold', 'warm']) {
      const { status, body } = splitAnswer(
        await halfClosedExchange(String(strata.ready.addresses.worker), read('/m/big.bin')),
      );
      assert.match(status, /^HTTP\/1\.1 200 /, round);
      assert.equal(body.length, big.length, `${round}: length`);
      assert.ok(body.equals(big), `${round}: bytes`);
    }
  });

  test('a watch stream ends when its client half-closes (a watcher never half-closes on purpose)', async () => {
    // Without the end, the stream lingers on the worker until the server stops: the exchange
    // would run into its 20 s deadline and reject.
    const raw = await halfClosedExchange(
      String(strata.ready.addresses.worker),
      `GET /rpc/v1/watch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    );
    const { status, body } = splitAnswer(raw);
    assert.match(status, /^HTTP\/1\.1 200 /);
    assert.match(body.toString('latin1'), /"hello"/);
  });

  test('the S3 port answers a half-closed request (an anonymous request is refused, not dropped)', async () => {
    const { status } = splitAnswer(
      await halfClosedExchange(
        String(strata.ready.addresses.s3),
        'GET /m/big.bin HTTP/1.1\r\nHost: x\r\n\r\n',
      ),
    );
    assert.match(status, /^HTTP\/1\.1 (403|401) /);
  });
});
