/**
 * Value encodings of the metadata store. A status value is a JSON array of the fixed fields
 * without the path (the key carries it), followed by one object holding every other field of the
 * record as given (etag, cacheId, staging, and whatever FileRecord gains later), so no field is
 * ever dropped silently. About half the bytes of a keyed JSON object.
 */
import { StrataError } from '../core/errors.js';
import type { FileAttrs, FileRecord } from './meta-store.js';

type StatusTuple = [
  type: 'f' | 'd',
  size: number,
  mtimeMs: number,
  fingerprint: string,
  syncedAtMs: number,
  rest?: Record<string, unknown>,
];

export function encodeStatus(r: FileRecord): string {
  const { path: _path, type, size, mtimeMs, fingerprint, syncedAtMs, ...rest } = r;
  const t: StatusTuple = [type === 'directory' ? 'd' : 'f', size, mtimeMs, fingerprint, syncedAtMs];
  for (const [k, v] of Object.entries(rest)) {
    if (v === undefined) continue;
    t[5] ??= {};
    t[5][k] = v;
  }
  return JSON.stringify(t);
}

export function decodeStatus(path: string, value: string): FileRecord {
  const t = parse(value, path) as StatusTuple;
  if (!Array.isArray(t) || t.length < 5) throw corrupt(path);
  const [type, size, mtimeMs, fingerprint, syncedAtMs, rest] = t;
  const base: FileRecord = {
    path,
    type: type === 'd' ? 'directory' : 'file',
    size,
    mtimeMs,
    fingerprint,
    syncedAtMs,
  };
  if (rest === undefined) return base;
  // Assigned, not spread ({ ...rest, ...base }): this runs once per status read (the stat hot
  // path); the fixed fields still win over any of the same name in rest.
  const record: Record<string, unknown> = base as unknown as Record<string, unknown>;
  for (const k in rest) if (!(k in record)) record[k] = rest[k];
  return base;
}

export function encodeAttrs(a: FileAttrs): string {
  return JSON.stringify(a);
}

export function decodeAttrs(path: string, value: string): FileAttrs {
  const a = parse(value, path);
  if (a === null || typeof a !== 'object' || Array.isArray(a)) throw corrupt(path);
  return a as FileAttrs;
}

export function encodeJson(value: unknown): string {
  const s = JSON.stringify(value);
  if (s === undefined) throw new StrataError('INVALID_ARGUMENT', 'journal value is not JSON-serialisable');
  return s;
}

export function parse(value: string, where: string): unknown {
  try {
    return JSON.parse(value);
  } catch (err) {
    throw corrupt(where, err);
  }
}

function corrupt(where: string, cause?: unknown): StrataError {
  return new StrataError('INTERNAL', `corrupt metadata value at ${where}`, {
    cause,
    details: { path: where },
  });
}
