import { StrataError } from '../core/errors.js';
import { redactUri } from '../core/mounts.js';
import { FILE_SECRET_OPTIONS } from './file/file-secrets.js';
import { HTTP_SECRET_OPTIONS } from './http/http-secrets.js';
import { S3_SECRET_OPTIONS } from './s3/s3-secrets.js';
import type { SecretOptionPolicy } from './secret-options.js';
import type { UnderStore } from './under-store.js';

/**
 * Connectors register by URI scheme; their SDKs are imported lazily so that a process that only
 * mounts local folders never loads the AWS SDK.
 */

export interface UfsOptions {
  /**
   * Per-mount options (`--option key=value`), e.g. s3: endpoint, region, pathStyle ('true'),
   * accessKeyId, secretAccessKey; http: timeoutMs. Secrets here are never logged or echoed.
   */
  readonly [key: string]: string | undefined;
}

type Loader = (uri: URL, options: UfsOptions) => Promise<UnderStore>;

const loaders = new Map<string, Loader>([
  ['file:', async (uri, options) => new (await import('./file/file-store.js')).FileUnderStore(uri, options)],
  ['s3:', async (uri, options) => new (await import('./s3/s3-store.js')).S3UnderStore(uri, options)],
  ['http:', async (uri, options) => new (await import('./http/http-store.js')).HttpUnderStore(uri, options)],
  ['https:', async (uri, options) => new (await import('./http/http-store.js')).HttpUnderStore(uri, options)],
]);

export const SUPPORTED_SCHEMES = [...loaders.keys()].map((s) => s.slice(0, -1));

/** Each connector's declaration of the options that carry credentials (no SDK is loaded for it). */
const SECRET_POLICIES = new Map<string, SecretOptionPolicy>([
  ['file:', FILE_SECRET_OPTIONS],
  ['s3:', S3_SECRET_OPTIONS],
  ['http:', HTTP_SECRET_OPTIONS],
  ['https:', HTTP_SECRET_OPTIONS],
]);

/** The secret-option declaration of the connector a URI names (undefined for an unknown scheme). */
export function secretPolicyOf(uri: string): SecretOptionPolicy | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(uri)?.[1]?.toLowerCase();
  return scheme === undefined ? undefined : SECRET_POLICIES.get(scheme);
}

/**
 * The keys of `options` that hold credentials for the connector of `uri`, sorted: what is masked
 * wherever the mount is shown and sealed at rest. For a URI whose connector is unknown, every
 * option counts as secret.
 */
export function secretOptionsOf(
  uri: string,
  options: Readonly<Record<string, string | undefined>>,
): string[] {
  const policy = secretPolicyOf(uri);
  return Object.keys(options)
    .filter((k) => policy === undefined || policy.isSecret(k, options))
    .sort();
}

/** Parses and checks a store URI without connecting. */
export function parseUfsUri(uri: string): URL {
  // The URL parser resolves "a/../b" silently; a store root given that way is rejected instead.
  const rawPath = uri.replace(/^[a-z0-9+.-]+:\/\/[^/]*/i, '').split(/[?#]/)[0] ?? '';
  if (
    rawPath.split('/').some((s) => ['.', '..', '%2e', '%2e%2e', '.%2e', '%2e.'].includes(s.toLowerCase()))
  ) {
    throw new StrataError('INVALID_URI', `store URI may not contain "." or ".." segments: ${redactUri(uri)}`);
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch (err) {
    throw new StrataError('INVALID_URI', `not a URI: ${redactUri(uri)}`, { cause: err });
  }
  if (!loaders.has(url.protocol)) {
    throw new StrataError(
      'INVALID_URI',
      `unknown store scheme "${url.protocol.slice(0, -1)}" (supported: ${SUPPORTED_SCHEMES.join(', ')})`,
    );
  }
  if (url.search || url.hash)
    throw new StrataError('INVALID_URI', 'store URIs take no query or fragment; use mount options');
  if (url.protocol === 'file:' && (url.host !== '' || !url.pathname.startsWith('/'))) {
    throw new StrataError('INVALID_URI', `file URIs look like file:///absolute/path, got ${redactUri(uri)}`);
  }
  if (url.protocol === 's3:' && !url.host)
    throw new StrataError('INVALID_URI', 's3 URIs look like s3://bucket/prefix');
  if ((url.protocol === 'http:' || url.protocol === 'https:') && !url.host) {
    throw new StrataError('INVALID_URI', 'http URIs need a host');
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.pathname);
  } catch (err) {
    throw new StrataError('INVALID_URI', 'URI path has a bad percent-encoding', { cause: err });
  }
  if (decoded.split('/').some((s) => s === '..' || s === '.') || decoded.includes('\0')) {
    throw new StrataError('INVALID_URI', 'URI path may not contain "..", "." or NUL');
  }
  return url;
}

export async function createUnderStore(uri: string, options: UfsOptions = {}): Promise<UnderStore> {
  const url = parseUfsUri(uri);
  const loader = loaders.get(url.protocol)!;
  return loader(url, options);
}
export { redactUri };
