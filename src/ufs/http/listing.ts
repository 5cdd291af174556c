import { Parser } from 'htmlparser2';
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

/**
 * Direct children of `listingUrl` linked from an HTML page. A link counts when it resolves to
 * the same origin and to exactly one segment below the listing; a trailing slash marks a
 * directory. Sort links, parent links and anything elsewhere are ignored.
 *
 * The page is read by htmlparser2's tokenizer, not by regular expressions: attributes come in
 * any order and quoting, every HTML entity is decoded, and links inside comments, scripts,
 * styles or text areas are not links. Links resolve against the page's `<base href>` if it has
 * one (the first, as browsers do), so a page whose links point into another folder lists nothing.
 */
export function parseHtmlListing(html: string, listingUrl: string): ListedEntry[] {
  const listing = new URL(listingUrl);
  let base: string | undefined;
  const hrefs: string[] = [];
  const parser = new Parser({
    onopentag(tag, attributes) {
      const href = attributes.href;
      if (href === undefined) return;
      if (tag === 'a') hrefs.push(href);
      else if (tag === 'base') base ??= href;
    },
  });
  parser.end(html);

  let resolveAgainst = listing;
  if (base !== undefined) {
    try {
      resolveAgainst = new URL(base, listing);
    } catch {
      // An unusable <base> is ignored, as browsers do.
    }
  }
  const seen = new Map<string, ListedEntry>();
  for (const href of hrefs) {
    const raw = href.trim();
    if (raw === '' || raw.startsWith('?') || raw.startsWith('#')) continue;
    let target: URL;
    try {
      target = new URL(raw, resolveAgainst);
    } catch {
      continue;
    }
    if (
      target.origin !== listing.origin ||
      target.search !== '' ||
      !target.pathname.startsWith(listing.pathname)
    )
      continue;
    let rest = target.pathname.slice(listing.pathname.length);
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
