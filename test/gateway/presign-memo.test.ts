import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { authenticate, parseQuery } from '../../src/gateway/s3/auth.js';
import { S3Error } from '../../src/gateway/s3/errors.js';
import { ACCESS_KEY, SECRET_KEY } from './harness.js';
import { signer } from './sign.js';

/**
 * A presigned URL verified once is remembered (same method, raw URL and signed header values);
 * these check that a remembered verdict never outlives what made it true.
 */

const HOST = '127.0.0.1:9000';

async function presigned(path: string, expiresIn = 60, signedAt = new Date()): Promise<string> {
  const r = await signer().presign(
    {
      method: 'GET',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 9000,
      path,
      query: {},
      headers: { host: HOST, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    { expiresIn, signingDate: signedAt },
  );
  return `${path}?${new URLSearchParams(r.query as Record<string, string>).toString()}`;
}

function request(url: string, host = HOST, method = 'GET'): IncomingMessage {
  return { method, url, headers: { host }, headersDistinct: { host: [host] } } as unknown as IncomingMessage;
}

async function auth(
  url: string,
  opts: { host?: string; method?: string; secret?: string; nowMs?: number } = {},
): Promise<string> {
  const qi = url.indexOf('?');
  const rawQuery = url.slice(qi + 1);
  try {
    const r = await authenticate(
      request(url, opts.host, opts.method),
      { rawPath: url.slice(0, qi), rawQuery, pairs: parseQuery(rawQuery) },
      {
        credentials: new Map([[ACCESS_KEY, opts.secret ?? SECRET_KEY]]),
        ...(opts.nowMs !== undefined ? { nowMs: opts.nowMs } : {}),
      },
    );
    return r.kind;
  } catch (err) {
    if (err instanceof S3Error) return `${err.code}: ${err.message}`;
    throw err;
  }
}

describe('remembered presigned verifications', () => {
  test('a URL verified once passes again, and only while it has not expired', async () => {
    const signedAt = new Date(Date.now() - 30_000);
    const url = await presigned('/b/memo-expiry', 60, signedAt);
    assert.equal(await auth(url), 'signed');
    assert.equal(await auth(url), 'signed');
    assert.match(
      await auth(url, { nowMs: signedAt.getTime() + 61_000 }),
      /^AccessDenied: Request has expired/,
    );
    assert.match(
      await auth(url, { nowMs: signedAt.getTime() - 16 * 60_000 }),
      /^AccessDenied: Request is not valid yet/,
    );
  });

  test('a changed secret for the key is not served from memory', async () => {
    const url = await presigned('/b/memo-secret');
    assert.equal(await auth(url), 'signed');
    assert.match(await auth(url, { secret: 'rotated-secret' }), /^SignatureDoesNotMatch/);
    assert.equal(await auth(url), 'signed');
  });

  test('another value of a signed header, another method or a changed query is verified in full', async () => {
    const url = await presigned('/b/memo-header');
    assert.equal(await auth(url), 'signed');
    assert.match(await auth(url, { host: 'evil.example:9000' }), /^SignatureDoesNotMatch/);
    assert.match(await auth(url, { method: 'DELETE' }), /^SignatureDoesNotMatch/);
    assert.match(await auth(`${url}&x-id=PutObject`), /^SignatureDoesNotMatch/);
    assert.match(await auth(url.replace('/b/memo-header', '/b/memo-other')), /^SignatureDoesNotMatch/);
  });
});
