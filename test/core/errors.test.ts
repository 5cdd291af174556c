import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import {
  ERROR_TABLE,
  type ErrorCode,
  type ErrorSpec,
  isS3Code,
  S3_STATUS,
  StrataError,
  toStrataError,
} from '../../src/core/errors.js';
import { REPO_ROOT } from '../helpers/local-process.js';

test('every error code is documented in docs/errors.md with its mappings', async () => {
  const doc = await readFile(`${REPO_ROOT}/docs/errors.md`, 'utf8');
  for (const [code, spec] of Object.entries(ERROR_TABLE)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    assert.ok(row, `${code} missing from docs/errors.md`);
    for (const cell of [spec.errno, String(spec.http), spec.s3, String(spec.exit)])
      assert.ok(row.includes(`| ${cell} |`), `${code}: ${cell} not in its row`);
  }
});

test('system errors map to stable codes and keep their cause', () => {
  const enoent = Object.assign(new Error('nope'), { code: 'ENOENT' });
  const e = toStrataError(enoent);
  assert.equal(e.code, 'NOT_FOUND');
  assert.equal(e.cause, enoent);
  assert.equal(
    toStrataError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })).code,
    'UFS_UNAVAILABLE',
  );
  assert.equal(toStrataError(new Error('weird')).code, 'INTERNAL');
  const own = new StrataError('READ_ONLY', 'ro');
  assert.equal(toStrataError(own), own);
  assert.equal(own.spec.errno, 'EROFS');
  assert.deepEqual(JSON.parse(JSON.stringify(own)), { code: 'READ_ONLY', message: 'ro', details: {} });
});

test('every S3 code in the one S3 table is documented with its status', async () => {
  const doc = await readFile(`${REPO_ROOT}/docs/errors.md`, 'utf8');
  for (const [code, status] of Object.entries(S3_STATUS)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| ${code} |`));
    assert.ok(row, `S3 code ${code} missing from docs/errors.md`);
    assert.ok(row.startsWith(`| ${code} | ${status} |`), `${code}: status ${status} not in its row`);
  }
});

test("every core code's S3 code has a status", () => {
  for (const [code, spec] of Object.entries(ERROR_TABLE)) {
    assert.ok(isS3Code(spec.s3), `${code}: ${spec.s3} is not in S3_STATUS`);
    assert.equal(typeof S3_STATUS[spec.s3], 'number');
  }
});

/** Core codes whose S3 answer has another status than their `http` (each explained in docs/errors.md). */
const S3_EDGE_DIFFERS = ['UNAUTHENTICATED', 'FINGERPRINT_CHANGED', 'CACHE_FULL', 'TIMEOUT'];

test('a core code and its S3 code have the same status, or docs/errors.md says why not', async () => {
  const doc = await readFile(`${REPO_ROOT}/docs/errors.md`, 'utf8');
  const section = doc.slice(doc.indexOf('### Where the S3 edge answers another status'));
  const differs = Object.entries(ERROR_TABLE)
    .filter(([, spec]) => spec.http !== S3_STATUS[spec.s3])
    .map(([code]) => code);
  assert.deepEqual(differs.sort(), [...S3_EDGE_DIFFERS].sort());
  for (const code of differs) {
    const spec = ERROR_TABLE[code as ErrorCode];
    const row = section.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    assert.ok(row, `${code} answers ${spec.s3} ${S3_STATUS[spec.s3]} but docs/errors.md does not say why`);
    assert.ok(row.includes(`| ${spec.http} | ${spec.s3} ${S3_STATUS[spec.s3]} |`), row);
  }
});

test('every S3 code the gateway raises has a status', async () => {
  const dir = `${REPO_ROOT}/src/gateway`;
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.ts'));
  const raised = new Set<string>();
  for (const f of files) {
    const text = await readFile(`${dir}/${f}`, 'utf8');
    // new S3Error('Code', …) and the <Code> of DeleteObjects' per-key errors.
    for (const m of text.matchAll(/S3Error\(\s*'([A-Za-z0-9]+)'/g)) raised.add(m[1]!);
    for (const m of text.matchAll(/\bCode: '([A-Za-z0-9]+)'/g)) raised.add(m[1]!);
  }
  assert.ok(raised.size > 20, `found only ${raised.size} codes: the scan is broken`);
  for (const code of raised) assert.ok(isS3Code(code), `the gateway raises ${code}, which has no status`);
});

/**
 * Retryable ⇔ the HTTP status is transient (408, 429, 500, 502, 503, 504, 507; 501 is
 * permanent), with two documented exceptions. At the S3 edge: retryable ⇔ the S3 answer is one
 * the AWS SDKs retry (HTTP 500/502/503/504, RequestTimeout, SlowDown), INTERNAL excepted.
 */
const TRANSIENT_HTTP = new Set([408, 429, 500, 502, 503, 504, 507]);
const RETRY_EXCEPTIONS: Partial<Record<ErrorCode, boolean>> = { FINGERPRINT_CHANGED: true, INTERNAL: false };
const SDK_RETRIED_STATUS = new Set([500, 502, 503, 504]);
const SDK_RETRIED_CODES = new Set(['RequestTimeout', 'SlowDown']);

test('the retryable column follows the status, with the documented exceptions', async () => {
  const doc = await readFile(`${REPO_ROOT}/docs/errors.md`, 'utf8');
  const section = doc.slice(doc.indexOf('## Retryable'));
  for (const [code, spec] of Object.entries(ERROR_TABLE) as [ErrorCode, ErrorSpec][]) {
    const exception = RETRY_EXCEPTIONS[code];
    if (exception !== undefined) {
      assert.equal(spec.retryable, exception, code);
      assert.ok(TRANSIENT_HTTP.has(spec.http) !== exception, `${code} is no exception any more`);
      assert.ok(section.includes(`\`${code}\``), `${code}'s exception is not documented`);
      continue;
    }
    assert.equal(spec.retryable, TRANSIENT_HTTP.has(spec.http), `${code} (${spec.http})`);
  }
  for (const [code, spec] of Object.entries(ERROR_TABLE) as [ErrorCode, ErrorSpec][]) {
    const sdkRetries = SDK_RETRIED_STATUS.has(S3_STATUS[spec.s3]) || SDK_RETRIED_CODES.has(spec.s3);
    if (code === 'INTERNAL') assert.ok(sdkRetries && !spec.retryable);
    else assert.equal(sdkRetries, spec.retryable, `${code} → ${spec.s3} ${S3_STATUS[spec.s3]}`);
  }
});
