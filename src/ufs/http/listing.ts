import { StrataError } from '../../core/errors.js';
import type { EntryType } from '../under-store.js';

/**
 * Parsers for directory listings served over HTTP: nginx `autoindex_format json`, and as a
 * fallback any HTML index (nginx, Apache, python -m http.server) read from its links.
 */

export interface ListedEntry {
  readonly name: string;
  readonly type: EntryType;
  /** Known from JSON listings; HTML listings leave these out. */
  readonly size?: number;
  readonly mtimeMs?: number;
}

function usableName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

/** nginx: `[{ "name", "type": "file"|"directory"|"other", "mtime": RFC 1123, "size" }]`. */
export function parseJsonListing(text: string, path: string): ListedEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new StrataError('UFS_UNAVAILABLE', `listing of ${path} is not valid JSON`, {
      cause: err,
      details: { path },
    });
  }
  if (!Array.isArray(data)) {
    throw new StrataError('UNSUPPORTED', `listing of ${path} is JSON but not an nginx autoindex array`, {
      details: { path },
    });
  }
  const out: ListedEntry[] = [];
  for (const item of data as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const { name, type, mtime, size } = item as Record<string, unknown>;
    if (typeof name !== 'string' || !usableName(name)) continue;
    if (type !== 'file' && type !== 'directory') continue; // "other": sockets, devices
    const mtimeMs = typeof mtime === 'string' ? Date.parse(mtime) : Number.NaN;
    out.push({
      name,
      type,
      size: type === 'file' && typeof size === 'number' ? size : 0,
      mtimeMs: Number.isFinite(mtimeMs) ? mtimeMs : 0,
    });
  }
  return out;
}

const HREF = /<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi;

/**
 * Direct children of `listingUrl` linked from an HTML page. A link counts when it resolves to
 * the same origin and to exactly one segment below the listing; a trailing slash marks a
 * directory. Sort links, parent links and anything elsewhere are ignored.
 */
export function parseHtmlListing(html: string, listingUrl: string): ListedEntry[] {
  const base = new URL(listingUrl);
  const seen = new Map<string, ListedEntry>();
  for (const m of html.matchAll(HREF)) {
    const raw = decodeEntities(m[1] ?? m[2] ?? m[3] ?? '');
    if (raw === '' || raw.startsWith('?') || raw.startsWith('#')) continue;
    let target: URL;
    try {
      target = new URL(raw, base);
    } catch {
      continue;
    }
    if (target.origin !== base.origin || target.search !== '' || !target.pathname.startsWith(base.pathname))
      continue;
    let rest = target.pathname.slice(base.pathname.length);
    const isDir = rest.endsWith('/');
    if (isDir) rest = rest.slice(0, -1);
    if (rest === '' || rest.includes('/')) continue;
    let name: string;
    try {
      name = decodeURIComponent(rest);
    } catch {
      continue;
    }
    if (usableName(name) && !seen.has(name)) seen.set(name, { name, type: isDir ? 'directory' : 'file' });
  }
  return [...seen.values()];
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (whole, e: string) => {
    const lower = e.toLowerCase();
    if (lower === 'amp') return '&';
    if (lower === 'lt') return '<';
    if (lower === 'gt') return '>';
    if (lower === 'quot') return '"';
    if (lower === 'apos') return "'";
    const cp = lower.startsWith('#x')
      ? Number.parseInt(lower.slice(2), 16)
      : Number.parseInt(lower.slice(1), 10);
    return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : whole;
  });
}
