import fc from 'fast-check';
import { fsPath, fuzzInt, jsonText, segment } from './corpus.js';

/**
 * Generated calls to the admin/RPC port: the worker RPC (`/rpc/v1/*`, with the token most of the
 * time), the registry, the jobs API, the dashboard and /healthz, /metrics.
 */

export interface PortSpec {
  readonly method: string;
  readonly target: string;
  readonly token: 'good' | 'bad' | 'none';
  readonly host: string;
  readonly body: string;
  readonly framing: 'length' | 'chunked' | 'short';
  readonly contentType: string;
}

const RPC_NAMES = [
  'status',
  'list',
  'read',
  'write',
  'delete',
  'mkdir',
  'rename',
  'mount',
  'unmount',
  'mounts',
  'load',
  'free',
  'pin',
  'ttl',
  'du',
  'report',
  'cached',
  'invalidate',
  'job-batch',
];

/** Mount URIs only ever name the sandbox, a refused port, or nothing that parses. */
const mountUri = (sandbox: string) =>
  fc.constantFrom(
    `file://${sandbox}/m`,
    `file://${sandbox}/m/../n`,
    'http://127.0.0.1:1/x',
    's3://',
    'file://',
    'ftp://x',
    'bogus',
    '',
    'http://[::1',
  );

const bodyValue = (sandbox: string) =>
  fc.oneof(
    fsPath,
    fuzzInt.map((n) => (Number.isFinite(Number(n)) ? Number(n) : n)),
    fc.boolean(),
    fc.constant(null),
    fc.array(fsPath, { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
    mountUri(sandbox),
  );

const FIELDS = [
  'path',
  'recursive',
  'from',
  'to',
  'uri',
  'options',
  'pinned',
  'ttlMs',
  'action',
  'items',
  'tree',
  'op',
  'paths',
];

const rpcBody = (sandbox: string) =>
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc
        .dictionary(fc.constantFrom(...FIELDS), bodyValue(sandbox), { maxKeys: 4 })
        .map((o) => JSON.stringify(o)),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fsPath, fsPath)
        .map(([p, q]) => JSON.stringify({ op: 'load', paths: [p, q], items: [{ path: p, fingerprint: q }] })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fsPath, mountUri(sandbox))
        .map(([p, u]) => JSON.stringify({ path: p, uri: u, options: { readOnly: 'yes' } })),
    },
    { weight: 2, arbitrary: jsonText },
  );

const rpcQuery = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        'path',
        'offset',
        'length',
        'readType',
        'writeType',
        'size',
        'syncIntervalMs',
        'recursive',
        'x',
      ),
      fc.oneof(
        fsPath.map(encodeURIComponent),
        fuzzInt,
        fc.constantFrom('CACHE', 'NO_CACHE', 'MUST_CACHE', 'THROUGH', 'bogus'),
        segment,
      ),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

const ADMIN_TARGETS = [
  '/healthz',
  '/metrics',
  '/api/v1/config',
  '/api/v1/storage',
  '/api/v1/jobs',
  '/api/v1/jobs/ID',
  '/api/v1/jobs/ID/cancel',
  '/api/v1/jobs/%2e%2e',
  '/api/v1/dashboard/node',
  '/api/v1/dashboard/node/history',
  '/api/v1/dashboard/workers',
  '/api/v1/dashboard/mounts',
  '/api/v1/dashboard/list?path=/fuzz',
  '/api/v1/dashboard/jobs',
  '/registry/v1/workers',
  '/registry/v1/mounts',
  '/registry/v1/members/scheduler',
  '/registry/v1/members/%2e%2e',
  '/',
  '/app.js',
  '/lib.js',
  '/pages/../../package.json',
  '/vendor/preact.js',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/healthz/../rpc/v1/report',
  '*',
  '//',
  'http://127.0.0.1/healthz',
];

export const portSpec = (sandbox: string): fc.Arbitrary<PortSpec> =>
  fc.record({
    method: fc.oneof(
      { weight: 10, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE') },
      { weight: 1, arbitrary: fc.constantFrom('HEAD', 'PATCH', 'OPTIONS', 'TRACE', 'X') },
    ),
    target: fc.oneof(
      {
        weight: 6,
        arbitrary: fc.tuple(fc.constantFrom(...RPC_NAMES), rpcQuery).map(([n, q]) => `/rpc/v1/${n}${q}`),
      },
      { weight: 1, arbitrary: fc.tuple(segment, rpcQuery).map(([n, q]) => `/rpc/v1/${n}${q}`) },
      {
        weight: 3,
        arbitrary: fc
          .tuple(fc.constantFrom(...ADMIN_TARGETS), rpcQuery)
          .map(([t, q]) => (t.includes('?') || q === '' ? t : `${t}${q}`)),
      },
    ),
    token: fc.oneof(
      { weight: 8, arbitrary: fc.constant<'good'>('good') },
      { weight: 1, arbitrary: fc.constantFrom<'bad' | 'none'>('bad', 'none') },
    ),
    host: fc.constantFrom('127.0.0.1', 'localhost', 'evil.example', ''),
    body: fc.oneof({ weight: 2, arbitrary: fc.constant('') }, { weight: 5, arbitrary: rpcBody(sandbox) }),
    framing: fc.oneof(
      { weight: 12, arbitrary: fc.constant<'length'>('length') },
      { weight: 1, arbitrary: fc.constantFrom<'chunked' | 'short'>('chunked', 'short') },
    ),
    contentType: fc.constantFrom('application/json', 'text/plain', '', 'application/octet-stream'),
  });

export function renderPort(spec: PortSpec, port: number, token: string): Buffer {
  const data = Buffer.from(spec.body, 'utf8');
  const lines: [string, string][] = [['host', spec.host === '' ? '' : `${spec.host}:${port}`]];
  if (spec.token === 'good') lines.push(['authorization', `Bearer ${token}`]);
  if (spec.token === 'bad') lines.push(['authorization', `Bearer ${token.slice(1)}x`]);
  if (spec.contentType !== '') lines.push(['content-type', spec.contentType]);
  let wire = data;
  if (spec.framing === 'chunked') {
    lines.push(['transfer-encoding', 'chunked']);
    wire = Buffer.concat([
      Buffer.from(`${data.length.toString(16)}\r\n`),
      data,
      Buffer.from('\r\n0\r\n\r\n'),
    ]);
    if (data.length === 0) wire = Buffer.from('0\r\n\r\n');
  } else {
    lines.push(['content-length', String(data.length + (spec.framing === 'short' ? 50 : 0))]);
  }
  lines.push(['connection', 'close']);
  const head = `${spec.method} ${spec.target} HTTP/1.1\r\n${lines.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), wire]);
}
