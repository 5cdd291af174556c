/**
 * Page checksum: CRC-32 (ISO-HDLC, the zlib/gzip polynomial) computed natively by `zlib.crc32`.
 *
 * Measured on this machine (AMD EPYC, 2 cores, Node 20.20, one 1 MiB random page, mean of 200 runs,
 * two runs each; tmp script `cks.mjs`, figures in ms per MiB):
 *   zlib.crc32            0.35–0.38 ms   2.6–2.8 GiB/s   <- chosen
 *   crypto sha1           0.58–0.59 ms   1.7 GiB/s
 *   crypto sha256         0.62–0.63 ms   1.6 GiB/s       (SHA-NI)
 *   crypto md5            1.53–1.65 ms   0.6 GiB/s
 *   crypto blake2b512     1.49–1.59 ms   0.6 GiB/s
 *   crypto sha512-256     1.90–1.99 ms   0.5 GiB/s
 *   pure-JS CRC32C (table) 2.53 ms       0.4 GiB/s
 * Why CRC-32: it guards against media and software corruption (it detects every burst of up to 32
 * bits and all odd-bit errors; a random corruption slips through with probability 2^-32), not
 * against an attacker — tampering is the sealed (AES-GCM) tier's job. It is the fastest option
 * and needs no dependency. The header records the algorithm id so it can change later.
 */
import { crc32 } from 'node:zlib';

/** Algorithm id stored in the page header. */
export const CHECKSUM_CRC32 = 1;

/** CRC-32 of the bytes, as an unsigned 32-bit integer. */
export function pageChecksum(data: NodeJS.ArrayBufferView): number {
  return crc32(data) >>> 0;
}
