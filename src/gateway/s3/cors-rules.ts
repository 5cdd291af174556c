import type { StoredCorsRule } from '../../client/s3-settings.js';
import { S3Error } from './errors.js';
import { children, esc, parseXml, RawXml, toXml, type XmlElement } from './xml.js';

/**
 * A bucket's CORS configuration as S3 defines it: the CORSConfiguration document (parsed and
 * validated as S3 validates it, and written back), and which rule answers a browser's request.
 * Pure functions: cors.ts applies them to requests.
 */

export type CorsRule = StoredCorsRule;

/** The methods a CORS rule may allow (S3 refuses any other). */
export const CORS_METHODS: ReadonlySet<string> = new Set(['GET', 'PUT', 'HEAD', 'POST', 'DELETE']);
/** S3's limits: 100 rules per bucket, a 64 KiB document, 255-character rule ids. */
export const MAX_CORS_RULES = 100;
export const MAX_CORS_BYTES = 64 * 1024;
const MAX_ID_LENGTH = 255;

const RULE_FIELDS = new Set([
  'ID',
  'AllowedOrigin',
  'AllowedMethod',
  'AllowedHeader',
  'ExposeHeader',
  'MaxAgeSeconds',
]);

function malformedXml(): S3Error {
  return new S3Error(
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
  );
}

function wildcards(value: string): number {
  return value.split('*').length - 1;
}

function texts(rule: XmlElement, name: string): string[] {
  return children(rule, name).map((c) => c.text.trim());
}

function parseRule(el: XmlElement): CorsRule {
  for (const c of el.children) if (!RULE_FIELDS.has(c.name)) throw malformedXml();
  const allowedOrigins = texts(el, 'AllowedOrigin');
  const allowedMethods = texts(el, 'AllowedMethod');
  const allowedHeaders = texts(el, 'AllowedHeader');
  const exposeHeaders = texts(el, 'ExposeHeader');
  const ids = texts(el, 'ID');
  const ages = texts(el, 'MaxAgeSeconds');
  if (allowedOrigins.length === 0 || allowedMethods.length === 0 || ids.length > 1 || ages.length > 1)
    throw malformedXml();
  for (const m of allowedMethods)
    if (!CORS_METHODS.has(m))
      throw new S3Error(
        'InvalidRequest',
        `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`,
      );
  for (const o of allowedOrigins)
    if (wildcards(o) > 1)
      throw new S3Error('InvalidRequest', `AllowedOrigin "${o}" can not have more than one wildcard.`);
  for (const h of allowedHeaders)
    if (wildcards(h) > 1)
      throw new S3Error('InvalidRequest', `AllowedHeader "${h}" can not have more than one wildcard.`);
  for (const h of exposeHeaders)
    if (h.includes('*'))
      throw new S3Error(
        'InvalidRequest',
        `ExposeHeader "${h}" contains wildcard. We currently do not support wildcard for ExposeHeader.`,
      );
  const id = ids[0];
  if (id !== undefined && id.length > MAX_ID_LENGTH)
    throw new S3Error('InvalidRequest', `The ID of a CORS rule must be at most ${MAX_ID_LENGTH} characters`);
  let maxAgeSeconds: number | undefined;
  if (ages[0] !== undefined) {
    if (!/^-?\d+$/.test(ages[0])) throw malformedXml();
    maxAgeSeconds = Number(ages[0]);
    if (!Number.isSafeInteger(maxAgeSeconds)) throw malformedXml();
  }
  return {
    ...(id !== undefined && id !== '' ? { id } : {}),
    allowedOrigins,
    allowedMethods,
    allowedHeaders,
    exposeHeaders,
    ...(maxAgeSeconds !== undefined ? { maxAgeSeconds } : {}),
  };
}

/** A PutBucketCors body → its rules (MalformedXML / InvalidRequest as S3 answers them). */
export function parseCorsConfiguration(text: string): CorsRule[] {
  const doc = parseXml(text);
  if (doc.name !== 'CORSConfiguration') throw malformedXml();
  for (const c of doc.children) if (c.name !== 'CORSRule') throw malformedXml();
  const rules = children(doc, 'CORSRule');
  if (rules.length === 0) throw malformedXml();
  if (rules.length > MAX_CORS_RULES)
    throw new S3Error(
      'InvalidRequest',
      `The number of CORS rules should not exceed allowed limit of ${MAX_CORS_RULES} rules.`,
    );
  return rules.map(parseRule);
}

/** GetBucketCors's answer. */
export function corsConfigurationXml(rules: readonly CorsRule[]): string {
  const el = (name: string, values: readonly (string | number | undefined)[]) =>
    values.map((v) => (v === undefined ? '' : `<${name}>${esc(v)}</${name}>`)).join('');
  const xml = rules
    .map(
      (r) =>
        `<CORSRule>${el('ID', [r.id])}${el('AllowedHeader', r.allowedHeaders)}${el('AllowedMethod', r.allowedMethods)}${el('AllowedOrigin', r.allowedOrigins)}${el('ExposeHeader', r.exposeHeaders)}${el('MaxAgeSeconds', [r.maxAgeSeconds])}</CORSRule>`,
    )
    .join('');
  return toXml('CORSConfiguration', { CORSRule: new RawXml(xml) });
}

/** `pattern` with at most one `*` (any run of characters, also none) against `value`. */
export function wildcardMatch(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star < 0) return pattern === value;
  const prefix = pattern.slice(0, star);
  const suffix = pattern.slice(star + 1);
  return value.length >= prefix.length + suffix.length && value.startsWith(prefix) && value.endsWith(suffix);
}

/** What a browser asks: its origin, the method, and (preflight) the headers it means to send. */
export interface CorsAsk {
  readonly origin: string;
  readonly method: string;
  /** Access-Control-Request-Headers, lower case; undefined for an actual (not preflight) request. */
  readonly headers?: readonly string[];
  /** The request is signed (Authorization or a presigned URL): a "*" rule answers the origin itself. */
  readonly credentialed?: boolean;
}

export interface CorsMatch {
  readonly rule: CorsRule;
  /** The AllowedOrigin that matched ("*" answers "*", anything else the origin itself). */
  readonly allowedOrigin: string;
}

/**
 * The first rule that allows the request, as S3 picks it: the origin matches one of its
 * AllowedOrigin, the method is one of its AllowedMethod, and (preflight) every requested header
 * matches one of its AllowedHeader (case-insensitive).
 */
export function matchCors(rules: readonly CorsRule[], ask: CorsAsk): CorsMatch | undefined {
  for (const rule of rules) {
    const allowedOrigin = rule.allowedOrigins.find((o) => wildcardMatch(o, ask.origin));
    if (allowedOrigin === undefined || !rule.allowedMethods.includes(ask.method)) continue;
    const patterns = rule.allowedHeaders.map((h) => h.toLowerCase());
    if (ask.headers?.some((h) => !patterns.some((p) => wildcardMatch(p, h)))) continue;
    return { rule, allowedOrigin };
  }
  return undefined;
}

/** S3 varies every answer of a bucket with CORS rules on these request headers. */
export const CORS_VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

/** The Access-Control-* headers of an answer to a matched request (name, value pairs). */
export function corsHeaders(m: CorsMatch, ask: CorsAsk): [string, string][] {
  const out: [string, string][] = [];
  // "*" cannot answer a request with credentials (the Fetch standard): S3 then names the origin.
  const any = m.allowedOrigin === '*' && ask.credentialed !== true;
  out.push(['access-control-allow-origin', any ? '*' : ask.origin]);
  out.push(['access-control-allow-methods', m.rule.allowedMethods.join(', ')]);
  // A specific origin may send credentials (cookies, auth); "*" may not, as the Fetch standard says.
  if (!any) out.push(['access-control-allow-credentials', 'true']);
  if (ask.headers !== undefined && ask.headers.length > 0)
    out.push(['access-control-allow-headers', ask.headers.join(', ')]);
  if (m.rule.exposeHeaders.length > 0)
    out.push(['access-control-expose-headers', m.rule.exposeHeaders.join(', ')]);
  if (m.rule.maxAgeSeconds !== undefined) out.push(['access-control-max-age', String(m.rule.maxAgeSeconds)]);
  out.push(['vary', CORS_VARY]);
  return out;
}

/** Access-Control-Request-Headers → lower-case names ("" and stray commas dropped). */
export function requestedHeaders(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
}
