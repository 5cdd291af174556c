import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type CorsRule,
  corsConfigurationXml,
  corsHeaders,
  matchCors,
  parseCorsConfiguration,
  requestedHeaders,
  wildcardMatch,
} from '../../src/gateway/s3/cors-rules.js';
import { S3Error } from '../../src/gateway/s3/errors.js';

/** CORS rules: parsing and validation as S3 does it, and which rule answers a browser. */

const doc = (rules: string) => `<CORSConfiguration>${rules}</CORSConfiguration>`;

function s3Code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof S3Error, String(err));
    return `${err.code}: ${err.message}`;
  }
  assert.fail('expected an S3 error');
}

test('a configuration parses into rules and serialises back to the same rules', () => {
  const xml = doc(
    `<CORSRule><ID>web</ID><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedOrigin>http://localhost:8080</AllowedOrigin>
      <AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader>
      <ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule>
     <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>HEAD</AllowedMethod></CORSRule>`,
  );
  const rules = parseCorsConfiguration(xml);
  assert.deepEqual(rules, [
    {
      id: 'web',
      allowedOrigins: ['https://*.example.com', 'http://localhost:8080'],
      allowedMethods: ['GET', 'PUT'],
      allowedHeaders: ['x-amz-*'],
      exposeHeaders: ['ETag'],
      maxAgeSeconds: 3000,
    },
    { allowedOrigins: ['*'], allowedMethods: ['HEAD'], allowedHeaders: [], exposeHeaders: [] },
  ]);
  const again = corsConfigurationXml(rules);
  assert.match(
    again,
    /^<\?xml[^>]*>\n<CORSConfiguration xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/">/,
  );
  assert.deepEqual(parseCorsConfiguration(again), rules);
});

test('invalid configurations are refused with the S3 error S3 gives', () => {
  const cases: Array<[string, RegExp]> = [
    ['<NotCors/>', /^MalformedXML/],
    [doc(''), /^MalformedXML/],
    [doc('<CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule>'), /^MalformedXML/],
    [doc('<CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule>'), /^MalformedXML/],
    [
      doc('<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><Bogus/></CORSRule>'),
      /^MalformedXML/,
    ],
    [
      doc('<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule>'),
      /^InvalidRequest: Found unsupported HTTP method in CORS config. Unsupported method is PATCH$/,
    ],
    [
      doc(
        '<CORSRule><AllowedOrigin>http://*.*.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>',
      ),
      /^InvalidRequest: AllowedOrigin "http:\/\/\*\.\*\.com" can not have more than one wildcard\.$/,
    ],
    [
      doc(
        '<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-*-*</AllowedHeader></CORSRule>',
      ),
      /^InvalidRequest: AllowedHeader "x-\*-\*" can not have more than one wildcard\.$/,
    ],
    [
      doc(
        '<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>x-*</ExposeHeader></CORSRule>',
      ),
      /^InvalidRequest: ExposeHeader "x-\*" contains wildcard/,
    ],
    [
      doc(
        '<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>soon</MaxAgeSeconds></CORSRule>',
      ),
      /^MalformedXML/,
    ],
    [
      doc(
        '<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>'.repeat(101),
      ),
      /^InvalidRequest: The number of CORS rules should not exceed allowed limit of 100 rules\.$/,
    ],
    ['<CORSConfiguration><CORSRule>', /^MalformedXML/],
  ];
  for (const [xml, expected] of cases)
    assert.match(
      s3Code(() => parseCorsConfiguration(xml)),
      expected,
      xml,
    );
});

test('wildcards: one * matches any run of characters, also none; no * matches exactly', () => {
  assert.ok(wildcardMatch('*', 'http://a.example'));
  assert.ok(wildcardMatch('https://*.example.com', 'https://app.example.com'));
  assert.ok(wildcardMatch('https://*.example.com', 'https://a.b.example.com'));
  assert.ok(!wildcardMatch('https://*.example.com', 'https://example.com'));
  assert.ok(!wildcardMatch('https://*.example.com', 'http://app.example.com'));
  assert.ok(wildcardMatch('http://localhost:*', 'http://localhost:'));
  assert.ok(wildcardMatch('http://localhost:*', 'http://localhost:5173'));
  assert.ok(!wildcardMatch('http://localhost:8080', 'http://localhost:80801'));
  // The prefix and the suffix must not overlap: "ab*ba" is not matched by "aba".
  assert.ok(!wildcardMatch('ab*ba', 'aba'));
  assert.ok(wildcardMatch('ab*ba', 'abba'));
});

const RULES: CorsRule[] = [
  {
    id: 'app',
    allowedOrigins: ['https://*.example.com'],
    allowedMethods: ['GET', 'PUT'],
    allowedHeaders: ['content-type', 'X-Amz-*'],
    exposeHeaders: ['ETag', 'x-amz-request-id'],
    maxAgeSeconds: 600,
  },
  { allowedOrigins: ['*'], allowedMethods: ['GET', 'HEAD'], allowedHeaders: [], exposeHeaders: [] },
];

test('the first rule allowing origin, method and every requested header answers', () => {
  const app = matchCors(RULES, {
    origin: 'https://app.example.com',
    method: 'PUT',
    headers: ['content-type', 'x-amz-meta-owner'],
  });
  assert.equal(app?.rule.id, 'app');
  assert.equal(app?.allowedOrigin, 'https://*.example.com');
  // A header no AllowedHeader covers: the first rule does not apply, nor does the second (no PUT).
  assert.equal(
    matchCors(RULES, { origin: 'https://app.example.com', method: 'PUT', headers: ['authorization'] }),
    undefined,
  );
  // GET with that header falls through to the "*" rule? No: it allows no headers.
  assert.equal(
    matchCors(RULES, { origin: 'https://app.example.com', method: 'GET', headers: ['authorization'] }),
    undefined,
  );
  // An actual request (no header list) from another origin matches the second rule.
  const any = matchCors(RULES, { origin: 'http://elsewhere:81', method: 'GET' });
  assert.equal(any?.allowedOrigin, '*');
  assert.equal(matchCors(RULES, { origin: 'http://elsewhere:81', method: 'DELETE' }), undefined);
  assert.equal(matchCors([], { origin: 'http://elsewhere:81', method: 'GET' }), undefined);
});

test('answer headers: a specific origin is echoed with credentials, "*" is "*" without', () => {
  const ask = { origin: 'https://app.example.com', method: 'PUT', headers: ['content-type', 'x-amz-date'] };
  const m = matchCors(RULES, ask);
  assert.ok(m);
  assert.deepEqual(Object.fromEntries(corsHeaders(m, ask)), {
    'access-control-allow-origin': 'https://app.example.com',
    'access-control-allow-methods': 'GET, PUT',
    'access-control-allow-credentials': 'true',
    'access-control-allow-headers': 'content-type, x-amz-date',
    'access-control-expose-headers': 'ETag, x-amz-request-id',
    'access-control-max-age': '600',
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  });
  const anyAsk = { origin: 'http://elsewhere:81', method: 'GET' };
  const any = matchCors(RULES, anyAsk);
  assert.ok(any);
  const h = Object.fromEntries(corsHeaders(any, anyAsk));
  assert.equal(h['access-control-allow-origin'], '*');
  assert.equal(h['access-control-allow-credentials'], undefined);
  assert.equal(h['access-control-allow-headers'], undefined);
  // A signed request matched by "*": the origin itself, with credentials (as S3 answers it).
  const signed = Object.fromEntries(corsHeaders(any, { ...anyAsk, credentialed: true }));
  assert.equal(signed['access-control-allow-origin'], 'http://elsewhere:81');
  assert.equal(signed['access-control-allow-credentials'], 'true');
});

test('Access-Control-Request-Headers is split, trimmed and lower-cased', () => {
  assert.deepEqual(requestedHeaders(' Content-Type ,X-Amz-Date,, '), ['content-type', 'x-amz-date']);
  assert.deepEqual(requestedHeaders(undefined), []);
});
