import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { S3Error } from '../../src/gateway/s3/errors.js';
import {
  OpenStream,
  openBuffer,
  planRange,
  SealStream,
  SSE_CHUNK_BYTES,
  SSE_TAG_BYTES,
  type SseSegment,
  storedSegmentSize,
} from '../../src/gateway/s3/sse-format.js';
import {
  customerKek,
  customerKeyCheck,
  customerKeyMatches,
  unwrapKey,
  wrapKey,
} from '../../src/gateway/s3/sse-keys.js';

/** The chunked AEAD format of encrypted objects, and the key wrapping, without a gateway. */

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Seals `plain` as one segment, fed in pieces of `piece` bytes (chunk boundaries must not matter). */
async function seal(key: Buffer, nonce: Buffer, plain: Buffer, piece = 10_000): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < plain.length; i += piece) pieces.push(plain.subarray(i, i + piece));
  return collect(Readable.from(pieces).pipe(new SealStream(key, nonce)));
}

async function sealedObject(key: Buffer, sizes: number[]) {
  const segments: SseSegment[] = [];
  const plains: Buffer[] = [];
  const stored: Buffer[] = [];
  for (const size of sizes) {
    const nonce = randomBytes(8);
    const plain = randomBytes(size);
    segments.push({ size, nonce });
    plains.push(plain);
    stored.push(await seal(key, nonce, plain));
  }
  return { segments, plain: Buffer.concat(plains), stored: Buffer.concat(stored) };
}

async function readRange(
  key: Buffer,
  o: { segments: SseSegment[]; stored: Buffer },
  offset: number,
  length: number,
) {
  const plan = planRange(o.segments, offset, length);
  const bytes = o.stored.subarray(plan.storedOffset, plan.storedOffset + plan.storedLength);
  const viaStream = await collect(Readable.from([bytes]).pipe(new OpenStream(key, plan)));
  const viaBuffer = openBuffer(key, plan, bytes);
  assert.ok(viaStream.equals(viaBuffer), 'stream and buffer paths agree');
  return { out: viaStream, plan };
}

describe('SSE chunked AEAD format', () => {
  const key = randomBytes(32);

  test('stored sizes: 16 bytes per 64 KiB chunk, one (empty) chunk for an empty segment', async () => {
    for (const n of [
      0,
      1,
      SSE_CHUNK_BYTES - 1,
      SSE_CHUNK_BYTES,
      SSE_CHUNK_BYTES + 1,
      3 * SSE_CHUNK_BYTES + 5,
    ]) {
      const stored = await seal(key, randomBytes(8), randomBytes(n), 7_000);
      assert.equal(stored.length, storedSegmentSize(n), `size ${n}`);
    }
    assert.equal(storedSegmentSize(0), SSE_TAG_BYTES);
    assert.equal(storedSegmentSize(2 * SSE_CHUNK_BYTES), 2 * SSE_CHUNK_BYTES + 2 * SSE_TAG_BYTES);
  });

  test('any range of a multi-segment object decrypts to the same plaintext, reading only the chunks it touches', async () => {
    const o = await sealedObject(key, [3 * SSE_CHUNK_BYTES + 100, 1000, 0, SSE_CHUNK_BYTES, 70_000]);
    const total = o.plain.length;
    const whole = await readRange(key, o, 0, total);
    assert.ok(whole.out.equals(o.plain));
    assert.equal(whole.plan.storedLength, o.stored.length);
    const cases: [number, number][] = [
      [0, 1],
      [SSE_CHUNK_BYTES - 1, 2],
      [SSE_CHUNK_BYTES, SSE_CHUNK_BYTES],
      [3 * SSE_CHUNK_BYTES + 90, 50], // across the first segment's end
      [total - 1, 1],
    ];
    for (let i = 0; i < 40; i++) {
      const a = Math.floor(Math.random() * total);
      cases.push([a, 1 + Math.floor(Math.random() * (total - a))]);
    }
    for (const [offset, length] of cases) {
      const { out, plan } = await readRange(key, o, offset, length);
      assert.ok(out.equals(o.plain.subarray(offset, offset + length)), `range ${offset}+${length}`);
      if (length <= 2)
        assert.ok(
          plan.storedLength <= 2 * (SSE_CHUNK_BYTES + SSE_TAG_BYTES),
          'a small range reads at most two chunks',
        );
    }
  });

  test('the same plaintext under the same key seals differently with another nonce', async () => {
    const plain = randomBytes(1000);
    assert.notDeepEqual(await seal(key, randomBytes(8), plain), await seal(key, randomBytes(8), plain));
  });

  test('a flipped bit, swapped chunks, a cut-off last chunk or another key: an error, never bytes', async () => {
    const o = await sealedObject(key, [3 * SSE_CHUNK_BYTES]);
    const fails = (stored: Buffer, k = key, segments = o.segments) =>
      assert.throws(
        () => openBuffer(k, planRange(segments, 0, o.plain.length), stored),
        (e: unknown) => e instanceof S3Error && e.code === 'InternalError',
      );
    const flipped = Buffer.from(o.stored);
    flipped[SSE_CHUNK_BYTES + 40]! ^= 1;
    fails(flipped);
    const c = SSE_CHUNK_BYTES + SSE_TAG_BYTES;
    const swapped = Buffer.concat([
      o.stored.subarray(c, 2 * c),
      o.stored.subarray(0, c),
      o.stored.subarray(2 * c),
    ]);
    fails(swapped);
    // Two chunks kept, the sidecar edited to say the object is two chunks long: the second is not "last".
    const cut = o.stored.subarray(0, 2 * c);
    fails(cut, key, [{ size: 2 * SSE_CHUNK_BYTES, nonce: o.segments[0]!.nonce }]);
    fails(o.stored, randomBytes(32));
  });

  test('key wrapping is bound to its object; SSE-C keeps only a salted HMAC that tells keys apart', () => {
    const kek = randomBytes(32);
    const dataKey = randomBytes(32);
    const wrapped = wrapKey(kek, dataKey, 'b\0k');
    assert.ok(unwrapKey(kek, wrapped, 'b\0k')?.equals(dataKey));
    assert.equal(unwrapKey(kek, wrapped, 'b\0other'), undefined, 'another key name');
    assert.equal(unwrapKey(randomBytes(32), wrapped, 'b\0k'), undefined, 'another kek');
    const customer = randomBytes(32);
    const check = customerKeyCheck(customer);
    assert.ok(customerKeyMatches(customer, check));
    assert.ok(!customerKeyMatches(randomBytes(32), check));
    assert.ok(!JSON.stringify(check).includes(customer.toString('base64')));
    assert.ok(!customerKek(customer, check).equals(customer), 'the wrapping key is derived, not the key');
  });
});
