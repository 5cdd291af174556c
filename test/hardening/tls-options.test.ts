import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadServerTls, schemeOf, tlsFailureHint } from '../../src/core/tls-options.js';
import { tempDir } from '../helpers/local-process.js';
import { makeTestCa, type TestCa } from './tls-ca.js';

/** src/core/tls-options.ts alone: what a bad TLS flag says, and how a certificate failure reads. */
describe('TLS options', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let ca: TestCa;

  before(async () => {
    tmp = await tempDir('tls-options');
    ca = await makeTestCa(tmp.dir);
  });

  after(async () => {
    await ca?.close();
    await tmp?.cleanup();
  });

  test('neither flag: plain HTTP; both: the PEM bytes; one alone, a missing file or no PEM: INVALID_ARGUMENT naming the flag', async () => {
    assert.equal(await loadServerTls(undefined, undefined), undefined);
    assert.equal(await loadServerTls('', ''), undefined);
    assert.equal(schemeOf(undefined), 'http');
    const tls = await loadServerTls(ca.certFile, ca.keyFile);
    assert.ok(tls);
    assert.match(tls.cert.toString(), /BEGIN CERTIFICATE/);
    assert.match(tls.key.toString(), /BEGIN PRIVATE KEY/);
    assert.equal(schemeOf(tls), 'https');
    await assert.rejects(loadServerTls(ca.certFile, undefined), {
      code: 'INVALID_ARGUMENT',
      message: 'TLS needs both --tls-cert and --tls-key, got only --tls-cert',
    });
    await assert.rejects(loadServerTls(undefined, ca.keyFile, { cert: '--etcd-cert', key: '--etcd-key' }), {
      code: 'INVALID_ARGUMENT',
      message: 'TLS needs both --etcd-cert and --etcd-key, got only --etcd-key',
    });
    const missing = join(tmp.dir, 'missing.pem');
    await assert.rejects(loadServerTls(missing, ca.keyFile), {
      code: 'INVALID_ARGUMENT',
      message: `--tls-cert ${missing}: cannot read it (ENOENT)`,
    });
    // A key where the certificate belongs, and text that is no PEM at all.
    await assert.rejects(loadServerTls(ca.keyFile, ca.keyFile), {
      message: /--tls-cert .*: not a PEM file \(no "BEGIN CERTIFICATE" block\)/,
    });
    const text = join(tmp.dir, 'text.txt');
    await writeFile(text, 'hello\n');
    await assert.rejects(loadServerTls(ca.certFile, text), {
      message: /--tls-key .*text\.txt: not a PEM file \(no "BEGIN PRIVATE KEY" block\)/,
    });
  });

  test('certificate failures of a client read as what to do; other errors are left alone', () => {
    const wrapped = (code: string) => Object.assign(new Error('fetch failed'), { cause: { code } });
    assert.match(tlsFailureHint(wrapped('UNABLE_TO_VERIFY_LEAF_SIGNATURE')) ?? '', /pass --ca-file FILE/);
    assert.match(tlsFailureHint({ code: 'SELF_SIGNED_CERT_IN_CHAIN' }) ?? '', /STRATA_CA_FILE/);
    assert.match(tlsFailureHint(wrapped('ERR_TLS_CERT_ALTNAME_INVALID')) ?? '', /subjectAltName/);
    assert.match(tlsFailureHint({ code: 'CERT_HAS_EXPIRED' }) ?? '', /expired/);
    assert.equal(tlsFailureHint(wrapped('ECONNREFUSED')), undefined);
    assert.equal(tlsFailureHint(undefined), undefined);
  });
});
