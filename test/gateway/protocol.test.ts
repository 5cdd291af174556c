import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { connect } from '../../src/client/connect.js';
import { setAnonymousRead, startS3GatewayServer } from '../../src/gateway/s3/index.js';
import { REPO_ROOT, runCli } from '../helpers/local-process.js';
import { ACCESS_KEY, type Harness, SECRET_KEY, startHarness } from './harness.js';
import { presignPath, signer } from './sign.js';

/** Raw HTTP against the gateway, signed with the maintained SigV4 library (an independent signer). */

interface Resp {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(
  h: Harness,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer | string,
): Promise<Resp> {
  return new Promise((ok, fail) => {
    const req = request(`${h.url}${path}`, { method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () =>
        ok({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }),
      );
    });
    req.on('error', fail);
    req.end(body);
  });
}

async function signed(
  h: Harness,
  method: string,
  path: string,
  opts: {
    body?: Buffer | string;
    headers?: Record<string, string>;
    query?: Record<string, string>;
    date?: Date;
    secret?: string;
    region?: string;
  } = {},
): Promise<Resp> {
  const body = opts.body ?? '';
  const headers: Record<string, string> = {
    host: `127.0.0.1:${h.port}`,
    'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
    ...opts.headers,
  };
  const signedReq = await signer(opts.secret, opts.region).sign(
    {
      method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: h.port,
      path,
      query: opts.query ?? {},
      headers,
    },
    { signingDate: opts.date ?? new Date() },
  );
  // Percent-encoding throughout (URLSearchParams would send a space as "+", a literal plus in S3).
  const qs = Object.entries(opts.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return send(h, method, qs ? `${path}?${qs}` : path, signedReq.headers as Record<string, string>, body);
}

const EMPTY = createHash('sha256').update('').digest('hex');

/** A bucket of the test's own, so that no test depends on what another one created. */
async function bucket(h: Harness, name: string): Promise<string> {
  const r = await signed(h, 'PUT', `/${name}`);
  assert.equal(r.status, 200, r.body);
  return name;
}

/** Builds an aws-chunked body with chunk signatures chained from the seed signature. */
async function chunkedBody(chunks: Buffer[], seed: string, date: Date): Promise<Buffer> {
  const s = signer();
  const longDate = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const scope = `${longDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
  let prev = seed;
  const out: Buffer[] = [];
  for (const c of [...chunks, Buffer.alloc(0)]) {
    const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${longDate}\n${scope}\n${prev}\n${EMPTY}\n${createHash('sha256').update(c).digest('hex')}`;
    const sig = await s.sign(toSign, { signingDate: date });
    out.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${sig}\r\n`), c, Buffer.from('\r\n'));
    prev = sig;
  }
  return Buffer.concat(out);
}

async function streamingPut(
  h: Harness,
  b: string,
  key: string,
  chunks: Buffer[],
  tamper = false,
  trailing: Buffer = Buffer.alloc(0),
): Promise<Resp> {
  const date = new Date();
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const headers: Record<string, string> = {
    host: `127.0.0.1:${h.port}`,
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(total),
  };
  // Content-Length is the encoded length; compute it from a dry run with a dummy seed.
  const dry = await chunkedBody(chunks, '0'.repeat(64), date);
  headers['content-length'] = String(dry.length + trailing.length);
  const path = `/${b}/${key}`;
  const req = await signer().sign(
    { method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port: h.port, path, query: {}, headers },
    { signingDate: date },
  );
  const authz = String(req.headers.authorization);
  const seed = /Signature=([0-9a-f]{64})/.exec(authz)![1]!;
  const body = await chunkedBody(chunks, seed, date);
  if (tamper) body[body.indexOf('\r\n') + 2]! ^= 1;
  return send(h, 'PUT', path, req.headers as Record<string, string>, Buffer.concat([body, trailing]));
}

describe('S3 gateway protocol details (raw HTTP)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.stop();
  });

  test('every response carries x-amz-request-id; errors are S3 XML', async () => {
    const b = await bucket(h, 'proto-errors');
    const r = await signed(h, 'GET', `/${b}/missing-key`);
    assert.equal(r.status, 404);
    assert.match(String(r.headers['x-amz-request-id']), /^[0-9A-F]{16}$/);
    assert.ok(r.headers['x-amz-id-2']);
    assert.match(
      r.body,
      /<Error><Code>NoSuchKey<\/Code><Message>[^<]+<\/Message><Resource>\/proto-errors\/missing-key<\/Resource><RequestId>[0-9A-F]+<\/RequestId><\/Error>/,
    );
    const ok = await signed(h, 'GET', '/');
    assert.ok(ok.headers['x-amz-request-id']);
  });

  test('signed streaming (aws-chunked) upload verifies chunk signatures', async () => {
    const b = await bucket(h, 'proto-chunked');
    const chunks = [Buffer.alloc(64 * 1024, 'x'), Buffer.alloc(1000, 'y')];
    const good = await streamingPut(h, b, 'chunked.bin', chunks);
    assert.equal(good.status, 200, good.body);
    assert.equal(good.headers.etag, `"${createHash('md5').update(Buffer.concat(chunks)).digest('hex')}"`);
    const got = await signed(h, 'GET', `/${b}/chunked.bin`);
    assert.equal(got.body, Buffer.concat(chunks).toString());
    const bad = await streamingPut(h, b, 'chunked.bin', [Buffer.from('evil evil')], true);
    assert.equal(bad.status, 403);
    assert.match(bad.body, /SignatureDoesNotMatch/);
    assert.equal(
      (await signed(h, 'GET', `/${b}/chunked.bin`)).body.length,
      65 * 1024 + 1000 - 1024,
      'old object kept',
    );
  });

  test('x-amz-content-sha256 mismatch, clock skew, unsigned and wrong-secret requests', async () => {
    const b = await bucket(h, 'proto-auth');
    assert.equal((await signed(h, 'PUT', `/${b}/private.txt`, { body: 'private' })).status, 200);
    const mismatch = await signed(h, 'PUT', `/${b}/sha.txt`, {
      body: 'actual body',
      headers: { 'x-amz-content-sha256': createHash('sha256').update('other body').digest('hex') },
    });
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.body, /XAmzContentSHA256Mismatch/);
    const skew = await signed(h, 'GET', `/${b}`, { date: new Date(Date.now() - 20 * 60_000) });
    assert.equal(skew.status, 403);
    assert.match(skew.body, /RequestTimeTooSkewed/);
    const anon = await send(h, 'GET', `/${b}/private.txt`, {});
    assert.equal(anon.status, 403);
    assert.match(anon.body, /AccessDenied/);
    const wrong = await signed(h, 'GET', `/${b}`, { secret: 'nope' });
    assert.equal(wrong.status, 403);
    assert.match(wrong.body, /SignatureDoesNotMatch/);
  });

  test('anonymous read can be switched on and off per bucket (GET/HEAD only)', async () => {
    const b = await bucket(h, 'proto-anonymous');
    assert.equal((await signed(h, 'PUT', `/${b}/public.txt`, { body: 'public' })).status, 200);
    assert.equal((await send(h, 'GET', `/${b}/public.txt`, {})).status, 403);
    const on = await runCli(['fs', 'anonymous', b, 'on'], { registry: h.local.registry });
    assert.equal(on.code, 0, on.stderr);
    assert.equal((await runCli(['fs', 'anonymous', b], { registry: h.local.registry })).stdout, 'on\n');
    const fs = await connect(h.local.registry);
    const r = await send(h, 'GET', `/${b}/public.txt`, {});
    assert.equal(r.status, 200);
    assert.equal(r.body, 'public');
    assert.equal((await send(h, 'PUT', `/${b}/x.txt`, { 'content-length': '1' }, 'x')).status, 403);
    await setAnonymousRead(fs, b, false);
    assert.equal((await send(h, 'GET', `/${b}/public.txt`, {})).status, 403);
    await fs.close();
  });

  test('malformed XML, bad ranges, oversized headers and bad paths are 4xx, never a crash', async () => {
    const b = await bucket(h, 'proto-malformed');
    assert.equal((await signed(h, 'PUT', `/${b}/small.txt`, { body: 'small' })).status, 200);
    const bad = await signed(h, 'POST', `/${b}`, {
      query: { delete: '' },
      body: '<Delete><Object><Key>a</Key></Object',
    });
    assert.equal(bad.status, 400);
    assert.match(bad.body, /MalformedXML/);
    const mpu = await signed(h, 'POST', `/${b}/k`, { query: { uploads: '' } });
    const id = /<UploadId>([^<]+)</.exec(mpu.body)![1]!;
    const junk = await signed(h, 'POST', `/${b}/k`, { query: { uploadId: id }, body: 'not xml at all' });
    assert.equal(junk.status, 400);
    assert.match(junk.body, /MalformedXML/);
    const range = await signed(h, 'GET', `/${b}/small.txt`, { headers: { range: 'bytes=100-200' } });
    assert.equal(range.status, 416);
    assert.match(range.body, /InvalidRange/);
    const huge = await send(h, 'GET', `/${b}`, { 'x-big': 'a'.repeat(100 * 1024) });
    assert.equal(huge.status, 431);
    const enc = await signed(h, 'GET', `/${b}/%E0%A4%A`);
    assert.ok(enc.status >= 400 && enc.status < 500);
    // still alive
    assert.equal((await signed(h, 'GET', '/')).status, 200);
  });

  test('XML limits: character references beyond Unicode, DOCTYPEs, deep nesting and oversized bodies are 400 MalformedXML', async () => {
    const b = await bucket(h, 'proto-xml');
    assert.equal((await signed(h, 'PUT', `/${b}/k`, { body: 'kept' })).status, 200);
    const expectMalformed = (r: Resp) => {
      assert.equal(r.status, 400, r.body);
      assert.match(r.body, /<Code>MalformedXML<\/Code>/);
    };
    for (const ref of ['&#x110000;', '&#1114112;', '&#xFFFFFFFF;'])
      expectMalformed(
        await signed(h, 'POST', `/${b}`, {
          query: { delete: '' },
          body: `<Delete><Object><Key>k${ref}</Key></Object></Delete>`,
        }),
      );
    const mpu = await signed(h, 'POST', `/${b}/big`, { query: { uploads: '' } });
    const id = /<UploadId>([^<]+)</.exec(mpu.body)![1]!;
    expectMalformed(
      await signed(h, 'POST', `/${b}/big`, {
        query: { uploadId: id },
        body: '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&#1114112;</ETag></Part></CompleteMultipartUpload>',
      }),
    );
    expectMalformed(
      await signed(h, 'PUT', `/${b}/k`, {
        query: { tagging: '' },
        body: '<!DOCTYPE Tagging [<!ENTITY x "yyyy">]><Tagging><TagSet><Tag><Key>&x;</Key><Value>v</Value></Tag></TagSet></Tagging>',
      }),
    );
    expectMalformed(
      await signed(h, 'PUT', `/${b}/k`, {
        query: { tagging: '' },
        body: `${'<Tagging>'.repeat(1000)}${'</Tagging>'.repeat(1000)}`,
      }),
    );
    expectMalformed(
      await signed(h, 'POST', `/${b}`, {
        query: { delete: '' },
        body: `<Delete>${'<Object><Key>k</Key></Object>'.repeat(80_000)}</Delete>`,
      }),
    );
    // Nothing was deleted or tagged, and the gateway still answers.
    assert.equal((await signed(h, 'GET', `/${b}/k`)).body, 'kept');
    assert.match(
      (await signed(h, 'GET', `/${b}/k`, { query: { tagging: '' } })).body,
      /<TagSet><\/TagSet>|<TagSet\/>/,
    );
  });

  test('response-* overrides with CR, LF or other bytes a header cannot carry are 400 InvalidArgument, never a 500', async () => {
    const b = await bucket(h, 'proto-overrides');
    assert.equal((await signed(h, 'PUT', `/${b}/o.txt`, { body: 'override me' })).status, 200);
    const params = [
      'response-content-type',
      'response-content-disposition',
      'response-content-language',
      'response-expires',
      'response-cache-control',
      'response-content-encoding',
    ];
    const bad = ['text/plain\r\nx-injected: 1', 'a\nb', 'a\rb', 'nul\u0000', 'tab\u007f', 'euro \u20ac'];
    for (const param of params) {
      for (const value of bad) {
        const what = `${param}=${JSON.stringify(value)}`;
        const get = await signed(h, 'GET', `/${b}/o.txt`, { query: { [param]: value } });
        assert.equal(get.status, 400, `${what}: ${get.body}`);
        assert.match(get.body, /<Code>InvalidArgument<\/Code>/, what);
        assert.equal(get.headers['x-injected'], undefined, what);
        const head = await signed(h, 'HEAD', `/${b}/o.txt`, { query: { [param]: value } });
        assert.equal(head.status, 400, `HEAD ${what}`);
      }
    }
    // Well-formed overrides still apply, Latin-1 included.
    const ok = await signed(h, 'GET', `/${b}/o.txt`, {
      query: {
        'response-content-type': 'text/x-ok',
        'response-content-disposition': 'attachment; filename="caf\u00e9.txt"',
      },
    });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.headers['content-type'], 'text/x-ok');
    assert.equal(ok.headers['content-disposition'], 'attachment; filename="caf\u00e9.txt"');
    assert.equal(ok.body, 'override me');
  });

  test("a signature scoped to another region is 400 AuthorizationHeaderMalformed / AuthorizationQueryParametersError naming the gateway's region", async () => {
    const b = await bucket(h, 'proto-region');
    assert.equal((await signed(h, 'PUT', `/${b}/r.txt`, { body: 'region' })).status, 200);
    const header = await signed(h, 'GET', `/${b}/r.txt`, { region: 'eu-west-1' });
    assert.equal(header.status, 400, header.body);
    assert.match(header.body, /<Code>AuthorizationHeaderMalformed<\/Code>/);
    assert.match(header.body, /the region &apos;eu-west-1&apos; is wrong; expecting &apos;us-east-1&apos;/);
    assert.match(header.body, /<Region>us-east-1<\/Region>/);
    const url = await presignPath(h.port, 'GET', `/${b}/r.txt`, { region: 'eu-west-1' });
    const presigned = await send(h, 'GET', url, {});
    assert.equal(presigned.status, 400, presigned.body);
    assert.match(presigned.body, /<Code>AuthorizationQueryParametersError<\/Code>/);
    assert.match(presigned.body, /<Region>us-east-1<\/Region>/);
    // A write signed for the wrong region stores nothing.
    const put = await signed(h, 'PUT', `/${b}/w.txt`, { body: 'no', region: 'us-west-2' });
    assert.equal(put.status, 400, put.body);
    assert.equal((await signed(h, 'GET', `/${b}/w.txt`)).status, 404);
    // The right region passes, header and presigned.
    assert.equal((await signed(h, 'GET', `/${b}/r.txt`)).body, 'region');
    assert.equal((await send(h, 'GET', await presignPath(h.port, 'GET', `/${b}/r.txt`), {})).body, 'region');

    // A gateway configured for eu-west-1 takes eu-west-1 signatures and refuses us-east-1 ones.
    const fs = await connect(h.local.registry);
    const eu = await startS3GatewayServer(fs, {
      credentials: new Map([[ACCESS_KEY, SECRET_KEY]]),
      port: 0,
      region: 'eu-west-1',
    });
    try {
      const euPort = Number(new URL(eu.url).port);
      const g = { ...h, port: euPort, url: eu.url } as Harness;
      const good = await signed(g, 'GET', `/${b}/r.txt`, { region: 'eu-west-1' });
      assert.equal(good.status, 200, good.body);
      const wrong = await signed(g, 'GET', `/${b}/r.txt`);
      assert.equal(wrong.status, 400);
      assert.match(wrong.body, /expecting &apos;eu-west-1&apos;/);
      const loc = await signed(g, 'GET', `/${b}`, { region: 'eu-west-1', query: { location: '' } });
      assert.match(loc.body, /eu-west-1/);
      const url2 = await presignPath(euPort, 'GET', `/${b}/r.txt`, { region: 'eu-west-1' });
      assert.equal((await send(g, 'GET', url2, {})).body, 'region');
    } finally {
      await eu.close();
      await fs.close();
    }
  });

  test('x-amz-content-sha256 that is no SHA-256, UNSIGNED-PAYLOAD or verified STREAMING form is refused; nothing stored', async () => {
    const b = await bucket(h, 'proto-payload');
    for (const value of [
      'STREAMING-BOGUS',
      'STREAMING-AWS4-HMAC-SHA256-PAYLOADX',
      'streaming-aws4-hmac-sha256-payload',
      'UNSIGNED-PAYLOAD-PLEASE',
      'abc',
    ]) {
      const r = await signed(h, 'PUT', `/${b}/p.txt`, {
        body: 'unverified body',
        headers: { 'x-amz-content-sha256': value },
      });
      assert.equal(r.status, 400, `${value}: ${r.body}`);
      assert.match(r.body, /<Code>InvalidArgument<\/Code>/, value);
      assert.match(r.body, /<ArgumentName>x-amz-content-sha256<\/ArgumentName>/, value);
    }
    // SigV4a payload forms are valid S3 but not verifiable here: 501, not stored unverified.
    const ecdsa = await signed(h, 'PUT', `/${b}/p.txt`, {
      body: 'unverified body',
      headers: { 'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD' },
    });
    assert.equal(ecdsa.status, 501, ecdsa.body);
    // Presigned URLs: the same for X-Amz-Content-Sha256, and a signed-chunk form (whose chain
    // would need the Authorization header's signature) is refused rather than read unchecked.
    for (const [payloadHash, code] of [
      ['STREAMING-BOGUS', 'InvalidArgument'],
      ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'InvalidRequest'],
    ] as const) {
      const url = await presignPath(h.port, 'PUT', `/${b}/p.txt`, { payloadHash });
      const body = '5;chunk-signature=0000\r\nhello\r\n0;chunk-signature=0000\r\n\r\n';
      const r = await send(
        h,
        'PUT',
        url,
        {
          'content-length': String(body.length),
          'content-encoding': 'aws-chunked',
          'x-amz-decoded-content-length': '5',
        },
        body,
      );
      assert.equal(r.status, 400, `${payloadHash}: ${r.body}`);
      assert.match(r.body, new RegExp(`<Code>${code}</Code>`), payloadHash);
    }
    assert.equal((await signed(h, 'GET', `/${b}/p.txt`)).status, 404, 'nothing was stored');
    // The verified forms still work.
    assert.equal((await signed(h, 'PUT', `/${b}/ok.txt`, { body: 'hex' })).status, 200);
    const unsigned = await signed(h, 'PUT', `/${b}/ok2.txt`, {
      body: 'unsigned',
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    assert.equal(unsigned.status, 200, unsigned.body);
  });

  test('bytes after the final aws-chunked chunk are refused (400) and nothing is stored', async () => {
    const b = await bucket(h, 'proto-trailing');
    const chunks = [Buffer.from('the real body')];
    const smuggled = await streamingPut(h, b, 'new.bin', chunks, false, Buffer.from('SMUGGLED BYTES'));
    assert.equal(smuggled.status, 400, smuggled.body);
    assert.match(smuggled.body, /<Code>InvalidRequest<\/Code>/);
    assert.equal((await signed(h, 'GET', `/${b}/new.bin`)).status, 404, 'nothing stored');
    assert.equal((await streamingPut(h, b, 'kept.bin', chunks)).status, 200);
    const over = await streamingPut(
      h,
      b,
      'kept.bin',
      [Buffer.from('replacement')],
      false,
      Buffer.from('\r\n'),
    );
    assert.equal(over.status, 400, over.body);
    assert.equal((await signed(h, 'GET', `/${b}/kept.bin`)).body, 'the real body', 'old object kept');
    // The unsigned-trailer form: bytes after the trailer section's blank line.
    const encoded = '5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\nEXTRA';
    const r = await signed(h, 'PUT', `/${b}/trailer.bin`, {
      headers: {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': '5',
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
      body: encoded,
    });
    assert.equal(r.status, 400, r.body);
    assert.equal((await signed(h, 'GET', `/${b}/trailer.bin`)).status, 404, 'nothing stored');
    const clean = await signed(h, 'PUT', `/${b}/trailer.bin`, {
      headers: {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': '5',
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
      body: encoded.slice(0, -'EXTRA'.length),
    });
    assert.equal(clean.status, 200, clean.body);
    assert.equal((await signed(h, 'GET', `/${b}/trailer.bin`)).body, 'hello');
  });

  test('presigned PUT with UNSIGNED-PAYLOAD', async () => {
    const b = await bucket(h, 'proto-presigned');
    const req = await signer().presign(
      {
        method: 'PUT',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: h.port,
        path: `/${b}/presigned-put.txt`,
        query: {},
        headers: { host: `127.0.0.1:${h.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      },
      { expiresIn: 60 },
    );
    const qs = new URLSearchParams(req.query as Record<string, string>).toString();
    const r = await send(h, 'PUT', `/${b}/presigned-put.txt?${qs}`, { 'content-length': '3' }, 'abc');
    assert.equal(r.status, 200, r.body);
    assert.equal((await signed(h, 'GET', `/${b}/presigned-put.txt`)).body, 'abc');
  });

  test('runS3Gateway (strata gateway s3) prints its ready line, serves, and exits 0 on SIGTERM', async () => {
    const b = await bucket(h, 'proto-daemon');
    assert.equal((await signed(h, 'PUT', `/${b}/hello.txt`, { body: 'hello' })).status, 200);
    const script = `import { runS3Gateway } from '${REPO_ROOT}/dist/src/gateway/s3/index.js'; process.exit(await runS3Gateway(process.argv.slice(1)));`;
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', script, '--', '--registry', h.local.registry, '--port', '0'],
      {
        env: { ...process.env, STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY, STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((ok) => child.once('exit', (c) => ok(c)));
    const line = await new Promise<string>((ok) =>
      createInterface({ input: child.stdout! }).once('line', ok),
    );
    const ready = JSON.parse(line) as { ready: boolean; role: string; addresses: { s3: string } };
    assert.equal(ready.ready, true);
    assert.equal(ready.role, 'gateway-s3');
    const port = Number(new URL(ready.addresses.s3).port);
    const r = await signed({ ...h, port, url: ready.addresses.s3 } as Harness, 'GET', `/${b}/hello.txt`);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
