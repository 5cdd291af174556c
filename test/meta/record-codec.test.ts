import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStrataError } from '../../src/core/errors.js';
import type { FileRecord } from '../../src/meta/meta-store.js';
import { decodeStatus, encodeStatus, syncedAtOf } from '../../src/meta/record-codec.js';

const file: FileRecord = {
  path: '/m/a.txt',
  type: 'file',
  size: 4096,
  mtimeMs: 1733270000123.5,
  fingerprint: '4096:1733270000123:"etag"',
  syncedAtMs: 1733270001234,
  cacheId: 'AbCdEfGhIjKlMnOpQrStUvm1',
};

test('a status round-trips through the compact layout, every field kept', () => {
  const records: FileRecord[] = [
    file,
    { ...file, etag: '"e\u00e9\\"', staging: 'st-1' },
    { path: '/m/d', type: 'directory', size: 0, mtimeMs: 0, fingerprint: 'dir', syncedAtMs: 5 },
    { ...file, fingerprint: '', size: 0 },
    // A field FileRecord does not know yet is kept too.
    { ...file, future: { nested: [1, 'x\u0000y'] } } as unknown as FileRecord,
  ];
  for (const r of records) {
    const v = encodeStatus(r);
    assert.equal(v.charCodeAt(0), 1, `compact: ${JSON.stringify(r)}`);
    assert.deepEqual(decodeStatus(r.path, v), r);
  }
});

test('what the compact layout cannot hold exactly is written as the JSON array, and read back', () => {
  const records: FileRecord[] = [
    { ...file, fingerprint: 'a\u0000b' },
    { ...file, cacheId: 'x\u0000' },
    { ...file, cacheId: '' },
  ];
  for (const r of records) {
    const v = encodeStatus(r);
    assert.equal(v[0], '[');
    assert.deepEqual(decodeStatus(r.path, v), r);
  }
});

test('values an older version wrote (a JSON array and a rest object) are still read', () => {
  const old = '["f",4096,1733270000123,"4096:1733270000123:",1733270001234,{"cacheId":"AbC","etag":"e"}]';
  assert.deepEqual(decodeStatus('/m/x', old), {
    path: '/m/x',
    type: 'file',
    size: 4096,
    mtimeMs: 1733270000123,
    fingerprint: '4096:1733270000123:',
    syncedAtMs: 1733270001234,
    cacheId: 'AbC',
    etag: 'e',
  });
  assert.deepEqual(decodeStatus('/m', '["d",0,7,"dir",8]'), {
    path: '/m',
    type: 'directory',
    size: 0,
    mtimeMs: 7,
    fingerprint: 'dir',
    syncedAtMs: 8,
  });
});

test('a damaged value is INTERNAL, not a wrong record', () => {
  for (const bad of [
    '\u0001f\u00001\u00002',
    '\u0001f\u0000x\u00002\u00003\u0000fp\u0000\u0000',
    '\u0001f\u00001\u00002\u00003\u0000fp\u0000\u0000[1]',
    '{"a":1}',
    'nope',
  ])
    assert.throws(
      () => decodeStatus('/m/bad', bad),
      (e) => isStrataError(e, 'INTERNAL'),
      JSON.stringify(bad),
    );
});

test('syncedAtOf reads the syncedAtMs of either layout without a whole decode, and refuses a damaged value', () => {
  const compact = encodeStatus(file);
  assert.equal(compact.charCodeAt(0), 1);
  assert.equal(syncedAtOf(file.path, compact), file.syncedAtMs);
  const array = encodeStatus({ ...file, fingerprint: 'a\u0000b' });
  assert.notEqual(array.charCodeAt(0), 1);
  assert.equal(syncedAtOf(file.path, array), file.syncedAtMs);
  const dir = encodeStatus({
    path: '/m/d',
    type: 'directory',
    size: 0,
    mtimeMs: 0,
    fingerprint: 'dir',
    syncedAtMs: 7,
  });
  assert.equal(syncedAtOf('/m/d', dir), 7);
  for (const bad of [
    '\u0001f\u00004096',
    '\u0001f\u00001\u00002\u0000\u0000x',
    '\u0001f\u00001\u00002\u0000zz\u0000x',
  ])
    assert.throws(
      () => syncedAtOf(file.path, bad),
      (e: unknown) => isStrataError(e, 'INTERNAL'),
      JSON.stringify(bad),
    );
});

test('encodeStatus keeps only own, defined fields beyond the fixed ones', () => {
  const withUndefined = { ...file, etag: undefined } as unknown as FileRecord;
  assert.deepEqual(decodeStatus(file.path, encodeStatus(withUndefined)), file);
});
