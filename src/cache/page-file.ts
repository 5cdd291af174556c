/**
 * The on-disk page format: a fixed 32-byte header followed by the payload.
 *
 *   offset size field
 *   0      4    magic 'STPG'
 *   4      1    format version (1)
 *   5      1    checksum algorithm (1 = CRC-32, see checksum.ts)
 *   6      2    flags (u16 LE); bit 0 = sealed (AES-GCM, reserved: v1 writes 0 and rejects it)
 *   8      4    payload length (u32 LE)
 *   12     4    payload checksum (u32 LE)
 *   16     6    page index (u48 LE) — catches a file that landed under the wrong name
 *   22     6    reserved, zero
 *   28     4    CRC-32 of bytes 0..27, so a damaged header is told apart from a damaged payload
 */
import { CHECKSUM_CRC32, pageChecksum } from './checksum.js';

export const PAGE_HEADER_BYTES = 32;
export const PAGE_FORMAT_VERSION = 1;
export const PAGE_FLAG_SEALED = 0x1;
const MAGIC = 0x47505453; // 'STPG' read as u32 LE
const KNOWN_FLAGS = 0; // v1 understands no flag yet

export interface PageHeader {
  readonly version: number;
  readonly algorithm: number;
  readonly flags: number;
  readonly length: number;
  readonly checksum: number;
  readonly index: number;
}

export function encodePageHeader(index: number, payload: Buffer, flags = 0): Buffer {
  const h = Buffer.alloc(PAGE_HEADER_BYTES);
  h.writeUInt32LE(MAGIC, 0);
  h.writeUInt8(PAGE_FORMAT_VERSION, 4);
  h.writeUInt8(CHECKSUM_CRC32, 5);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(payload.length, 8);
  h.writeUInt32LE(pageChecksum(payload), 12);
  h.writeUIntLE(index, 16, 6);
  h.writeUInt32LE(pageChecksum(h.subarray(0, 28)), 28);
  return h;
}

/** Parses and checks a header; returns why it is bad instead of throwing (a bad page is a miss). */
export function decodePageHeader(buf: Buffer): PageHeader | string {
  if (buf.length < PAGE_HEADER_BYTES) return 'short header';
  if (buf.readUInt32LE(0) !== MAGIC) return 'bad magic';
  if (buf.readUInt32LE(28) !== pageChecksum(buf.subarray(0, 28))) return 'header checksum mismatch';
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

/**
 * Checks a whole page file (header + payload) and returns the payload as a view of `file`
 * (no copy), or the reason it is bad.
 */
export function decodePageFile(file: Buffer, expectedIndex: number): Buffer | string {
  const header = decodePageHeader(file);
  if (typeof header === 'string') return header;
  if (header.index !== expectedIndex) return `page index ${header.index} where ${expectedIndex} was expected`;
  if (file.length !== PAGE_HEADER_BYTES + header.length) {
    return `length ${file.length - PAGE_HEADER_BYTES} where the header says ${header.length}`;
  }
  const payload = file.subarray(PAGE_HEADER_BYTES);
  if (pageChecksum(payload) !== header.checksum) return 'payload checksum mismatch';
  return payload;
}
