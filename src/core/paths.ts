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
