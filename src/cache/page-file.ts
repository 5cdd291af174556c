/**
 * The on-disk page format: a fixed 32-byte header followed by the payload.
 *
 *   offset size field
 *   0      4    magic 'STPG'
 *   4      1    format version (1)
 *   5      1    checksum algorithm (1 = CRC-32, see checksum.ts)
 *   6      2    flags (u16 LE); bit 0 = sealed (AES-256-GCM, page-seal.ts)
 *   8      4    payload length (u32 LE); of a sealed page, its plaintext length
 *   12     4    payload checksum (u32 LE) of the bytes after the header (a sealed page: its sealed body)
 *   16     6    page index (u48 LE) — catches a file that landed under the wrong name
 *   22     6    zero; of a sealed page, the id of its key (page-seal.ts)
 *   28     4    CRC-32 of bytes 0..27, so a damaged header is told apart from a damaged payload
 *
 * A sealed page's body is IV (12) ‖ ciphertext ‖ tag (16): the file is 28 bytes longer than
 * header + plaintext.
 */
import type { CrcFill, CrcRange } from '../core/io-thread.js';
import { CHECKSUM_CRC32, pageChecksum } from './checksum.js';

export const PAGE_HEADER_BYTES = 32;
export const PAGE_FORMAT_VERSION = 1;
export const PAGE_FLAG_SEALED = 0x1;
const MAGIC = 0x47505453; // 'STPG' read as u32 LE
const KNOWN_FLAGS = PAGE_FLAG_SEALED;
/** IV and tag of a sealed page's body (page-seal.ts SEAL_OVERHEAD_BYTES). */
const SEALED_OVERHEAD = 28;

export interface PageHeader {
  readonly version: number;
  readonly algorithm: number;
  readonly flags: number;
  readonly length: number;
  readonly checksum: number;
  readonly index: number;
}

export function encodePageHeader(index: number, payload: Buffer, flags = 0): Buffer {
  const h = startPageHeader(index, payload.length, flags);
  finishPageHeader(h, payload);
  return h;
}

/**
 * A header without its two checksums: the fields a sealed page's associated data covers are
 * known before its body is (bytes 0..11 and 16..27). `keyId` (sealed pages) goes in 22..27.
 */
export function startPageHeader(index: number, length: number, flags = 0, keyId?: Buffer): Buffer {
  const h = Buffer.alloc(PAGE_HEADER_BYTES);
  h.writeUInt32LE(MAGIC, 0);
  h.writeUInt8(PAGE_FORMAT_VERSION, 4);
  h.writeUInt8(CHECKSUM_CRC32, 5);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(length, 8);
  h.writeUIntLE(index, 16, 6);
  keyId?.copy(h, 22, 0, 6);
  return h;
}

/** Fills in the payload checksum (of `body`, the bytes after the header) and the header CRC. */
export function finishPageHeader(h: Buffer, body: Buffer): void {
  h.writeUInt32LE(pageChecksum(body), 12);
  h.writeUInt32LE(pageChecksum(h.subarray(0, 28)), 28);
}

/**
 * The two checksums of a page file whose header came from startPageHeader, in the order the I/O
 * thread fills them in (the payload's first: the header CRC covers it).
 */
export function pageFileFills(bodyLength: number): CrcFill[] {
  return [
    { from: PAGE_HEADER_BYTES, to: PAGE_HEADER_BYTES + bodyLength, at: 12 },
    { from: 0, to: 28, at: 28 },
  ];
}

/** The ranges whose CRC-32s splitPageFile checks, for a file of `fileLength` bytes: body, header. */
export function pageFileCrcRanges(fileLength: number): CrcRange[] {
  return [
    { from: PAGE_HEADER_BYTES, to: fileLength },
    { from: 0, to: 28 },
  ];
}

/**
 * CRC-32s of a page file computed elsewhere (the I/O thread), as pageFileCrcRanges lists them;
 * `body: 'trusted'`: the payload was verified before and is not checked again.
 */
export interface PageFileCrcs {
  readonly body: number | 'trusted';
  readonly header: number;
}

/** Parses and checks a header; returns why it is bad instead of throwing (a bad page is a miss). */
export function decodePageHeader(buf: Buffer, headerCrc?: number): PageHeader | string {
  if (buf.length < PAGE_HEADER_BYTES) return 'short header';
  if (buf.readUInt32LE(0) !== MAGIC) return 'bad magic';
  if (buf.readUInt32LE(28) !== (headerCrc ?? pageChecksum(buf.subarray(0, 28))))
    return 'header checksum mismatch';
  const version = buf.readUInt8(4);
  if (version !== PAGE_FORMAT_VERSION) return `unknown format version ${version}`;
  const algorithm = buf.readUInt8(5);
  if (algorithm !== CHECKSUM_CRC32) return `unknown checksum algorithm ${algorithm}`;
  const flags = buf.readUInt16LE(6);
  if ((flags & ~KNOWN_FLAGS) !== 0) return `unsupported flags 0x${flags.toString(16)}`;
  return {
    version,
    algorithm,
    flags,
    length: buf.readUInt32LE(8),
    checksum: buf.readUInt32LE(12),
    index: buf.readUIntLE(16, 6),
  };
}

export function isSealedHeader(header: PageHeader): boolean {
  return (header.flags & PAGE_FLAG_SEALED) !== 0;
}

/** A checked page file: its header, and the bytes after it as a view of the file (no copy). */
export interface PageFileParts {
  readonly header: PageHeader;
  readonly body: Buffer;
}

/**
 * Checks a whole page file (header + body: the payload, or a sealed page's sealed body) and
 * returns its parts, or the reason it is bad.
 */
export function splitPageFile(
  file: Buffer,
  expectedIndex: number,
  crcs?: PageFileCrcs,
): PageFileParts | string {
  const header = decodePageHeader(file, crcs?.header);
  if (typeof header === 'string') return header;
  if (header.index !== expectedIndex) return `page index ${header.index} where ${expectedIndex} was expected`;
  const bodyLength = header.length + (isSealedHeader(header) ? SEALED_OVERHEAD : 0);
  if (file.length !== PAGE_HEADER_BYTES + bodyLength) {
    return `length ${file.length - PAGE_HEADER_BYTES} where the header says ${bodyLength}`;
  }
  const body = file.subarray(PAGE_HEADER_BYTES);
  if (crcs?.body !== 'trusted' && (crcs?.body ?? pageChecksum(body)) !== header.checksum)
    return 'payload checksum mismatch';
  return { header, body };
}

/**
 * Checks a plain page file (header + payload) and returns the payload as a view of `file`
 * (no copy), or the reason it is bad. A sealed page is bad here (it needs its key: DiskTier).
 */
export function decodePageFile(file: Buffer, expectedIndex: number): Buffer | string {
  const parts = splitPageFile(file, expectedIndex);
  if (typeof parts === 'string') return parts;
  if (isSealedHeader(parts.header)) return 'sealed page (no disk encryption key configured)';
  return parts.body;
}
