import fc from 'fast-check';

/**
 * Hostile values shared by the S3, RPC and admin generators and by the path traversal test: each
 * names one way a path, a number or a body has been used to break a server.
 */

/** Path segments that try to climb out of a bucket or a store (raw, as they go on the wire). */
export const TRAVERSAL_SEGMENTS: readonly string[] = [
  '..',
  '.',
  '%2e%2e',
  '%2E%2E',
  '.%2e',
  '%2e.',
  '%252e%252e', // double-encoded
  '%25252e%25252e', // triple-encoded
  '%c0%ae%c0%ae', // overlong UTF-8 '.'
  '%e0%80%ae%e0%80%ae', // 3-byte overlong '.'
  '%c0%af', // overlong '/'
  '%c1%9c', // overlong '\'
  '..%2f..%2f..',
  '..%252f..%252f',
  '%2e%2e%2f%2e%2e%2f',
  '..\\..\\..',
  '..%5c..%5c',
  '%5c..%5c..',
  '..%00',
  '%00',
  'a%00b',
  '..%c0%af..',
  '%u002e%u002e',
  '.%u002e',
  '....',
  '..;',
  '..%3b',
  '%2f',
  '%2fetc%2fpasswd',
  '~',
  '%7e',
  '%ef%bc%8e%ef%bc%8e', // fullwidth dots
];

/** Absolute-ish targets that try to name a file outside the store. */
export const TRAVERSAL_PATHS: readonly string[] = [
  '../../../../etc/passwd',
  '/../../../../etc/passwd',
  '..%2f..%2f..%2f..%2fetc%2fpasswd',
  '%2e%2e/%2e%2e/%2e%2e/etc/passwd',
  '%252e%252e/%252e%252e/etc/passwd',
  '%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
  '..\\..\\..\\etc\\passwd',
  '/etc/passwd%00.txt',
  '//etc/passwd',
  '/./././../etc/passwd',
];

export const ODD_NUMBERS: readonly string[] = [
  '',
  '0',
  '-0',
  '-1',
  '1',
  '2',
  '1000',
  '1001',
  '10000',
  '4294967296',
  '9007199254740993',
  '99999999999999999999999',
  '1e3',
  '1e400',
  '0x10',
  '1.5',
  'NaN',
  'Infinity',
  'abc',
  ' 1',
  '1 ',
  '+1',
  '%00',
];

export const fuzzInt = fc.oneof(
  fc.constantFrom(...ODD_NUMBERS),
  fc.integer({ min: -10, max: 20_000_000 }).map(String),
);

/** Every byte value percent-encoded: invalid UTF-8, controls, NUL. */
const encodedBytes = fc
  .uint8Array({ minLength: 1, maxLength: 12 })
  .map((b) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join(''));

/** A path segment as sent: plain, unicode, percent-encoded bytes, traversal, very long. */
export const segment = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'k',
      'dir',
      'a.txt',
      'sub',
      'x%20y',
      'obj',
      '%C3%A9',
      '%C3%9Cn%C3%AF%20c%C3%B8d%C3%A9',
    ),
  },
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z0-9._-]{1,12}$/) },
  { weight: 3, arbitrary: fc.constantFrom(...TRAVERSAL_SEGMENTS) },
  { weight: 2, arbitrary: encodedBytes },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }).map((s) => encodeURIComponent(s)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('%', '%Z', '%ZZ', '%e9', '%ed%a0%80', '%ff%fe', '*', '#frag', 'x y', 'é'),
  },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 1500 }).map((n) => 'a'.repeat(n)) },
);

export const keyPath = fc.array(segment, { maxLength: 5 }).map((s) => s.join('/'));

/** A file-system path for the RPC's `path`/`from`/`to` (JSON or query, unencoded). */
export const fsPath = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('/', '/fuzz', '/fuzz/k', '/fuzz/dir/a.txt', '/nosuch/x', '/fuzz/'),
  },
  { weight: 3, arbitrary: keyPath.map((k) => `/fuzz/${safeDecode(k)}`) },
  { weight: 2, arbitrary: fc.constantFrom(...TRAVERSAL_PATHS).map(safeDecode) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', 'relative', '\u0000', '/a\u0000b', '/a//b', '/a/./b', '\\etc'),
  },
);

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Delete><Object><Key>&lol9;</Key></Object></Delete>`;

/** XML bodies: the documents the gateway reads (Delete, Complete, Tagging) and hostile ones. */
export const xmlBody = fc.oneof(
  fc
    .array(fc.stringMatching(/^[a-z0-9/._-]{1,20}$/), { maxLength: 20 })
    .map(
      (keys) =>
        `<?xml version="1.0"?><Delete><Quiet>${keys.length % 2 === 0}</Quiet>${keys.map((k) => `<Object><Key>${k}</Key></Object>`).join('')}</Delete>`,
    ),
  fc
    .array(fc.tuple(fc.constantFrom(...ODD_NUMBERS), fc.stringMatching(/^[0-9a-f]{0,34}$/)), { maxLength: 6 })
    .map(
      (parts) =>
        `<CompleteMultipartUpload>${parts.map(([n, e]) => `<Part><PartNumber>${n}</PartNumber><ETag>"${e}"</ETag></Part>`).join('')}</CompleteMultipartUpload>`,
    ),
  fc
    .array(fc.tuple(fc.string({ maxLength: 130 }), fc.string({ maxLength: 300 })), { maxLength: 12 })
    .map(
      (tags) =>
        `<Tagging><TagSet>${tags.map(([k, v]) => `<Tag><Key>${esc(k)}</Key><Value>${esc(v)}</Value></Tag>`).join('')}</TagSet></Tagging>`,
    ),
  fc.integer({ min: 100, max: 200_000 }).map((d) => `${'<a>'.repeat(d)}${'</a>'.repeat(d)}`),
  fc.integer({ min: 100, max: 200_000 }).map((d) => `<Delete>${'<Object>'.repeat(d)}`),
  fc.constant(BILLION_LAUGHS),
  fc.constant(
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object></Delete>',
  ),
  fc.constant('<Delete><Object><Key>&amp;&lt;&#0;&#xD800;&#1114112;&bogus;</Key></Object></Delete>'),
  fc
    .integer({ min: 1, max: 3 })
    .map((mib) => `<Delete>${'<Object><Key>k</Key></Object>'.repeat(mib * 37_000)}</Delete>`),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom(
    '',
    '<',
    '<Delete>',
    '<?xml',
    ']]>',
    '<Delete></Wrong>',
    '\uFEFF<Delete/>',
    '<Delete xmlns="x"/>',
  ),
);

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

/** A random JSON text, a hostile one, or one that is not JSON at all. */
export const jsonText = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.integer({ min: 1000, max: 300_000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
  fc.integer({ min: 1000, max: 300_000 }).map((d) => '{"a":'.repeat(d)),
  fc.constantFrom(
    '',
    '{',
    '{"path":',
    'null',
    '[]',
    '"x"',
    '{"__proto__":{"admin":true},"path":"/x"}',
    '\uFEFF{}',
  ),
  fc.constant(`{"path":"/fuzz/${'x'.repeat(1_100_000)}"}`),
  fc.string({ unit: 'binary', maxLength: 100 }),
);
