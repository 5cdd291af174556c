import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { pageChecksum } from '../../src/cache/checksum.js';
import {
  decodePageFile,
  decodePageHeader,
  encodePageHeader,
  PAGE_FLAG_SEALED,
  PAGE_HEADER_BYTES,
} from '../../src/cache/page-file.js';

describe('page file format', () => {
  const payload = randomBytes(5000);
  const file = () => Buffer.concat([encodePageHeader(7, payload), payload]);

  test('header round trip', () => {
    const h = decodePageHeader(file());
    assert.ok(typeof h !== 'string');
    assert.equal(h.version, 1);
    assert.equal(h.flags, 0);
    assert.equal(h.length, 5000);
    assert.equal(h.index, 7);
    assert.equal(h.checksum, pageChecksum(payload));
    assert.equal(file().subarray(0, 4).toString('latin1'), 'STPG');
  });

  test('payload comes back as a view, unchanged', () => {
    const out = decodePageFile(file(), 7);
    assert.ok(Buffer.isBuffer(out));
    assert.ok(out.equals(payload));
  });

  test('a flipped payload byte fails the checksum', () => {
    const f = file();
    f[PAGE_HEADER_BYTES + 1234]! ^= 0x01;
    assert.equal(decodePageFile(f, 7), 'payload checksum mismatch');
  });

  test('a flipped header byte fails the header checksum', () => {
    const f = file();
    f[9]! ^= 0x80;
    assert.equal(decodePageFile(f, 7), 'header checksum mismatch');
  });

  test('truncated, wrong index, bad magic, unknown flags and a sealed page (no key here) are rejected', () => {
    assert.match(String(decodePageFile(file().subarray(0, 4000), 7)), /length/);
    assert.equal(decodePageFile(file().subarray(0, 10), 7), 'short header');
    assert.match(String(decodePageFile(file(), 8)), /page index 7/);
    const bad = file();
    bad.write('XXXX', 0, 'latin1');
    assert.equal(decodePageFile(bad, 7), 'bad magic');
    const sealed = Buffer.concat([encodePageHeader(7, payload, PAGE_FLAG_SEALED), payload]);
    assert.match(String(decodePageFile(sealed, 7)), /length/, 'a sealed page is 28 bytes longer');
    const unknown = Buffer.concat([encodePageHeader(7, payload, 0x2), payload]);
    assert.match(String(decodePageFile(unknown, 7)), /unsupported flags/);
  });
});
