import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStrataError } from '../../src/core/errors.js';
import { baseName, isWithin, joinPath, normalizePath, parentOf, relativeTo } from '../../src/core/paths.js';
import { parseUfsUri, redactUri } from '../../src/ufs/factory.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isStrataError(err) ? err.code : 'OTHER';
  }
  return undefined;
}

test('paths are normalised once and never climb out', () => {
  assert.equal(normalizePath('/'), '/');
  assert.equal(normalizePath('/a/b/'), '/a/b');
  assert.equal(normalizePath('/ünï côde/x'), '/ünï côde/x');
  for (const bad of ['', 'a/b', '/a/../b', '/..', '/a/./b', '/a//b', '/a\0b', '//'])
    assert.equal(
      code(() => normalizePath(bad)),
      'INVALID_PATH',
      bad,
    );
  assert.equal(
    code(() => normalizePath(`/${'x'.repeat(256)}`)),
    'NAME_TOO_LONG',
  );
  assert.equal(
    code(() => normalizePath(`/${'abc/'.repeat(1100)}x`)),
    'NAME_TOO_LONG',
  );
  assert.equal(
    code(() => joinPath('/a', '..')),
    'INVALID_PATH',
  );
  assert.equal(
    code(() => joinPath('/a', 'b/c')),
    undefined,
  );
});

test('path helpers', () => {
  assert.equal(parentOf('/a/b'), '/a');
  assert.equal(parentOf('/a'), '/');
  assert.equal(baseName('/a/b'), 'b');
  assert.ok(isWithin('/a/b', '/a'));
  assert.ok(!isWithin('/ab', '/a'));
  assert.ok(isWithin('/x', '/'));
  assert.equal(relativeTo('/a/b/c', '/a'), '/b/c');
  assert.equal(relativeTo('/a', '/a'), '/');
});

test('store URIs are checked before use and printed without credentials', () => {
  assert.equal(parseUfsUri('file:///srv/data').pathname, '/srv/data');
  assert.equal(parseUfsUri('s3://bucket/prefix').host, 'bucket');
  for (const bad of [
    'nope://x',
    'file://host/x',
    'file:///a/../etc',
    'file:///a/%2e%2e/etc',
    's3:///nobucket',
    'not a uri',
    'file:///a?x=1',
    'http://',
  ]) {
    assert.equal(
      code(() => parseUfsUri(bad)),
      'INVALID_URI',
      bad,
    );
  }
  assert.equal(redactUri('https://user:secret@host/base'), 'https://host/base');
});
