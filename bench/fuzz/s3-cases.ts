import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { fuzzInt, keyPath, segment, xmlBody } from './corpus.js';
import { amzDate, authorization } from './sigv4.js';

/**
 * Generated S3 requests: a spec (what to send) drawn by fast-check, rendered to the exact bytes
 * with the live target's port and key (the signature covers the host).
 */

export type Framing =
  | 'length'
  | 'chunked'
  | 'bad-chunked'
  | 'aws-chunked'
  | 'short'
  | 'conflict'
  | 'bad-length';
export type Auth = 'sign' | 'sign-wrong-hash' | 'skew14' | 'skew16' | 'garbage' | 'none' | 'presign';

export interface S3Spec {
  readonly method: string;
  readonly target: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string | { random: number };
  readonly framing: Framing;
  readonly auth: Auth;
  readonly garbageAuth: string;
}

export interface S3Target {
  readonly port: number;
  readonly accessKeyId: string;
  readonly secret: string;
  readonly region: string;
}

const SUBRESOURCES = [
  'uploads',
  'uploadId',
  'partNumber',
  'list-type',
  'max-keys',
  'prefix',
  'delimiter',
  'continuation-token',
  'start-after',
  'marker',
  'encoding-type',
  'fetch-owner',
  'tagging',
  'acl',
  'versioning',
  'versions',
  'delete',
  'attributes',
  'location',
  'policy',
  'cors',
  'lifecycle',
  'response-content-type',
  'response-content-disposition',
  'response-expires',
  'response-cache-control',
  'max-uploads',
  'key-marker',
  'upload-id-marker',
  'part-number-marker',
  'max-parts',
  'x-id',
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Content-Sha256',
];

const queryValue = fc.oneof(
  fuzzInt,
  segment,
  fc.constantFrom(
    'url',
    'true',
    'AWS4-HMAC-SHA256',
    '20261202T000000Z',
    'host',
    '%0d%0aSet-Cookie:%20x=1',
    'a,b',
  ),
  fc.integer({ min: 1000, max: 9000 }).map((n) => 'v'.repeat(n)),
);

const query = fc
  .array(
    fc.tuple(
      fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...SUBRESOURCES) }, { weight: 1, arbitrary: segment }),
      fc.option(queryValue),
    ),
    { maxLength: 5 },
  )
  .map((pairs) =>
    pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => (v === null ? k : `${k}=${v}`)).join('&')}`,
  );

const bucket = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('fuzz', 'fuzz2') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('nosuchbucket', 'a', 'UPPER', 'b_b', 'x'.repeat(70), '..', '%2e%2e', ''),
  },
  { weight: 1, arbitrary: segment },
);

const target = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.tuple(bucket, keyPath, query).map(([b, k, q]) => `/${b}${k ? `/${k}` : ''}${q}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('*', '', '//', '//fuzz/k', 'http://h/fuzz/k', 'fuzz/k', '/?', '/#', '/%'),
  },
  { weight: 1, arbitrary: fc.integer({ min: 9000, max: 80_000 }).map((n) => `/fuzz/${'k'.repeat(n)}`) },
);

const range = fc.oneof(
  fc.tuple(fuzzInt, fuzzInt).map(([a, b]) => `bytes=${a}-${b}`),
  fc.constantFrom(
    'bytes=-5',
    'bytes=10-',
    'bytes=5-1',
    'bytes=0-1,3-4',
    'bytes=-0',
    'bytes=',
    'items=0-1',
    'bytes=--1',
    'bytes=0-0',
  ),
);

const httpDate = fc.constantFrom(
  'Wed, 21 Oct 2015 07:28:00 GMT',
  'Tue, 01 Jan 2999 00:00:00 GMT',
  'yesterday',
  '',
  '0',
  'Thu, 01 Jan 1970 00:00:00 GMT',
);

/** Header lines the gateway reads, with hostile values; names repeated or oversize now and then. */
const header: fc.Arbitrary<readonly [string, string]> = fc.oneof(
  fc.tuple(fc.constant('range'), range),
  fc.tuple(
    fc.constantFrom('if-match', 'if-none-match'),
    fc.constantFrom('*', '"abc"', 'abc', '', '"', 'W/"x"'),
  ),
  fc.tuple(
    fc.constantFrom('if-modified-since', 'if-unmodified-since', 'x-amz-copy-source-if-modified-since'),
    httpDate,
  ),
  fc.tuple(
    fc.constant('content-type'),
    fc.constantFrom('text/plain', 'application/xml', '', ';;;', 'a/b; charset=utf-99'),
  ),
  fc.tuple(
    fc.constant('content-md5'),
    fc.constantFrom('', 'AAAA', '1B2M2Y8AsgTpgAmY7PhCfg==', 'not base64!'),
  ),
  fc.tuple(fc.stringMatching(/^x-amz-meta-[a-z0-9-]{0,12}$/), fc.string({ maxLength: 300 }).map(headerSafe)),
  fc.tuple(
    fc.constant('x-amz-copy-source'),
    fc.tuple(bucket, keyPath, query).map(([b, k, q]) => `${b}/${k}${q}`),
  ),
  fc.tuple(fc.constant('x-amz-copy-source-range'), range),
  fc.tuple(fc.constant('x-amz-tagging'), fc.constantFrom('a=b', 'a=b&c', '=&=&', '%zz=1', 'k='.repeat(60))),
  fc.tuple(fc.constant('x-amz-acl'), fc.constantFrom('private', 'public-read', 'bogus', '')),
  fc.tuple(
    fc.constantFrom(
      'x-amz-checksum-crc32',
      'x-amz-checksum-crc32c',
      'x-amz-checksum-sha1',
      'x-amz-checksum-sha256',
      'x-amz-checksum-crc64nvme',
    ),
    fc.constantFrom('', 'AAAAAA==', 'garbage', 'x'.repeat(100)),
  ),
  fc.tuple(
    fc.constant('x-amz-sdk-checksum-algorithm'),
    fc.constantFrom('CRC32', 'SHA256', 'MD5', 'bogus', ''),
  ),
  fc.tuple(
    fc.constant('x-amz-trailer'),
    fc.constantFrom('x-amz-checksum-crc32', 'x-amz-checksum-bogus', '', 'a,b'),
  ),
  fc.tuple(fc.constant('expect'), fc.constantFrom('100-continue', '200-ok')),
  fc.tuple(fc.constant('content-encoding'), fc.constantFrom('aws-chunked', 'gzip', 'aws-chunked,gzip', '')),
  fc.tuple(
    fc.constant('x-amz-object-attributes'),
    fc.constantFrom('ETag', 'ETag,ObjectSize,ObjectParts,Checksum,StorageClass', 'Bogus', ''),
  ),
  fc.tuple(fc.constant('x-amz-decoded-content-length'), fuzzInt),
  fc.tuple(
    fc.constantFrom('x-amz-metadata-directive', 'x-amz-tagging-directive'),
    fc.constantFrom('COPY', 'REPLACE', 'bogus'),
  ),
  fc.tuple(
    fc.constantFrom('x-amz-storage-class', 'x-amz-server-side-encryption'),
    fc.constantFrom('STANDARD', 'GLACIER', 'AES256', 'x'),
  ),
  fc.tuple(fc.constant('x-amz-mp-object-size'), fuzzInt),
  fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), fc.string({ maxLength: 80 }).map(headerSafe)),
);

/** Any bytes a header value may carry on the wire (no CR/LF: that would be a different request). */
function headerSafe(s: string): string {
  return Buffer.from(s, 'utf8')
    .toString('latin1')
    .replace(/[\r\n\0]/g, ' ');
}

const body = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  { weight: 4, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 4, arbitrary: xmlBody },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 64 * 1024, max: 3 * 1024 * 1024 }).map((random) => ({ random })),
  },
);

const garbageAuth = fc.oneof(
  fc.constantFrom(
    '',
    'AWS4-HMAC-SHA256',
    'AWS4-HMAC-SHA256 ',
    'AWS4-HMAC-SHA256 Credential=',
    'AWS4-HMAC-SHA256 Credential=fuzzkey/20261202/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=zz',
    'AWS4-HMAC-SHA256 Credential=fuzzkey/2026/us-east-1/s3/aws4_request,SignedHeaders=,Signature=',
    'AWS4-HMAC-SHA256 Credential=fuzzkey/20261202/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date;zzz, Signature=0000000000000000000000000000000000000000000000000000000000000000',
    'AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;;;, Signature=a',
    'AWS4-ECDSA-P256-SHA256 Credential=x',
    'AWS fuzzkey:c2lnbmF0dXJl',
    'Bearer token',
    'Basic Zm9vOmJhcg==',
  ),
  fc.string({ maxLength: 200 }).map(headerSafe),
);

const framing = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Framing>('length') },
  { weight: 2, arbitrary: fc.constant<Framing>('chunked') },
  { weight: 2, arbitrary: fc.constant<Framing>('aws-chunked') },
  { weight: 1, arbitrary: fc.constantFrom<Framing>('bad-chunked', 'short', 'conflict', 'bad-length') },
);

const auth = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Auth>('sign') },
  { weight: 1, arbitrary: fc.constantFrom<Auth>('sign-wrong-hash', 'skew14', 'skew16', 'presign') },
  { weight: 2, arbitrary: fc.constantFrom<Auth>('garbage', 'none') },
);

export const s3Spec: fc.Arbitrary<S3Spec> = fc.record({
  method: fc.oneof(
    { weight: 20, arbitrary: fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'DELETE') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'OPTIONS',
        'PATCH',
        'TRACE',
        'CONNECT',
        'get',
        'PROPFIND',
        'G\tET',
        'X'.repeat(300),
      ),
    },
  ),
  target,
  headers: fc.oneof(
    { weight: 20, arbitrary: fc.array(header, { maxLength: 6 }) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 100, max: 400 })
        .map((n) => Array.from({ length: n }, (_, i) => [`x-amz-meta-m${i}`, 'v'.repeat(200)] as const)),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 60_000, max: 90_000 }).map((n) => [['x-fuzz', 'h'.repeat(n)] as const]),
    },
  ),
  body,
  framing,
  auth,
  garbageAuth,
});

/** Whether the request, as framed, ends (a `short` body leaves the server waiting for bytes). */
export function framingComplete(spec: S3Spec): boolean {
  return spec.framing !== 'short';
}

function bodyBytes(b: S3Spec['body']): Buffer {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : randomBytes(b.random);
}

/** Splits `data` into chunked transfer-coding; `sig` adds aws-chunked chunk-signature extensions. */
function chunked(data: Buffer, aws: boolean): Buffer {
  const parts: Buffer[] = [];
  const size = Math.max(1, Math.ceil(data.length / 3));
  const ext = aws ? `;chunk-signature=${'0'.repeat(64)}` : '';
  for (let at = 0; at < data.length; at += size) {
    const c = data.subarray(at, at + size);
    parts.push(Buffer.from(`${c.length.toString(16)}${ext}\r\n`), c, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0${ext}\r\n\r\n`));
  return Buffer.concat(parts);
}

/** The request's bytes, signed for `t` when the spec's auth asks for it. */
export function renderS3(spec: S3Spec, t: S3Target, now = Date.now()): Buffer {
  const data = bodyBytes(spec.body);
  const host = `127.0.0.1:${t.port}`;
  const lines: [string, string][] = [
    ['host', host],
    ...spec.headers.map(([n, v]) => [n, v] as [string, string]),
  ];
  let wire = data;
  let payload = 'UNSIGNED-PAYLOAD';
  switch (spec.framing) {
    case 'length':
      lines.push(['content-length', String(data.length)]);
      payload = createHash('sha256').update(data).digest('hex');
      break;
    case 'chunked':
      lines.push(['transfer-encoding', 'chunked']);
      wire = chunked(data, false);
      break;
    case 'aws-chunked':
      wire = chunked(data, true);
      payload = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
      lines.push(['content-encoding', 'aws-chunked'], ['x-amz-decoded-content-length', String(data.length)]);
      lines.push(['content-length', String(wire.length)]);
      break;
    case 'bad-chunked':
      lines.push(['transfer-encoding', 'chunked']);
      wire = Buffer.concat([Buffer.from('zz\r\n'), data, Buffer.from('\r\nffffffffffffffffff\r\n')]);
      break;
    case 'short':
      lines.push(['content-length', String(data.length + 100)]);
      break;
    case 'conflict':
      lines.push(['content-length', String(data.length)], ['transfer-encoding', 'chunked']);
      break;
    case 'bad-length':
      lines.push(['content-length', data.length % 2 === 0 ? '-1' : `${data.length}, ${data.length + 1}`]);
      break;
  }
  let target = spec.target;
  if (
    spec.auth === 'sign' ||
    spec.auth === 'sign-wrong-hash' ||
    spec.auth === 'skew14' ||
    spec.auth === 'skew16'
  ) {
    const skew = spec.auth === 'skew14' ? 14 * 60_000 : spec.auth === 'skew16' ? -16 * 60_000 : 0;
    const date = amzDate(now + skew);
    const hash = spec.auth === 'sign-wrong-hash' ? '0'.repeat(64) : payload;
    lines.push(['x-amz-date', date], ['x-amz-content-sha256', hash]);
    const signed = lines.filter(
      ([n]) => n === 'host' || n.startsWith('x-amz-') || n === 'content-type' || n === 'range',
    );
    try {
      lines.push([
        'authorization',
        authorization({
          method: spec.method,
          target,
          headers: signed,
          payloadHash: hash,
          ...t,
          amzDate: date,
        }),
      ]);
    } catch {
      // A target the canonicaliser cannot take goes unsigned: its answer is a 4xx all the same.
    }
  } else if (spec.auth === 'garbage') {
    lines.push(['authorization', spec.garbageAuth], ['x-amz-date', amzDate(now)]);
  } else if (spec.auth === 'presign') {
    const sep = target.includes('?') ? '&' : '?';
    target += `${sep}X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${t.accessKeyId}%2F${amzDate(now).slice(0, 8)}%2F${t.region}%2Fs3%2Faws4_request&X-Amz-Date=${amzDate(now)}&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=${'ab'.repeat(32)}`;
  }
  lines.push(['connection', 'close']);
  const head = `${spec.method} ${target} HTTP/1.1\r\n${lines.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), wire]);
}
