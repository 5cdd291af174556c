import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { ACCESS_KEY, SECRET_KEY } from '../gateway/harness.js';
import { signedHeaders } from '../gateway/sign.js';
import { type Daemon, spawnDaemon } from '../helpers/daemon.js';
import { type RunningStrata, STRATA_BIN, startLocal, tempDir } from '../helpers/local-process.js';
import { waitFor } from '../helpers/wait.js';
import { headerOf, openRaw, type RawConnection, rawRequest, slowloris } from './limits-raw.js';
import { makeTestCa, type TestCa } from './tls-ca.js';

/**
 * Issue 16 item 6 on real processes: connections per client address, header and body bounds,
 * header (slowloris) and idle timeouts, and overload answered 503 with Retry-After instead of a
 * queue — on the admin/RPC port of `strata local` and on the port of `strata gateway s3`.
 * (Half-sent heads and idle connections of the admin port: test/server/secure-default.test.ts.)
 */

const MAX_CONNECTIONS = 3;
const MAX_IN_FLIGHT = 2;

/** Opens `n` connections that send nothing (each counted against the address at once). */
async function hold(base: string, n: number): Promise<RawConnection[]> {
  const out: RawConnection[] = [];
  for (let i = 0; i < n; i++) out.push(await openRaw(base));
  return out;
}

function release(conns: readonly RawConnection[]): Promise<number[]> {
  for (const c of conns) c.socket.destroy();
  return Promise.all(conns.map((c) => c.closed));
}

describe('limits of the admin/RPC port (strata local)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let strata: RunningStrata;
  let base: string;
  let token: string;

  before(async () => {
    tmp = await tempDir('limits-admin');
    strata = await startLocal([
      '--data-dir',
      join(tmp.dir, 'data'),
      '--s3-port',
      'off',
      '--headers-timeout',
      '2s',
      '--idle-timeout',
      '300ms',
      '--max-connections-per-address',
      String(MAX_CONNECTIONS),
      '--max-in-flight',
      String(MAX_IN_FLIGHT),
    ]);
    base = strata.registry;
    token = (await readFile((strata.ready as unknown as { tokenFile: string }).tokenFile, 'utf8')).trim();
  });

  after(async () => {
    await strata?.stop();
    await tmp?.cleanup();
  });

  const auth = () => ({ authorization: `Bearer ${token}` });

  test(`connection ${MAX_CONNECTIONS + 1} from one address gets 503 OVERLOADED with Retry-After, then closes`, async () => {
    const held = await hold(base, MAX_CONNECTIONS);
    try {
      const over = await rawRequest(base, 'GET', '/registry/v1/workers', auth());
      assert.equal(over.status, 503, over.head);
      assert.equal(headerOf(over.head, 'retry-after'), '1');
      assert.equal(headerOf(over.head, 'connection'), 'close');
      assert.equal((JSON.parse(over.text) as { error: { code: string } }).error.code, 'OVERLOADED');
      assert.match(over.text, /too many connections from this address \(limit 3\)/);
    } finally {
      await release(held);
    }
    // Once they are gone the address is served again.
    await waitFor(
      async () => (await rawRequest(base, 'GET', '/registry/v1/workers', auth())).status === 200,
      {
        what: 'the address served again',
        timeoutMs: 10_000,
        intervalMs: 50,
      },
    );
  });

  test('a slowloris head (one byte every 50 ms) is cut with 408 at the headers timeout', async () => {
    const head = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(400)}\r\n\r\n`;
    const r = await slowloris(base, head);
    assert.match(r.data, /^HTTP\/1\.1 408 /, r.data);
    assert.ok(r.sent < head.length, `the whole head (${head.length} bytes) was sent: not cut`);
    process.stdout.write(`admin slowloris: cut after ${r.ms} ms, ${r.sent} of ${head.length} bytes sent\n`);
  });

  test('a header section over the bound is 431; a JSON body over its bound is 400 INVALID_ARGUMENT', async () => {
    const big = await rawRequest(base, 'GET', '/healthz', { 'x-big': 'a'.repeat(20 * 1024) });
    assert.equal(big.status, 431, big.head);
    const body = JSON.stringify({ kind: 'load', path: '/', pad: 'x'.repeat(70 * 1024) });
    const json = await rawRequest(
      base,
      'POST',
      '/api/v1/jobs',
      { ...auth(), 'content-type': 'application/json' },
      body,
    );
    assert.equal(json.status, 400, json.head);
    const e = (JSON.parse(json.text) as { error: { code: string; message: string } }).error;
    assert.equal(e.code, 'INVALID_ARGUMENT');
    assert.match(e.message, /at most 65536 bytes/);
    // The process is still serving.
    assert.equal((await rawRequest(base, 'GET', '/healthz')).status, 200);
  });

  test(`past ${MAX_IN_FLIGHT} requests in flight the next gets 503 OVERLOADED with Retry-After; /healthz still answers`, async () => {
    // Two uploads whose bodies never come: admitted, and in flight until the test lets go.
    const held = await hold(base, MAX_IN_FLIGHT);
    for (const [i, c] of held.entries())
      c.socket.write(
        `PUT /rpc/v1/write?path=/held-${i}.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: 1000000\r\n\r\nabc`,
      );
    try {
      const over = await waitFor(
        async () => {
          // (a 503 for connections may come first, while the server sees earlier closes)
          const r = await rawRequest(base, 'GET', '/registry/v1/workers', auth());
          return r.status === 503 && r.text.includes('in flight') ? r : undefined;
        },
        { what: 'a 503 while two uploads are in flight', timeoutMs: 10_000, intervalMs: 50 },
      );
      assert.equal(headerOf(over.head, 'retry-after'), '1');
      const e = (JSON.parse(over.text) as { error: { code: string; message: string } }).error;
      assert.equal(e.code, 'OVERLOADED');
      assert.match(e.message, /2 requests in flight/);
      assert.equal((await rawRequest(base, 'GET', '/healthz')).status, 200);
      assert.equal(held.filter((c) => c.socket.destroyed).length, 0, 'a held upload was cut');
    } finally {
      await release(held);
    }
    await waitFor(
      async () => (await rawRequest(base, 'GET', '/registry/v1/workers', auth())).status === 200,
      {
        what: 'requests served again once the uploads ended',
        timeoutMs: 10_000,
        intervalMs: 50,
      },
    );
  });
});

describe('limits of the S3 port (strata gateway s3)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let strata: RunningStrata;
  let gateway: Daemon<{ addresses: { s3: string } }>;
  let s3: string;

  const signed = async (method: string, path: string, body: Buffer | string = '', extra = {}) =>
    rawRequest(s3, method, path, await signedHeaders(`${s3}${path}`, method, extra), body);
  const signedHead = async (method: string, path: string, extra: Record<string, string> = {}) => {
    const h = await signedHeaders(`${s3}${path}`, method, extra);
    return Object.entries(h)
      .filter(([k]) => k.toLowerCase() !== 'host')
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
  };

  before(async () => {
    tmp = await tempDir('limits-s3');
    strata = await startLocal(['--data-dir', join(tmp.dir, 'data'), '--s3-port', 'off']);
    gateway = await spawnDaemon(
      process.execPath,
      [
        STRATA_BIN,
        'gateway',
        's3',
        '--registry',
        strata.registry,
        '--port',
        '0',
        '--headers-timeout',
        '2s',
        '--keep-alive-timeout',
        '300ms',
        '--max-connections-per-address',
        String(MAX_CONNECTIONS),
        '--max-in-flight',
        String(MAX_IN_FLIGHT),
      ],
      {
        env: { STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY, STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY },
        what: 'strata gateway s3',
      },
    );
    s3 = gateway.ready.addresses.s3;
    const mb = await signed('PUT', '/limits');
    assert.equal(mb.status, 200, mb.text);
    const put = await signed('PUT', '/limits/k', 'small');
    assert.equal(put.status, 200, put.text);
  });

  after(async () => {
    await gateway?.stop();
    await strata?.stop();
    await tmp?.cleanup();
  });

  test(`connection ${MAX_CONNECTIONS + 1} from one address gets 503 SlowDown with Retry-After`, async () => {
    const held = await hold(s3, MAX_CONNECTIONS);
    try {
      const over = await signed('GET', '/limits/k');
      assert.equal(over.status, 503, over.head);
      assert.equal(headerOf(over.head, 'retry-after'), '1');
      assert.match(over.text, /<Code>SlowDown<\/Code>/);
      assert.match(over.text, /too many connections from this address/);
    } finally {
      await release(held);
    }
    await waitFor(async () => (await signed('GET', '/limits/k')).status === 200, {
      what: 'the address served again',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
  });

  test('a slowloris head is cut with 400 RequestTimeout at the header timeout', async () => {
    const head = `GET /limits/k HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(400)}\r\n\r\n`;
    const r = await slowloris(s3, head);
    assert.match(r.data, /^HTTP\/1\.1 400 /, r.data);
    assert.match(r.data, /<Code>RequestTimeout<\/Code>/);
    assert.ok(r.sent < head.length, 'the whole head was sent: not cut');
    process.stdout.write(`S3 slowloris: cut after ${r.ms} ms, ${r.sent} of ${head.length} bytes sent\n`);
  });

  test('an idle kept-alive connection is closed after the keep-alive timeout', async () => {
    const c = await openRaw(s3);
    c.socket.write(
      `GET /limits/k HTTP/1.1\r\nHost: ${new URL(s3).host}\r\n${await signedHead('GET', '/limits/k')}\r\n`,
    );
    assert.match(await c.head(), /^HTTP\/1\.1 200 /);
    let gaveUp = false;
    const timer = setTimeout(() => {
      gaveUp = true;
      c.socket.destroy();
    }, 10_000);
    const ms = await c.closed;
    clearTimeout(timer);
    assert.equal(gaveUp, false, `the server kept the idle connection past the test's 10 s deadline`);
    process.stdout.write(`S3 idle keep-alive connection closed after ${ms} ms\n`);
  });

  test('a header section over 64 KiB is 431; an XML body over its bound is 400 MalformedXML', async () => {
    const big = await rawRequest(s3, 'GET', '/limits/k', { 'x-big': 'a'.repeat(100 * 1024) });
    assert.equal(big.status, 431, big.head);
    const xml = `<Tagging><TagSet><Tag><Key>k</Key><Value>${'v'.repeat(1024 * 1024)}</Value></Tag></TagSet></Tagging>`;
    const tagging = await signed('PUT', '/limits/k?tagging', xml);
    assert.equal(tagging.status, 400, tagging.head);
    assert.match(tagging.text, /<Code>MalformedXML<\/Code>/);
    assert.match(tagging.text, /request body larger than \d+ bytes/);
    assert.equal((await signed('GET', '/limits/k')).text, 'small');
  });

  test(`past ${MAX_IN_FLIGHT} requests in flight the next gets 503 SlowDown with Retry-After, not a queue`, async () => {
    const held = await hold(s3, MAX_IN_FLIGHT);
    for (const [i, c] of held.entries()) {
      const path = `/limits/held-${i}`;
      c.socket.write(
        `PUT ${path} HTTP/1.1\r\nHost: ${new URL(s3).host}\r\n${await signedHead('PUT', path)}Content-Length: 1000000\r\n\r\nabc`,
      );
    }
    try {
      const over = await waitFor(
        async () => {
          // (a 503 for connections may come first, while the server sees earlier closes)
          const r = await signed('GET', '/limits/k');
          return r.status === 503 && r.text.includes('in flight') ? r : undefined;
        },
        { what: 'a 503 while two uploads are in flight', timeoutMs: 10_000, intervalMs: 50 },
      );
      assert.equal(headerOf(over.head, 'retry-after'), '1');
      assert.match(over.text, /<Code>SlowDown<\/Code>/);
      assert.match(over.text, /2 requests in flight/);
      assert.equal(held.filter((c) => c.socket.destroyed).length, 0, 'a held upload was cut');
    } finally {
      await release(held);
    }
    await waitFor(async () => (await signed('GET', '/limits/k')).status === 200, {
      what: 'requests served again once the uploads ended',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
  });
});

describe('limits of a TLS port: connections count from before the handshake, which has the head timeout', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let ca: TestCa;
  let strata: RunningStrata;

  before(async () => {
    tmp = await tempDir('limits-tls');
    ca = await makeTestCa(tmp.dir);
    strata = await startLocal([
      '--data-dir',
      join(tmp.dir, 'data'),
      '--s3-port',
      'off',
      '--tls-cert',
      ca.certFile,
      '--tls-key',
      ca.keyFile,
      '--headers-timeout',
      '3s',
      '--max-connections-per-address',
      String(MAX_CONNECTIONS),
    ]);
  });

  after(async () => {
    await strata?.stop();
    await ca?.close();
    await tmp?.cleanup();
  });

  test(`${MAX_CONNECTIONS} TCP connections that never start TLS fill the address; the next TLS request gets 503`, async () => {
    const held = await hold(strata.registry, MAX_CONNECTIONS);
    const agent = new Agent({ connect: { ca: ca.caPem } });
    try {
      const res = await request(`${strata.registry}/registry/v1/workers`, { dispatcher: agent });
      const text = await res.body.text();
      assert.equal(res.statusCode, 503, text);
      assert.equal(res.headers['retry-after'], '1');
      assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'OVERLOADED');
    } finally {
      await agent.close();
    }
    // A connection that never sends its ClientHello is closed at the head timeout.
    const timer = setTimeout(() => {
      for (const c of held) c.socket.destroy();
    }, 10_000);
    const ms = await Promise.all(held.map((c) => c.closed));
    clearTimeout(timer);
    assert.ok(
      ms.every((t) => t < 9_000),
      `silent connections to the TLS port were kept ${ms.join(', ')} ms`,
    );
    process.stdout.write(`TLS port: silent connections closed after ${ms.join(', ')} ms\n`);
    const after = await request(`${strata.registry}/healthz`, { dispatcher: ca.agent });
    assert.equal(after.statusCode, 200);
    await after.body.dump();
  });
});
