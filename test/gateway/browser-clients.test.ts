import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { ACCESS_KEY, aws, type Harness, run, SECRET_KEY, startHarness } from './harness.js';
import { signedHeaders } from './sign.js';

/**
 * The browser features with real clients: POST uploads from boto3's generate_presigned_post
 * sent by urllib (test/gateway/post_boto3.py), CORS configuration with the aws CLI, and the
 * preflight and Access-Control-* answers on the wire. Chromium itself: browser-cors.test.ts.
 */

const POST_SCRIPT = fileURLToPath(new URL('../../../test/gateway/post_boto3.py', import.meta.url));
const BIG_MIB = 256;

/** XML text with its quote entities back as quotes (S3 messages quote conditions). */
const unquote = (xml: string) => xml.replace(/&quot;/g, '"');

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

describe('POST uploads and CORS with boto3, urllib and the aws CLI', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await aws(h, ['s3', 'mb', 's3://forms']);
    await aws(h, ['s3', 'mb', 's3://web']);
  });
  after(async () => {
    await h?.stop();
  });

  test("boto3's generate_presigned_post: form uploads, policy conditions, status and redirect, errors", async () => {
    // The gateway runs in this process: its memory during a 256 MiB streamed upload is sampled.
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    let r: Awaited<ReturnType<typeof run>>;
    try {
      r = await run(
        '/usr/bin/python3',
        [POST_SCRIPT, h.url, ACCESS_KEY, SECRET_KEY, 'forms', String(BIG_MIB)],
        h.env,
        undefined,
        600_000,
      );
    } finally {
      clearInterval(sampler);
    }
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      [K in
        | 'created'
        | 'redirect'
        | 'no_content'
        | 'too_large'
        | 'too_small'
        | 'other_key'
        | 'extra_field'
        | 'bad_signature'
        | 'expired'
        | 'fixed_ok'
        | 'checksum_ok'
        | 'checksum_bad'
        | 'v2_ok'
        | 'v2_bad_signature'
        | 'v2_no_bucket_condition']: Answer;
    } & {
      fields: string[];
      md5: string;
      created_get: { body: string; type: string; meta: Record<string, string>; etag: string };
      ranged_after: string;
      big: { status: number; etag: string; md5: string };
      big_head: number;
      checksum_head: string;
      checksum_expected: string;
      v2_get: string;
    };
    assert.deepEqual(out.fields, [
      'Content-Type',
      'key',
      'policy',
      'success_action_status',
      'x-amz-algorithm',
      'x-amz-credential',
      'x-amz-date',
      'x-amz-meta-owner',
      'x-amz-signature',
    ]);
    // 201: the PostResponse document; the key had ${filename} replaced by the file's name.
    assert.equal(out.created.status, 201, out.created.body);
    assert.match(
      out.created.body,
      /<PostResponse><Location>http:\/\/127\.0\.0\.1:\d+\/forms\/uploads\/notes\.txt<\/Location>/,
    );
    assert.match(out.created.body, /<Bucket>forms<\/Bucket><Key>uploads\/notes\.txt<\/Key>/);
    assert.ok(out.created.body.includes(`<ETag>${out.md5.replace(/"/g, '&quot;')}</ETag>`), out.created.body);
    assert.deepEqual(out.created_get, {
      body: 'hello from a form',
      type: 'text/plain',
      meta: { owner: 'ana' },
      etag: out.md5,
    });
    // success_action_redirect: 303 to it with bucket, key and the quoted etag appended.
    assert.equal(out.redirect.status, 303);
    const location = new URL(out.redirect.headers.location ?? '');
    assert.equal(location.origin + location.pathname, 'http://app.example/done');
    assert.equal(location.searchParams.get('x'), '1');
    assert.equal(location.searchParams.get('bucket'), 'forms');
    assert.equal(location.searchParams.get('key'), 'redirected.txt');
    assert.match(location.searchParams.get('etag') ?? '', /^"[0-9a-f]{32}"$/);
    // The default answer, and content-length-range on both sides leaving the object as it was.
    assert.equal(out.no_content.status, 204);
    assert.equal(out.too_large.status, 400);
    assert.match(out.too_large.body, /<Code>EntityTooLarge<\/Code>.*<MaxSizeAllowed>10<\/MaxSizeAllowed>/s);
    assert.equal(out.too_small.status, 400);
    assert.match(
      out.too_small.body,
      /<Code>EntityTooSmall<\/Code>.*<ProposedSize>4<\/ProposedSize><MinSizeAllowed>5<\/MinSizeAllowed>/s,
    );
    assert.equal(out.ranged_after, '12345');
    // Refusals, in S3's words.
    assert.equal(out.other_key.status, 403);
    assert.match(
      unquote(out.other_key.body),
      /<Code>AccessDenied<\/Code><Message>Invalid according to Policy: Policy Condition failed: \["eq", "\$key", "fixed\.txt"\]<\/Message>/,
    );
    assert.equal(out.extra_field.status, 403);
    assert.match(out.extra_field.body, /Invalid according to Policy: Extra input fields: x-amz-meta-sneaky/);
    assert.equal(out.bad_signature.status, 403);
    assert.match(out.bad_signature.body, /<Code>SignatureDoesNotMatch<\/Code>/);
    assert.equal(out.expired.status, 403);
    assert.match(out.expired.body, /Invalid according to Policy: Policy expired\./);
    assert.equal(out.fixed_ok.status, 204);
    // A declared additional checksum is verified, stored and answered.
    assert.equal(out.checksum_ok.status, 204, out.checksum_ok.body);
    assert.equal(out.checksum_ok.headers['x-amz-checksum-sha256'], out.checksum_expected);
    assert.equal(out.checksum_bad.status, 400);
    assert.match(out.checksum_bad.body, /<Code>BadDigest<\/Code>/);
    assert.equal(out.checksum_head, out.checksum_expected);
    // Signature Version 2 forms (ceph s3-tests' way): accepted when right, refused when not.
    assert.equal(out.v2_ok.status, 204, out.v2_ok.body);
    assert.equal(out.v2_get, 'signed the old way');
    assert.equal(out.v2_bad_signature.status, 403);
    assert.match(out.v2_bad_signature.body, /<Code>SignatureDoesNotMatch<\/Code>/);
    assert.equal(out.v2_no_bucket_condition.status, 403);
    assert.match(out.v2_no_bucket_condition.body, /Invalid according to Policy: Extra input fields: bucket/);
    // The big file arrived whole, and the gateway did not hold it in memory.
    assert.equal(out.big.status, 204);
    assert.equal(out.big.etag, out.big.md5);
    assert.equal(out.big_head, BIG_MIB * 1024 * 1024);
    const grewMiB = (peak - base) / (1024 * 1024);
    console.log(`POST of ${BIG_MIB} MiB: gateway process RSS grew by at most ${grewMiB.toFixed(1)} MiB`);
    assert.ok(grewMiB < BIG_MIB / 2, `RSS grew ${grewMiB.toFixed(1)} MiB during a ${BIG_MIB} MiB upload`);
  });

  test('POST without a file, with a broken body, or to a missing bucket: S3 errors', async () => {
    const post = async (bucket: string, body: string, type = 'multipart/form-data; boundary=xx') =>
      request(`${h.url}/${bucket}`, { method: 'POST', headers: { 'content-type': type }, body });
    const noFile = await post(
      'forms',
      '--xx\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n--xx--\r\n',
    );
    assert.equal(noFile.statusCode, 400);
    assert.match(await noFile.body.text(), /<Code>IncorrectNumberOfFilesInPostRequest<\/Code>/);
    const broken = await post('forms', 'garbage');
    assert.equal(broken.statusCode, 400);
    assert.match(await broken.body.text(), /<Code>MalformedPOSTRequest<\/Code>/);
    const noBoundary = await post('forms', 'x', 'multipart/form-data');
    assert.equal(noBoundary.statusCode, 400);
    assert.match(await noBoundary.body.text(), /<Code>MalformedPOSTRequest<\/Code>/);
    const missing = await post('no-such-bucket', '--xx--');
    assert.equal(missing.statusCode, 404);
    assert.match(await missing.body.text(), /<Code>NoSuchBucket<\/Code>/);
    // An unsigned form is an anonymous upload: refused unless the bucket allows anonymous writes.
    const anon = await post(
      'forms',
      '--xx\r\nContent-Disposition: form-data; name="key"\r\n\r\nanon.txt\r\n--xx\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\ndata\r\n--xx--\r\n',
    );
    assert.equal(anon.statusCode, 403);
    assert.match(await anon.body.text(), /<Code>AccessDenied<\/Code>/);
    // …and allowed where a bucket policy lets anyone put under a prefix.
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::forms/public/*' },
      ],
    };
    await aws(h, ['s3api', 'put-bucket-policy', '--bucket', 'forms', '--policy', JSON.stringify(policy)]);
    const anonForm = (key: string) =>
      `--xx\r\nContent-Disposition: form-data; name="key"\r\n\r\n${key}\r\n--xx\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nanonymous data\r\n--xx--\r\n`;
    const allowed = await post('forms', anonForm('public/anon.txt'));
    assert.equal(allowed.statusCode, 204, await allowed.body.text());
    const stillDenied = await post('forms', anonForm('private.txt'));
    assert.equal(stillDenied.statusCode, 403);
    await stillDenied.body.dump();
    const back = await aws(h, ['s3', 'cp', 's3://forms/public/anon.txt', '-']);
    assert.equal(back.stdout, 'anonymous data');
    await aws(h, ['s3api', 'delete-bucket-policy', '--bucket', 'forms']);
  });

  test('aws s3api put/get/delete-bucket-cors, and invalid rules refused', async () => {
    const config = {
      CORSRules: [
        {
          ID: 'app',
          AllowedOrigins: ['http://app.example', 'https://*.example.com'],
          AllowedMethods: ['GET', 'PUT'],
          AllowedHeaders: ['*'],
          ExposeHeaders: ['ETag', 'x-amz-request-id'],
          MaxAgeSeconds: 600,
        },
        { AllowedOrigins: ['*'], AllowedMethods: ['HEAD'] },
      ],
    };
    const none = await aws(h, ['s3api', 'get-bucket-cors', '--bucket', 'web'], true);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /NoSuchCORSConfiguration/);
    await aws(h, [
      's3api',
      'put-bucket-cors',
      '--bucket',
      'web',
      '--cors-configuration',
      JSON.stringify(config),
    ]);
    const got = JSON.parse((await aws(h, ['s3api', 'get-bucket-cors', '--bucket', 'web'])).stdout);
    assert.deepEqual(got, config);
    const file = join(h.home, 'bad-cors.json');
    await writeFile(
      file,
      JSON.stringify({ CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['PATCH'] }] }),
    );
    const bad = await aws(
      h,
      ['s3api', 'put-bucket-cors', '--bucket', 'web', '--cors-configuration', `file://${file}`],
      true,
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /InvalidRequest.*Unsupported method is PATCH/);
    const two = await aws(
      h,
      [
        's3api',
        'put-bucket-cors',
        '--bucket',
        'web',
        '--cors-configuration',
        JSON.stringify({ CORSRules: [{ AllowedOrigins: ['http://*.*.x'], AllowedMethods: ['GET'] }] }),
      ],
      true,
    );
    assert.match(two.stderr, /InvalidRequest.*can not have more than one wildcard/);
    // The valid configuration is still the bucket's.
    assert.deepEqual(
      JSON.parse((await aws(h, ['s3api', 'get-bucket-cors', '--bucket', 'web'])).stdout),
      config,
    );

    // Preflights, unsigned, answered from the rules.
    const preflight = (path: string, origin: string | undefined, method: string, headers?: string) =>
      request(`${h.url}${path}`, {
        method: 'OPTIONS',
        headers: {
          ...(origin !== undefined ? { origin } : {}),
          'access-control-request-method': method,
          ...(headers !== undefined ? { 'access-control-request-headers': headers } : {}),
        },
      });
    const ok = await preflight('/web/some/key', 'https://a.example.com', 'PUT', 'Content-Type, X-Amz-Date');
    assert.equal(ok.statusCode, 200);
    await ok.body.dump();
    assert.equal(ok.headers['access-control-allow-origin'], 'https://a.example.com');
    assert.equal(ok.headers['access-control-allow-methods'], 'GET, PUT');
    assert.equal(ok.headers['access-control-allow-headers'], 'content-type, x-amz-date');
    assert.equal(ok.headers['access-control-expose-headers'], 'ETag, x-amz-request-id');
    assert.equal(ok.headers['access-control-max-age'], '600');
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    const head = await preflight('/web', 'http://anywhere', 'HEAD');
    assert.equal(head.statusCode, 200);
    await head.body.dump();
    assert.equal(head.headers['access-control-allow-origin'], '*');
    for (const [origin, method] of [
      ['http://evil.example', 'PUT'],
      ['http://app.example', 'DELETE'],
    ] as const) {
      const no = await preflight('/web/k', origin, method);
      assert.equal(no.statusCode, 403, `${origin} ${method}`);
      const text = await no.body.text();
      assert.match(
        text,
        /<Code>AccessForbidden<\/Code><Message>CORSResponse: This CORS request is not allowed\./,
      );
      assert.equal(no.headers['access-control-allow-origin'], undefined);
    }
    const noOrigin = await preflight('/web/k', undefined, 'GET');
    assert.equal(noOrigin.statusCode, 400);
    assert.match(await noOrigin.body.text(), /Insufficient information\. Origin request header needed\./);
    const noCors = await preflight('/forms/k', 'http://app.example', 'GET');
    assert.equal(noCors.statusCode, 403);
    assert.match(await noCors.body.text(), /CORS is not enabled for this bucket/);

    // Actual requests: the headers on success and on errors, only for an allowed origin.
    await aws(h, ['s3api', 'put-object', '--bucket', 'web', '--key', 'hello.txt', '--body', file]);
    const get = await request(`${h.url}/web/hello.txt`, {
      headers: { origin: 'http://app.example', ...(await signedHeaders(`${h.url}/web/hello.txt`, 'GET')) },
    });
    assert.equal(get.statusCode, 200);
    await get.body.dump();
    assert.equal(get.headers['access-control-allow-origin'], 'http://app.example');
    assert.equal(get.headers['access-control-expose-headers'], 'ETag, x-amz-request-id');
    assert.equal(get.headers.vary, 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method');
    const denied = await request(`${h.url}/web/hello.txt`, { headers: { origin: 'http://app.example' } });
    assert.equal(denied.statusCode, 403);
    assert.match(await denied.body.text(), /<Code>AccessDenied<\/Code>/);
    assert.equal(
      denied.headers['access-control-allow-origin'],
      'http://app.example',
      'errors carry CORS headers',
    );
    const stranger = await request(`${h.url}/web/hello.txt`, { headers: { origin: 'http://evil.example' } });
    await stranger.body.dump();
    assert.equal(stranger.headers['access-control-allow-origin'], undefined);
    assert.equal(
      stranger.headers.vary,
      'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
    );

    // The "*" rule: "*" to an unsigned request, the origin itself to a signed one (credentials).
    const anyHead = await request(`${h.url}/web/hello.txt`, {
      method: 'HEAD',
      headers: { origin: 'http://any' },
    });
    await anyHead.body.dump();
    assert.equal(anyHead.headers['access-control-allow-origin'], '*');
    const signedHead = await request(`${h.url}/web/hello.txt`, {
      method: 'HEAD',
      headers: { origin: 'http://any', ...(await signedHeaders(`${h.url}/web/hello.txt`, 'HEAD')) },
    });
    await signedHead.body.dump();
    assert.equal(signedHead.statusCode, 200);
    assert.equal(signedHead.headers['access-control-allow-origin'], 'http://any');
    assert.equal(signedHead.headers['access-control-allow-credentials'], 'true');
    await aws(h, ['s3api', 'delete-bucket-cors', '--bucket', 'web']);
    const gone = await aws(h, ['s3api', 'get-bucket-cors', '--bucket', 'web'], true);
    assert.match(gone.stderr, /NoSuchCORSConfiguration/);
    const after = await preflight('/web/k', 'http://app.example', 'GET');
    assert.equal(after.statusCode, 403);
    await after.body.dump();
  });
});
