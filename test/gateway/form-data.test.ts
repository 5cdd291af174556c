import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { S3Error } from '../../src/gateway/s3/errors.js';
import { formBoundary, readForm } from '../../src/gateway/s3/form-data.js';

/** The streaming multipart/form-data reader of POST uploads. */

// biome-ignore lint/suspicious/noTemplateCurlyInString: S3's literal key placeholder
const TEMPLATE = 'uploads/${filename}';
const BOUNDARY = '----StrataFormBoundary7MA4YWxkTrZu0gW';

function encode(fields: Array<[string, string]>, file: Buffer, filename = 'a.bin', after = ''): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields)
    parts.push(
      Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  parts.push(
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
  );
  parts.push(file);
  parts.push(Buffer.from(`\r\n${after}--${BOUNDARY}--\r\n`));
  return Buffer.concat(parts);
}

/** The bytes as a stream of chunks of the given sizes (cycled). */
function chunked(data: Buffer, sizes: number[]): Readable {
  const out: Buffer[] = [];
  for (let i = 0, n = 0; i < data.length; n++) {
    const size = sizes[n % sizes.length]!;
    out.push(data.subarray(i, i + size));
    i += size;
  }
  return Readable.from(out);
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function s3Failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof S3Error, String(err));
    return err.code;
  }
  assert.fail('expected an S3 error');
}

test('the boundary comes from the Content-Type (quoted or not); other types have none', () => {
  assert.equal(formBoundary(`multipart/form-data; boundary=${BOUNDARY}`), BOUNDARY);
  assert.equal(formBoundary('Multipart/Form-Data; charset=utf-8; boundary="a b"'), 'a b');
  assert.equal(formBoundary('multipart/mixed; boundary=x'), undefined);
  assert.equal(formBoundary('multipart/form-data'), undefined);
  assert.equal(formBoundary(undefined), undefined);
});

test('fields and file come out right however the body is split, also with boundary-like bytes in the file', async () => {
  // The file holds the delimiter's every proper prefix and CRLFs, so only the real one ends it.
  const delimiter = `\r\n--${BOUNDARY}`;
  const tricky = Buffer.concat([
    Buffer.from('\r\n'),
    ...Array.from({ length: delimiter.length - 1 }, (_, i) => Buffer.from(`${delimiter.slice(0, i + 1)}x`)),
    randomBytes(3000),
    Buffer.from(`--${BOUNDARY}`), // without the CRLF before it: file content
  ]);
  const body = encode(
    [
      ['Key', TEMPLATE],
      ['x-amz-meta-note', 'héllo wörld'],
      ['empty', ''],
    ],
    tricky,
    'C:\\Users\\ana\\photo.png',
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="after"\r\n\r\nignored\r\n`,
  );
  for (const sizes of [[1], [2, 3], [7], [64], [4096], [body.length]]) {
    const form = await readForm(chunked(body, sizes), BOUNDARY);
    assert.deepEqual(
      [...form.fields],
      [
        ['key', TEMPLATE],
        ['x-amz-meta-note', 'héllo wörld'],
        ['empty', ''],
      ],
    );
    assert.equal(form.file.filename, 'photo.png');
    assert.equal(form.file.contentType, 'application/octet-stream');
    assert.ok((await collect(form.file.body)).equals(tricky), `chunks of ${sizes}`);
    assert.equal(await form.finish(), true);
  }
});

test('malformed forms are refused as S3 refuses them', async () => {
  const file = Buffer.from('data');
  const ok = encode([['key', 'k']], file);
  const noFile = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n--${BOUNDARY}--\r\n`,
  );
  const cases: Array<[Buffer, string]> = [
    [noFile, 'IncorrectNumberOfFilesInPostRequest'],
    [Buffer.from('no boundary at all'), 'MalformedPOSTRequest'],
    [ok.subarray(0, 40), 'MalformedPOSTRequest'],
    [Buffer.from(`--${BOUNDARY}\r\nX-Other: 1\r\n\r\nv\r\n--${BOUNDARY}--`), 'MalformedPOSTRequest'],
    [Buffer.from(`--${BOUNDARY}\r\n\r\nv\r\n--${BOUNDARY}--`), 'MalformedPOSTRequest'],
    [
      encode(
        [
          ['key', 'a'],
          ['KEY', 'b'],
        ],
        file,
      ),
      'InvalidArgument',
    ],
    [encode([['big', 'x'.repeat(70 * 1024)]], file), 'MalformedPOSTRequest'],
  ];
  for (const [body, code] of cases)
    assert.equal(
      await s3Failure(readForm(chunked(body, [5, 100]), BOUNDARY)),
      code,
      body.subarray(0, 80).toString(),
    );
  // A form cut inside the file: the file's stream fails (the write under it aborts).
  const cut = await readForm(chunked(ok.subarray(0, ok.length - 20), [9]), BOUNDARY);
  assert.equal(await s3Failure(collect(cut.file.body)), 'IncompleteBody');
});

test('the file streams with backpressure: a slow reader of 64 MiB keeps memory at a few chunks', async () => {
  const MiB = 1024 * 1024;
  const total = 64 * MiB;
  const chunk = randomBytes(64 * 1024);
  let produced = 0;
  let consumed = 0;
  let maxAhead = 0;
  const head = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="key"\r\n\r\nbig\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big"\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  async function* source() {
    yield head;
    for (let n = 0; n < total; n += chunk.length) {
      produced += chunk.length;
      maxAhead = Math.max(maxAhead, produced - consumed);
      yield chunk;
    }
    yield tail;
  }
  const expected = createHash('md5');
  for (let n = 0; n < total; n += chunk.length) expected.update(chunk);
  const form = await readForm(source(), BOUNDARY);
  const md5 = createHash('md5');
  let ticks = 0;
  await pipeline(
    form.file.body,
    new Writable({
      highWaterMark: 16 * 1024,
      write(c: Buffer, _e, done) {
        consumed += c.length;
        md5.update(c);
        // A slow consumer: every 16th write waits a turn of the event loop.
        if (++ticks % 16 === 0) setImmediate(done);
        else done();
      },
    }),
  );
  assert.equal(consumed, total);
  assert.equal(md5.digest('hex'), expected.digest('hex'));
  assert.ok(maxAhead < 2 * MiB, `the reader ran ${maxAhead} bytes ahead of its consumer`);
  assert.ok(form.maxBuffered() < 256 * 1024, `held ${form.maxBuffered()} bytes at once`);
});
