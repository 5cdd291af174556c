import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ERROR_TABLE, StrataError, toStrataError } from '../../src/core/errors.js';
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
