import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MASKED, maskOptions, mountInfo } from '../../src/core/mounts.js';
import { secretOptionsOf, secretPolicyOf } from '../../src/ufs/factory.js';

/** Each connector declares which of its mount options carry credentials; nothing is guessed from names. */

test('s3 declares accessKeyId, secretAccessKey and sessionToken, nothing else', () => {
  const options = {
    endpoint: 'http://127.0.0.1:9000',
    region: 'eu-west-1',
    accessKeyId: 'AKIA-1',
    secretAccessKey: 'sk-1',
    sessionToken: 'st-1',
    pathStyle: 'true',
    maxAttempts: '3',
  };
  assert.deepEqual(secretOptionsOf('s3://bucket/prefix', options), [
    'accessKeyId',
    'secretAccessKey',
    'sessionToken',
  ]);
  assert.deepEqual(secretPolicyOf('s3://b')?.declared, ['accessKeyId', 'secretAccessKey', 'sessionToken']);
});

test('http declares credential headers (any case) and the headers a mount names in secretHeaders', () => {
  const options = {
    timeoutMs: '5000',
    'header.Authorization': 'Bearer a',
    'header.cookie': 'sid=1',
    'header.Proxy-Authorization': 'Basic b',
    'header.X-API-Key': 'k',
    'header.X-Vault-Token': 'v',
    'header.Accept': 'text/html',
    secretHeaders: 'x-vault-token, X-Other',
  };
  assert.deepEqual(secretOptionsOf('https://example.org/data', options), [
    'header.Authorization',
    'header.Proxy-Authorization',
    'header.X-API-Key',
    'header.X-Vault-Token',
    'header.cookie',
  ]);
  const { secretHeaders: _named, ...withoutList } = options;
  assert.ok(!secretOptionsOf('http://example.org/', withoutList).includes('header.X-Vault-Token'));
  // Options other connectors would call secret are plain for http: it does not read them.
  assert.deepEqual(secretOptionsOf('http://example.org/', { secretAccessKey: 'x', password: 'y' }), []);
});

test('file declares none; an unknown scheme counts every option as secret', () => {
  assert.deepEqual(secretOptionsOf('file:///srv/data', { anything: 'x', token: 'y' }), []);
  assert.deepEqual(secretOptionsOf('gopher://host/', { a: '1', b: '2' }), ['a', 'b']);
  assert.deepEqual(secretOptionsOf('not a uri', { a: '1' }), ['a']);
});

test('masking: the declared names, all values when a record carries no list, sealed names too', () => {
  assert.deepEqual(maskOptions({ a: '1', b: '2' }, ['b']), { a: '1', b: MASKED });
  assert.deepEqual(maskOptions({ a: '1', b: '2' }), { a: MASKED, b: MASKED });
  const info = mountInfo({
    path: '/s',
    uri: 's3://bucket/',
    readOnly: false,
    syncIntervalMs: -1,
    writeType: 'CACHE_THROUGH',
    options: { region: 'r' },
    secretOptions: ['accessKeyId', 'secretAccessKey'],
    sealed: 'v1.x.y.z',
  });
  assert.deepEqual(info.options, { accessKeyId: MASKED, region: 'r', secretAccessKey: MASKED });
  assert.ok(!JSON.stringify(info).includes('v1.x.y.z'), 'the sealed box is shown');
});
