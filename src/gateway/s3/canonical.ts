import type { IncomingMessage } from 'node:http';
import { S3Error } from './errors.js';

/**
 * The SigV4 canonical request's parts built from what arrived on the wire: the path and query
 * as S3 encodes them, and the signed header lines with their values as the client signed them.
 */
const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;
const UNRESERVED_OR_SLASH = /^[A-Za-z0-9\-._~/]*$/;

/** RFC 3986 encoding as SigV4 wants it (unreserved characters kept). */
export function uriEncode(value: string, keepSlash = false): string {
  // Most keys and query values need no encoding at all (hot path: every signed request).
  if ((keepSlash ? UNRESERVED_OR_SLASH : UNRESERVED).test(value)) return value;
  const out = encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return keepSlash ? out.replace(/%2F/g, '/') : out;
}

function safeDecode(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function canonicalPath(rawPath: string): string {
  if (UNRESERVED_OR_SLASH.test(rawPath)) return rawPath;
  return rawPath
    .split('/')
    .map((seg) => uriEncode(safeDecode(seg)))
    .join('/');
}

/** Parses a raw query string into ordered [key, value] pairs, decoded. */
export function parseQuery(rawQuery: string): [string, string][] {
  if (rawQuery === '') return [];
  return rawQuery.split('&').map((part) => {
    const eq = part.indexOf('=');
    return eq < 0 ? [safeDecode(part), ''] : [safeDecode(part.slice(0, eq)), safeDecode(part.slice(eq + 1))];
  });
}

export function canonicalQuery(pairs: [string, string][], skipSignature: boolean): string {
  const encoded: [string, string][] = [];
  for (const [k, v] of pairs) {
    if (skipSignature && k === 'X-Amz-Signature') continue;
    encoded.push([uriEncode(k), uriEncode(v)]);
  }
  encoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  let out = '';
  for (let i = 0; i < encoded.length; i++) out += `${i ? '&' : ''}${encoded[i]![0]}=${encoded[i]![1]}`;
  return out;
}

export function canonicalHeaders(req: IncomingMessage, signed: string[]): string {
  return signed
    .map((name) => {
      const values = req.headersDistinct[name];
      if (values === undefined) {
        throw new S3Error('SignatureDoesNotMatch', `signed header ${name} is missing from the request`);
      }
      return `${name}:${values.map((v) => sentText(v).trim().replace(/\s+/g, ' ')).join(',')}\n`;
    })
    .join('');
}

const NON_ASCII = /[\u0080-\uffff]/;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A header value as the client signed it. Node decodes header bytes as latin1, one char per
 * byte; the canonical request is hashed as UTF-8. A client that sent UTF-8 bytes (botocore, Go,
 * curl) signed those bytes, so valid UTF-8 is decoded back to the text it encodes; bytes that are
 * not UTF-8 (Node's http client writes 'é' as one byte 0xE9) were signed as the code points, which
 * the latin1 string already is.
 */
export function sentText(value: string): string {
  if (!NON_ASCII.test(value)) return value;
  try {
    return STRICT_UTF8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
}
