// Kept hand-written (docs/libraries.md): `bytes` reads "64MiB" as 64 and "1g" as 1; `ms` covers durations only and returns undefined on bad input.
import { StrataError } from './errors.js';

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/** "64MiB", "1g", "4096" → bytes (binary units, as Alluxio's sizes). */
export function parseSize(text: string | number, what = 'size'): number {
  if (typeof text === 'number') return text;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m?.[2]?.toLowerCase() ?? '';
  if (!m || !(unit in SIZE_UNITS)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `${what}: cannot parse "${text}" (examples: 4096, 64MiB, 2GiB)`,
    );
  }
  return Math.floor(Number(m[1]) * (SIZE_UNITS[unit] ?? 1));
}

/**
 * "20MiB/s", "100MB/s", "1.5GiB/s", "4096" → bytes per second (the units of parseSize: binary,
 * so 1MB = 1MiB = 1,048,576). "/s" may be left out; 0 means unlimited.
 */
export function parseRate(text: string | number, what = 'rate'): number {
  const bad = () =>
    new StrataError(
      'INVALID_ARGUMENT',
      `${what}: cannot parse "${text}" (examples: 20MiB/s, 100MB/s, 1.5GiB/s, 1048576; 0 = unlimited)`,
    );
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw bad();
    return Math.floor(text);
  }
  const m = /^\s*(.*?)\s*(?:\/\s*s(?:ec)?)?\s*$/i.exec(text);
  const size = m?.[1] ?? '';
  if (size === '') throw bad();
  let bytes: number;
  try {
    bytes = parseSize(size, what);
  } catch {
    throw bad();
  }
  if (!Number.isSafeInteger(bytes)) throw bad();
  return bytes;
}

const DURATION_UNITS: Record<string, number> = {
  '': 1,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** "250", "250ms", "30s", "10m", "2h", "1d" → ms. */
export function parseDuration(text: string | number, what = 'duration'): number {
  if (typeof text === 'number') return text;
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m?.[2]?.toLowerCase() ?? '';
  if (!m || !(unit in DURATION_UNITS)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `${what}: cannot parse "${text}" (examples: 500ms, 30s, 10m, 2h, 1d)`,
    );
  }
  return Math.round(Number(m[1]) * (DURATION_UNITS[unit] ?? 1));
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v}B` : `${v.toFixed(1)}${units[i]}`;
}
