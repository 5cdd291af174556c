import { createHash, createHmac } from 'node:crypto';
import { canonicalPath, canonicalQuery, parseQuery } from '../../src/gateway/s3/canonical.js';

/**
 * SigV4 header signing of a raw request target, so fuzzed paths and queries pass authentication
 * and reach the handlers behind it. The path and query are canonicalised the way the gateway reads
 * them off the wire (its own canonical.ts: the point is to get past the check, not to test it).
 */

export interface SignInput {
  readonly method: string;
  /** Raw request target: `/bucket/key?query`, bytes as sent. */
  readonly target: string;
  /** Headers to sign (lower-case names), host and x-amz-* included. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly payloadHash: string;
  readonly accessKeyId: string;
  readonly secret: string;
  readonly region: string;
  /** ISO basic format, e.g. 20261202T081500Z (also in the x-amz-date header). */
  readonly amzDate: string;
}

export function amzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text, 'utf8').digest();

export function authorization(s: SignInput): string {
  const q = s.target.indexOf('?');
  const path = q < 0 ? s.target : s.target.slice(0, q);
  const query = q < 0 ? '' : s.target.slice(q + 1);
  const sorted = [...s.headers].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const names = sorted.map(([n]) => n).join(';');
  const canonical = [
    s.method,
    canonicalPath(path),
    canonicalQuery(parseQuery(query), false),
    sorted.map(([n, v]) => `${n}:${v.trim().replace(/\s+/g, ' ')}\n`).join(''),
    names,
    s.payloadHash,
  ].join('\n');
  const day = s.amzDate.slice(0, 8);
  const scope = `${day}/${s.region}/s3/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${s.amzDate}\n${scope}\n${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
  const key = hmac(hmac(hmac(hmac(`AWS4${s.secret}`, day), s.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${s.accessKeyId}/${scope}, SignedHeaders=${names}, Signature=${signature}`;
}
