import { StrataError } from './errors.js';

/** Limits follow Linux: a segment is at most 255 bytes, a whole path at most 4,096. */
export const MAX_SEGMENT_BYTES = 255;
export const MAX_PATH_BYTES = 4096;

/**
 * Normalises a namespace path once, at the edge. The result is absolute, has no trailing slash
 * (except the root "/") and no empty, "." or ".." segments — those are rejected rather than
 * resolved, so no path can climb out of a mount or a store's root. One trailing slash is
 * tolerated because users type `ls /data/`.
 */
export function normalizePath(input: string): string {
  // Most inputs are already normal (clients send normalised paths): one scan, no allocation.
  if (isNormalAscii(input)) return input;
  // Hot paths normalise the same few paths again and again (every layer of a request does): a
  // valid input is remembered with its result; anything invalid is checked (and refused) each time.
  const known = normalized.get(input);
  if (known !== undefined) return known;
  const result = checkAndNormalize(input);
  if (input.length <= MAX_REMEMBERED_LENGTH) {
    if (normalized.size >= MAX_REMEMBERED_PATHS) normalized.clear();
    normalized.set(input, result);
  }
  return result;
}

const normalized = new Map<string, string>();
/** Bounds the memo to a few MB whatever the paths: 4,096 entries of at most 512 characters. */
const MAX_REMEMBERED_PATHS = 4096;
const MAX_REMEMBERED_LENGTH = 512;

/**
 * Whether input is already what checkAndNormalize returns, judged in one pass over an ASCII path
 * (so bytes = characters): absolute, no NUL, no empty, "." or ".." segment, no trailing slash,
 * segments within MAX_SEGMENT_BYTES. Anything else (the root too) takes the full check.
 */
function isNormalAscii(input: string): boolean {
  if (typeof input !== 'string') return false;
  const n = input.length;
  if (n < 2 || n > MAX_PATH_BYTES || input.charCodeAt(0) !== 47) return false;
  let start = 1;
  for (let i = 1; i <= n; i++) {
    const c = i === n ? 47 : input.charCodeAt(i);
    if (c === 47) {
      const len = i - start;
      if (len === 0 || len > MAX_SEGMENT_BYTES) return false;
      if (input.charCodeAt(start) === 46 && (len === 1 || (len === 2 && input.charCodeAt(start + 1) === 46)))
        return false;
      start = i + 1;
    } else if (c === 0 || c > 127) return false;
  }
  return true;
}

function checkAndNormalize(input: string): string {
  if (typeof input !== 'string' || input.length === 0) {
    throw new StrataError('INVALID_PATH', 'path is empty', { details: { path: input } });
  }
  if (input.includes('\0'))
    throw new StrataError('INVALID_PATH', 'path contains a NUL byte', { details: { path: input } });
  if (!input.startsWith('/')) {
    throw new StrataError('INVALID_PATH', `path must be absolute: ${input}`, { details: { path: input } });
  }
  if (Buffer.byteLength(input) > MAX_PATH_BYTES) {
    throw new StrataError('NAME_TOO_LONG', `path is longer than ${MAX_PATH_BYTES} bytes`, {
      details: { path: input },
    });
  }
  if (input === '/') return '/';
  const body = input.endsWith('/') ? input.slice(1, -1) : input.slice(1);
  const segments = body.split('/');
  for (const segment of segments) {
    if (segment === '')
      throw new StrataError('INVALID_PATH', `path has an empty segment: ${input}`, {
        details: { path: input },
      });
    if (segment === '.' || segment === '..') {
      throw new StrataError('INVALID_PATH', `path may not contain "${segment}": ${input}`, {
        details: { path: input },
      });
    }
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      throw new StrataError('NAME_TOO_LONG', `path segment longer than ${MAX_SEGMENT_BYTES} bytes`, {
        details: { path: input },
      });
    }
  }
  return `/${segments.join('/')}`;
}

/** Parent of a normalised path; the root's parent is the root. */
export function parentOf(path: string): string {
  if (path === '/') return '/';
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** Last segment of a normalised path; "" for the root. */
export function baseName(path: string): string {
  return path === '/' ? '' : path.slice(path.lastIndexOf('/') + 1);
}

/** Joins a normalised directory and one child name (validated). */
export function joinPath(dir: string, name: string): string {
  return normalizePath(dir === '/' ? `/${name}` : `${dir}/${name}`);
}

/** True when `path` equals `ancestor` or lies below it. Both must be normalised. */
export function isWithin(path: string, ancestor: string): boolean {
  if (ancestor === '/') return true;
  return path === ancestor || path.startsWith(`${ancestor}/`);
}

/** `path` relative to `ancestor`, as an absolute path ("/" when equal). */
export function relativeTo(path: string, ancestor: string): string {
  if (ancestor === '/') return path;
  if (path === ancestor) return '/';
  return path.slice(ancestor.length);
}
