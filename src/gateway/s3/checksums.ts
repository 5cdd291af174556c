import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { S3Error } from './errors.js';

/**
 * S3 "additional checksums": CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256, each sent and answered as
 * base64 of the big-endian digest. One streaming hasher interface for all five; CRC32 comes from
 * node:zlib, the SHAs from node:crypto, CRC32C and CRC64NVME are table-driven (slicing-by-8) here:
 * over twice the speed of @aws-sdk/checksums' JS ones (figures in docs/s3-gateway.md,
 * bench/s3-codecs.ts), with a synchronous digest.
 */

export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];
export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT';

/** Digest length in bytes of each algorithm. */
export const DIGEST_BYTES: Readonly<Record<ChecksumAlgorithm, number>> = {
  crc32: 4,
  crc32c: 4,
  crc64nvme: 8,
  sha1: 20,
  sha256: 32,
};

/** The name S3 uses in messages and XML elements (ChecksumCRC32, "The CRC32 you specified…"). */
export const ALGORITHM_NAMES: Readonly<Record<ChecksumAlgorithm, string>> = {
  crc32: 'CRC32',
  crc32c: 'CRC32C',
  crc64nvme: 'CRC64NVME',
  sha1: 'SHA1',
  sha256: 'SHA256',
};

export interface Hasher {
  update(chunk: Uint8Array): void;
  /** The big-endian digest; the hasher is spent afterwards. */
  digest(): Buffer;
}

export function parseAlgorithm(value: string | undefined): ChecksumAlgorithm | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(v) ? (v as ChecksumAlgorithm) : undefined;
}

export function newHasher(alg: ChecksumAlgorithm): Hasher {
  switch (alg) {
    case 'crc32':
      return new Crc32Hasher();
    case 'crc32c':
      return new Crc32cHasher();
    case 'crc64nvme':
      return new Crc64NvmeHasher();
    case 'sha1':
    case 'sha256':
      return createHash(alg);
  }
}

/** base64 of `alg` over `data` in one call. */
export function checksumOf(alg: ChecksumAlgorithm, data: Uint8Array): string {
  const h = newHasher(alg);
  h.update(data);
  return h.digest().toString('base64');
}

/** Whether `value` is a well-formed base64 digest for `alg` (S3 answers 400 InvalidRequest otherwise). */
export function validChecksumValue(alg: ChecksumAlgorithm, value: string): boolean {
  return (
    /^[A-Za-z0-9+/]+={0,2}$/.test(value) &&
    value.length % 4 === 0 &&
    Buffer.from(value, 'base64').length === DIGEST_BYTES[alg]
  );
}

/**
 * The checksum of a multipart object: COMPOSITE is the algorithm over the concatenated raw part
 * digests, base64, with "-N" (N parts).
 */
export function compositeChecksum(alg: ChecksumAlgorithm, partChecksums: readonly string[]): string {
  const h = newHasher(alg);
  for (const c of partChecksums) h.update(Buffer.from(c, 'base64'));
  return `${h.digest().toString('base64')}-${partChecksums.length}`;
}

class Crc32Hasher implements Hasher {
  private crc = 0;
  update(chunk: Uint8Array): void {
    this.crc = crc32(chunk, this.crc);
  }
  digest(): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(this.crc >>> 0);
    return b;
  }
}

/** Reflected CRC-32C (Castagnoli, 0x82F63B78), slicing-by-8: eight 256-entry tables. */
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) {
      const prev = t[(s - 1) * 256 + i]!;
      t[s * 256 + i] = ((prev >>> 8) ^ t[prev & 0xff]!) >>> 0;
    }
  }
  return t;
})();

export function crc32c(data: Uint8Array, previous = 0): number {
  const t = CRC32C_TABLE;
  let crc = ~previous >>> 0;
  let i = 0;
  const n = data.length;
  const end8 = n - (n % 8);
  for (; i < end8; i += 8) {
    const lo = (crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    crc =
      t[7 * 256 + (lo & 0xff)]! ^
      t[6 * 256 + ((lo >>> 8) & 0xff)]! ^
      t[5 * 256 + ((lo >>> 16) & 0xff)]! ^
      t[4 * 256 + (lo >>> 24)]! ^
      t[3 * 256 + data[i + 4]!]! ^
      t[2 * 256 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
  }
  for (; i < n; i++) crc = (crc >>> 8) ^ t[(crc ^ data[i]!) & 0xff]!;
  return ~crc >>> 0;
}

class Crc32cHasher implements Hasher {
  private crc = 0;
  update(chunk: Uint8Array): void {
    this.crc = crc32c(chunk, this.crc);
  }
  digest(): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(this.crc);
    return b;
  }
}

/**
 * Reflected CRC-64/NVME (poly 0x9A6C9329AC4BC9B5, init and final xor all ones) on 32-bit halves
 * (no BigInt on the byte path), slicing-by-8: tables of low and high words.
 */
const CRC64_LO = new Uint32Array(8 * 256);
const CRC64_HI = new Uint32Array(8 * 256);
(() => {
  const polyLo = 0xac4bc9b5;
  const polyHi = 0x9a6c9329;
  for (let i = 0; i < 256; i++) {
    let lo = i;
    let hi = 0;
    for (let k = 0; k < 8; k++) {
      const bit = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (bit) {
        lo = (lo ^ polyLo) >>> 0;
        hi = (hi ^ polyHi) >>> 0;
      }
    }
    CRC64_LO[i] = lo;
    CRC64_HI[i] = hi;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) {
      const pLo = CRC64_LO[(s - 1) * 256 + i]!;
      const pHi = CRC64_HI[(s - 1) * 256 + i]!;
      const idx = pLo & 0xff;
      CRC64_LO[s * 256 + i] = (((pLo >>> 8) | (pHi << 24)) ^ CRC64_LO[idx]!) >>> 0;
      CRC64_HI[s * 256 + i] = ((pHi >>> 8) ^ CRC64_HI[idx]!) >>> 0;
    }
  }
})();

class Crc64NvmeHasher implements Hasher {
  // The register, already inverted (init all ones).
  private lo = 0xffffffff;
  private hi = 0xffffffff;

  update(data: Uint8Array): void {
    const tl = CRC64_LO;
    const th = CRC64_HI;
    let lo = this.lo;
    let hi = this.hi;
    let i = 0;
    const n = data.length;
    const end8 = n - (n % 8);
    for (; i < end8; i += 8) {
      const a = (lo ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
      const b =
        (hi ^ (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24))) >>> 0;
      const i7 = 7 * 256 + (a & 0xff);
      const i6 = 6 * 256 + ((a >>> 8) & 0xff);
      const i5 = 5 * 256 + ((a >>> 16) & 0xff);
      const i4 = 4 * 256 + (a >>> 24);
      const i3 = 3 * 256 + (b & 0xff);
      const i2 = 2 * 256 + ((b >>> 8) & 0xff);
      const i1 = 256 + ((b >>> 16) & 0xff);
      const i0 = b >>> 24;
      lo = (tl[i7]! ^ tl[i6]! ^ tl[i5]! ^ tl[i4]! ^ tl[i3]! ^ tl[i2]! ^ tl[i1]! ^ tl[i0]!) >>> 0;
      hi = (th[i7]! ^ th[i6]! ^ th[i5]! ^ th[i4]! ^ th[i3]! ^ th[i2]! ^ th[i1]! ^ th[i0]!) >>> 0;
    }
    for (; i < n; i++) {
      const idx = (lo ^ data[i]!) & 0xff;
      lo = (((lo >>> 8) | (hi << 24)) ^ tl[idx]!) >>> 0;
      hi = ((hi >>> 8) ^ th[idx]!) >>> 0;
    }
    this.lo = lo;
    this.hi = hi;
  }

  digest(): Buffer {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(~this.hi >>> 0, 0);
    b.writeUInt32BE(~this.lo >>> 0, 4);
    return b;
  }
}

/** One `x-amz-checksum-<alg>` value a request declares (header), or only its algorithm (trailer). */
export interface RequestChecksum {
  readonly alg: ChecksumAlgorithm;
  /** From the header; undefined when it comes in a trailer (or the server computes it). */
  readonly value?: string;
  /** Sent as an aws-chunked trailer. */
  readonly trailer?: boolean;
}

function invalidHeader(name: string): S3Error {
  return new S3Error('InvalidRequest', `Value for ${name} header is invalid.`);
}

/**
 * The checksum a PutObject/UploadPart request carries: one `x-amz-checksum-<alg>` header, or an
 * `x-amz-trailer: x-amz-checksum-<alg>`, consistent with `x-amz-sdk-checksum-algorithm` when
 * that is sent too. Malformed values, several algorithms or an inconsistent declaration are
 * 400 InvalidRequest, as S3 answers.
 */
export function requestChecksum(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): RequestChecksum | undefined {
  const get = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
  let found: RequestChecksum | undefined;
  for (const alg of CHECKSUM_ALGORITHMS) {
    const name = `x-amz-checksum-${alg}`;
    const value = get(name);
    if (value === undefined) continue;
    if (found)
      throw new S3Error(
        'InvalidRequest',
        'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
      );
    if (!validChecksumValue(alg, value.trim())) throw invalidHeader(name);
    found = { alg, value: value.trim() };
  }
  const trailer = get('x-amz-trailer');
  if (trailer !== undefined) {
    const names = trailer
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s.startsWith('x-amz-checksum-'));
    if (names.length > 1 || (names.length === 1 && found))
      throw new S3Error(
        'InvalidRequest',
        'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
      );
    if (names.length === 1) {
      const alg = parseAlgorithm(names[0]!.slice('x-amz-checksum-'.length));
      if (!alg) throw invalidHeader('x-amz-trailer');
      found = { alg, trailer: true };
    }
  }
  const sdk = get('x-amz-sdk-checksum-algorithm');
  if (sdk !== undefined) {
    const alg = parseAlgorithm(sdk);
    if (!alg) throw invalidHeader('x-amz-sdk-checksum-algorithm');
    if (!found)
      throw new S3Error(
        'InvalidRequest',
        'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.',
      );
    if (found.alg !== alg) throw invalidHeader('x-amz-sdk-checksum-algorithm');
  }
  return found;
}

export function badDigest(alg: ChecksumAlgorithm): S3Error {
  return new S3Error(
    'BadDigest',
    `The ${ALGORITHM_NAMES[alg]} you specified did not match the calculated checksum.`,
  );
}
