import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { type ChunkSigning, EMPTY_SHA256, hmacHex, sha256Hex } from './auth.js';
import { badDigest, type ChecksumAlgorithm, type Hasher, newHasher } from './checksums.js';
import { S3Error } from './errors.js';

/**
 * Request-body transforms. Every check that can only be decided at the end of the body (MD5,
 * SHA-256, chunk signatures, length) fails the stream in flush(), so the write underneath aborts
 * before it commits: a PUT that fails a digest leaves the old object untouched.
 */

export interface BodyCheck {
  /** Expected decoded length (Content-Length or x-amz-decoded-content-length). */
  readonly length?: number;
  readonly maxBytes: number;
  /** base64 Content-MD5 */
  readonly contentMd5?: string;
  /** hex x-amz-content-sha256 */
  readonly sha256?: string;
  /**
   * An additional checksum to compute (x-amz-checksum-<alg>): `expected` is the header value, or a
   * getter for the aws-chunked trailer (read at the end of the body); without it the checksum is
   * only computed (CopyObject with x-amz-checksum-algorithm, multipart parts).
   */
  readonly checksum?: {
    readonly alg: ChecksumAlgorithm;
    readonly expected?: string | (() => string | undefined) | undefined;
  };
}

/** Counts, hashes (MD5 always) and verifies a body as it streams. */
export class CheckedBody extends Transform {
  private readonly md5 = createHash('md5');
  private readonly sha?: ReturnType<typeof createHash>;
  private readonly extra?: Hasher;
  bytes = 0;
  md5Hex = '';
  /** base64 of the additional checksum, once the body has ended (when one was asked for). */
  checksum: string | undefined;

  constructor(private readonly check: BodyCheck) {
    super();
    if (check.sha256 !== undefined) this.sha = createHash('sha256');
    if (check.checksum) this.extra = newHasher(check.checksum.alg);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.check.maxBytes) {
      done(new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed object size.'));
      return;
    }
    if (this.check.length !== undefined && this.bytes > this.check.length) {
      done(new S3Error('InvalidRequest', 'The body is longer than its declared length'));
      return;
    }
    this.md5.update(chunk);
    this.sha?.update(chunk);
    this.extra?.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.check.length !== undefined && this.bytes !== this.check.length) {
      done(
        new S3Error(
          'IncompleteBody',
          'You did not provide the number of bytes specified by the Content-Length HTTP header',
        ),
      );
      return;
    }
    const md5 = this.md5.digest();
    this.md5Hex = md5.toString('hex');
    if (this.check.contentMd5 !== undefined && md5.toString('base64') !== this.check.contentMd5) {
      done(new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.'));
      return;
    }
    if (this.sha && this.sha.digest('hex') !== this.check.sha256) {
      done(
        new S3Error(
          'XAmzContentSHA256Mismatch',
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ),
      );
      return;
    }
    if (this.extra && this.check.checksum) {
      const { alg, expected } = this.check.checksum;
      this.checksum = this.extra.digest().toString('base64');
      const want = typeof expected === 'function' ? expected() : expected;
      if (typeof expected === 'function' && want === undefined) {
        done(
          new S3Error(
            'InvalidRequest',
            `The x-amz-checksum-${alg} trailer declared in x-amz-trailer was not sent.`,
          ),
        );
        return;
      }
      if (want !== undefined && want !== this.checksum) {
        done(badDigest(alg));
        return;
      }
    }
    done();
  }
}

/** Validates a Content-MD5 header's shape up front (InvalidDigest). */
export function checkContentMd5(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Buffer.from(value, 'base64').length !== 16 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
    throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.');
  }
  return value;
}

const MAX_LINE = 8192;

/**
 * Decodes `Content-Encoding: aws-chunked` bodies (hex-size[;chunk-signature=…]\r\n data \r\n … 0…
 * trailers \r\n). With signing info each chunk's signature is verified, chained from the seed
 * (and the trailer's signature). Trailing checksums are read here and verified by CheckedBody,
 * which hashes the decoded bytes anyway (`trailer()`).
 */
export class AwsChunkedDecoder extends Transform {
  private state: 'header' | 'data' | 'dataEnd' | 'trailer' | 'done' = 'header';
  private line: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private chunkSig = '';
  private chunkHash = createHash('sha256');
  private prevSig: string;
  private readonly trailers = new Map<string, string>();
  decoded = 0;

  constructor(private readonly signing: ChunkSigning | undefined) {
    super();
    this.prevSig = signing?.seedSignature ?? '';
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      let i = 0;
      while (i < chunk.length) {
        if (this.state === 'data') {
          const n = Math.min(this.remaining, chunk.length - i);
          const piece = chunk.subarray(i, i + n);
          this.chunkHash.update(piece);
          this.decoded += n;
          this.push(piece);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) this.state = 'dataEnd';
          continue;
        }
        if (this.state === 'done') {
          // The encoding ended (final chunk, trailers, blank line) but the body goes on: those
          // bytes belong to no chunk, and silently dropping them would store a different body.
          throw new S3Error('InvalidRequest', 'The aws-chunked body continues after its final chunk');
        }
        const nl = chunk.indexOf(10, i);
        const end = nl < 0 ? chunk.length : nl + 1;
        this.line =
          this.line.length === 0
            ? chunk.subarray(i, end)
            : Buffer.concat([this.line, chunk.subarray(i, end)]);
        if (this.line.length > MAX_LINE) throw new S3Error('IncompleteBody', 'aws-chunked line too long');
        i = end;
        if (nl < 0) continue;
        const text = this.line.toString('latin1').replace(/\r?\n$/, '');
        this.line = Buffer.alloc(0);
        this.onLine(text);
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private onLine(text: string): void {
    if (this.state === 'dataEnd') {
      if (text !== '') throw new S3Error('IncompleteBody', 'aws-chunked data not followed by CRLF');
      this.verifyChunk();
      this.state = 'header';
      return;
    }
    if (this.state === 'trailer') {
      if (text === '') {
        this.finishTrailers();
        this.state = 'done';
        return;
      }
      const colon = text.indexOf(':');
      if (colon <= 0) throw new S3Error('IncompleteBody', 'malformed aws-chunked trailer');
      this.trailers.set(text.slice(0, colon).trim().toLowerCase(), text.slice(colon + 1).trim());
      return;
    }
    // header line: size[;chunk-signature=sig]
    const [sizeHex, ...exts] = text.split(';');
    if (!sizeHex || !/^[0-9a-fA-F]{1,16}$/.test(sizeHex))
      throw new S3Error('IncompleteBody', 'malformed aws-chunked size');
    this.remaining = Number.parseInt(sizeHex, 16);
    this.chunkSig = '';
    for (const e of exts)
      if (e.startsWith('chunk-signature=')) this.chunkSig = e.slice('chunk-signature='.length);
    this.chunkHash = createHash('sha256');
    if (this.remaining === 0) {
      this.verifyChunk();
      this.state = 'trailer';
    } else this.state = 'data';
  }

  private verifyChunk(): void {
    if (!this.signing) return;
    const s = this.signing;
    const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${s.longDate}\n${s.scope}\n${this.prevSig}\n${EMPTY_SHA256}\n${this.chunkHash.digest('hex')}`;
    const expected = hmacHex(s.signingKey, toSign);
    if (expected !== this.chunkSig) {
      throw new S3Error(
        'SignatureDoesNotMatch',
        'The chunk signature we calculated does not match the signature you provided.',
      );
    }
    this.prevSig = expected;
  }

  private finishTrailers(): void {
    const sig = this.trailers.get('x-amz-trailer-signature');
    if (this.signing && sig !== undefined) {
      const lines = [...this.trailers]
        .filter(([k]) => k !== 'x-amz-trailer-signature')
        .map(([k, v]) => `${k}:${v}\n`)
        .join('');
      const toSign = `AWS4-HMAC-SHA256-TRAILER\n${this.signing.longDate}\n${this.signing.scope}\n${this.prevSig}\n${sha256Hex(lines)}`;
      if (hmacHex(this.signing.signingKey, toSign) !== sig) {
        throw new S3Error(
          'SignatureDoesNotMatch',
          'The trailer signature we calculated does not match the signature you provided.',
        );
      }
    }
  }

  /** A trailer's value (lower-case name), once the body has been read to its end. */
  trailer(name: string): string | undefined {
    return this.trailers.get(name);
  }

  override _flush(done: TransformCallback): void {
    if (
      this.state !== 'done' &&
      !(this.state === 'trailer' && this.trailers.size === 0 && this.line.length === 0)
    ) {
      done(new S3Error('IncompleteBody', 'The aws-chunked body ended early'));
      return;
    }
    done();
  }
}
