import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { StrataError } from './errors.js';
import { type LogLevel, parseLogLevel } from './log.js';
import { hasUserInfo, redactUri } from './mounts.js';
import { parseDuration, parseSize } from './units.js';

/**
 * Configuration of a Strata process: defaults, then a YAML file (`--config` or STRATA_CONFIG),
 * then environment variables STRATA_*, then flags. Every option documents its default here;
 * docs/configuration.md lists them for users.
 */
export interface ServerConfig {
  /** Where metadata, pages, staging files and the embedded registry live. Default ./.strata */
  dataDir: string;
  /** Listen address. Default 127.0.0.1 (loopback only until TLS/auth are configured). */
  host: string;
  /** Listen port; 0 picks a free one. Default 19998. */
  port: number;
  /** Mounts as "PATH=URI" (repeatable flag, or a YAML list). Default: "/" on <dataDir>/ufs. */
  mounts: string[];
  /** Page size. Default 1 MiB. */
  pageSize: number;
  /** Memory tier quota. Default 256 MiB. */
  memoryCapacity: number;
  /** Disk tier quota (in <dataDir>/pages). Default 4 GiB; 0 disables the disk tier. */
  diskCapacity: number;
  /**
   * Key file of the encrypted disk tier (32 bytes base64url, as `openssl rand -base64 32 | tr '+/' '-_'`
   * or src/core/seal.ts writes): every disk page is sealed with AES-256-GCM. Secret (the file's
   * contents are never printed). Default none: plain pages.
   */
  diskEncryptionKeyFile?: string;
  /** Eviction policy: LRU (default), LFU, FIFO. */
  eviction: 'LRU' | 'LFU' | 'FIFO';
  /** Pages fetched ahead of sequential readers. Default 4. */
  readaheadPages: number;
  /** Delay before an ASYNC_THROUGH write is persisted. Default 0. */
  persistDelayMs: number;
  /** Interval of TTL checks. Default 10 s. */
  ttlCheckIntervalMs: number;
  /**
   * Bearer token every call but /healthz and /metrics must carry. Secret: never printed. Default:
   * `strata local` keeps one in `tokenFile` (created on first start); a cluster worker reads
   * `tokenFile` when given, else shares the cluster token in the registry.
   */
  token?: string;
  /** File holding the token. `strata local`: default <dataDir>/token, created (0600) if absent. */
  tokenFile?: string;
  /** `strata local` only: no token at all, anyone who reaches the port may do anything. Default false. */
  insecure: boolean;
  /** Admin/RPC listener: longest wait for a request's head (then 408 and close). Default 20 s. */
  headersTimeoutMs: number;
  /** Admin/RPC listener: longest idle time of a kept-alive connection. Default 5 s. */
  idleTimeoutMs: number;
  /** Every listener (admin/RPC, S3): open connections one client address may hold; past it 503. Default 4096. */
  maxConnectionsPerAddress: number;
  /** Every listener (admin/RPC, S3): requests served at once; past it 503 OVERLOADED / SlowDown. Default 1024. */
  maxInFlight: number;
  /** Deadline of a store call that moves no body, and of a read until its first byte (src/ufs/instrumented-store.ts). Default 10 s; 0 = none. */
  storeDeadlineMs: number;
  /** S3 gateway port of `strata local`: 0 = any free port, -1 or "off" = no gateway. Default 39999 (0 with --port 0). */
  s3Port?: number;
  /** Enables virtual-host style S3 requests: "<bucket>.<domain>". */
  s3Domain?: string;
  /** Region of `strata local`'s S3 gateway: signatures must be scoped to it. Default s3.region, else us-east-1. */
  s3Region?: string;
  /** Store URI under which S3 CreateBucket mounts a directory per new bucket when no writable mount covers it. Default s3.bucketRoot, else none. */
  s3BucketRoot?: string;
  /** Lowest level of the JSON logs on stderr: debug, info, warn, error. Default info. */
  logLevel: LogLevel;
  /** PEM certificate chain of every listener of the process (with tlsKey: all of them on TLS). Default none. */
  tlsCert?: string;
  /** PEM private key matching tlsCert. Secret (the file's contents are never printed). Default none. */
  tlsKey?: string;
  /** PEM CA certificates this process trusts as a client (workers, registry, etcd) besides Node's list. Default none. */
  caFile?: string;
  /** `strata worker`: PEM client certificate shown to an etcds:// registry (etcd's --client-cert-auth). Default none. */
  etcdCert?: string;
  /** Its PEM private key. Default none. */
  etcdKey?: string;
}

export const DEFAULT_CONFIG: ServerConfig = {
  dataDir: '.strata',
  host: '127.0.0.1',
  port: 19998,
  mounts: [],
  pageSize: 1024 * 1024,
  memoryCapacity: 256 * 1024 * 1024,
  diskCapacity: 4 * 1024 * 1024 * 1024,
  eviction: 'LRU',
  readaheadPages: 4,
  persistDelayMs: 0,
  ttlCheckIntervalMs: 10_000,
  insecure: false,
  headersTimeoutMs: 20_000,
  idleTimeoutMs: 5_000,
  maxConnectionsPerAddress: 4096,
  maxInFlight: 1024,
  storeDeadlineMs: 10_000,
  logLevel: 'info',
};

type Raw = Record<string, unknown>;

const KEYS: Record<keyof ServerConfig, { env: string; parse: (v: unknown) => unknown }> = {
  dataDir: { env: 'STRATA_DATA_DIR', parse: String },
  host: { env: 'STRATA_HOST', parse: String },
  port: { env: 'STRATA_PORT', parse: (v) => int(v, 'port', 0, 65535) },
  mounts: {
    env: 'STRATA_MOUNTS',
    parse: (v) => (Array.isArray(v) ? v.map(String) : String(v).split(',').filter(Boolean)),
  },
  pageSize: {
    env: 'STRATA_PAGE_SIZE',
    parse: (v) => positive(parseSize(v as string, 'page size'), 'page size'),
  },
  memoryCapacity: { env: 'STRATA_MEMORY_CAPACITY', parse: (v) => parseSize(v as string, 'memory capacity') },
  diskCapacity: { env: 'STRATA_DISK_CAPACITY', parse: (v) => parseSize(v as string, 'disk capacity') },
  diskEncryptionKeyFile: { env: 'STRATA_DISK_ENCRYPTION_KEY_FILE', parse: String },
  eviction: {
    env: 'STRATA_EVICTION',
    parse: (v) => {
      const s = String(v).toUpperCase();
      if (s !== 'LRU' && s !== 'LFU' && s !== 'FIFO')
        throw new StrataError('INVALID_ARGUMENT', 'eviction must be LRU, LFU or FIFO');
      return s;
    },
  },
  readaheadPages: { env: 'STRATA_READAHEAD_PAGES', parse: (v) => int(v, 'readahead pages', 0, 64) },
  persistDelayMs: { env: 'STRATA_PERSIST_DELAY', parse: (v) => parseDuration(v as string, 'persist delay') },
  ttlCheckIntervalMs: {
    env: 'STRATA_TTL_CHECK_INTERVAL',
    parse: (v) => positive(parseDuration(v as string, 'TTL check interval'), 'TTL check interval'),
  },
  token: { env: 'STRATA_TOKEN', parse: String },
  tokenFile: { env: 'STRATA_TOKEN_FILE', parse: String },
  insecure: { env: 'STRATA_INSECURE', parse: (v) => bool(v, 'insecure') },
  headersTimeoutMs: {
    env: 'STRATA_HEADERS_TIMEOUT',
    parse: (v) => positive(parseDuration(v as string, 'headers timeout'), 'headers timeout'),
  },
  idleTimeoutMs: {
    env: 'STRATA_IDLE_TIMEOUT',
    parse: (v) => positive(parseDuration(v as string, 'idle timeout'), 'idle timeout'),
  },
  maxConnectionsPerAddress: {
    env: 'STRATA_MAX_CONNECTIONS_PER_ADDRESS',
    parse: (v) => int(v, 'max connections per address', 1, 1_000_000),
  },
  maxInFlight: { env: 'STRATA_MAX_IN_FLIGHT', parse: (v) => int(v, 'max in-flight requests', 1, 1_000_000) },
  storeDeadlineMs: {
    env: 'STRATA_STORE_DEADLINE',
    parse: (v) => {
      const ms = parseDuration(v as string, 'store deadline (--store-deadline, STRATA_STORE_DEADLINE)');
      if (ms < 0) throw new StrataError('INVALID_ARGUMENT', 'store deadline must be 0 (none) or more');
      return ms;
    },
  },
  s3Port: { env: 'STRATA_S3_PORT', parse: (v) => (v === 'off' ? -1 : int(v, 's3 port', -1, 65535)) },
  s3Domain: { env: 'STRATA_S3_DOMAIN', parse: String },
  s3Region: { env: 'STRATA_S3_REGION', parse: String },
  s3BucketRoot: { env: 'STRATA_S3_BUCKET_ROOT', parse: (v) => bucketRootUri(String(v)) },
  tlsCert: { env: 'STRATA_TLS_CERT', parse: String },
  tlsKey: { env: 'STRATA_TLS_KEY', parse: String },
  caFile: { env: 'STRATA_CA_FILE', parse: String },
  etcdCert: { env: 'STRATA_ETCD_CERT', parse: String },
  etcdKey: { env: 'STRATA_ETCD_KEY', parse: String },
  // Empty (STRATA_LOG_LEVEL=) is the default, as for the logger itself.
  logLevel: {
    env: 'STRATA_LOG_LEVEL',
    parse: (v) =>
      v === '' ? 'info' : parseLogLevel(v, 'log level (--log-level, STRATA_LOG_LEVEL, logLevel)'),
  },
};

/** A bucket root must name a store (scheme://…); the mount checks the rest when first used. */
export function bucketRootUri(v: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/./i.test(v))
    throw new StrataError(
      'INVALID_ARGUMENT',
      `bucket root must be a store URI such as file:///srv/buckets, got "${v}"`,
    );
  return v;
}

function int(v: unknown, what: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new StrataError('INVALID_ARGUMENT', `${what} must be an integer in [${min}, ${max}], got "${v}"`);
  return n;
}

function bool(v: unknown, what: string): boolean {
  if (v === true || v === false) return v;
  const s = String(v).toLowerCase();
  if (s === 'true' || s === '1' || s === 'yes') return true;
  if (s === 'false' || s === '0' || s === 'no' || s === '') return false;
  throw new StrataError('INVALID_ARGUMENT', `${what} must be true or false, got "${v}"`);
}

function positive(n: number, what: string): number {
  if (n <= 0) throw new StrataError('INVALID_ARGUMENT', `${what} must be positive`);
  return n;
}

/** Top-level YAML sections read by other components (the S3 gateway's `s3:`). */
const FOREIGN_SECTIONS = new Set(['s3']);

function apply(target: ServerConfig, raw: Raw, source: string): void {
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined || FOREIGN_SECTIONS.has(key)) continue;
    const spec = KEYS[key as keyof ServerConfig];
    if (!spec) throw new StrataError('INVALID_ARGUMENT', `unknown configuration key "${key}" in ${source}`);
    (target as unknown as Raw)[key] = spec.parse(value);
  }
}

/** Parses a YAML configuration file; a missing or malformed file is INVALID_ARGUMENT. */
export async function readYamlFile(file: string): Promise<unknown> {
  try {
    return parseYaml(await readFile(file, 'utf8'));
  } catch (err) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `cannot read configuration file ${file}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

export async function loadServerConfig(
  flags: Raw,
  env: NodeJS.ProcessEnv = process.env,
  configFile?: string,
): Promise<ServerConfig> {
  const config: ServerConfig = { ...DEFAULT_CONFIG, mounts: [] };
  const file = configFile ?? env.STRATA_CONFIG;
  if (file) {
    const parsed = await readYamlFile(file);
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed))
        throw new StrataError('INVALID_ARGUMENT', `${file} must hold a YAML mapping`);
      apply(config, parsed as Raw, file);
    }
  }
  const fromEnv: Raw = {};
  for (const [key, spec] of Object.entries(KEYS))
    if (env[spec.env] !== undefined) fromEnv[key] = env[spec.env];
  apply(config, fromEnv, 'the environment');
  apply(config, flags, 'flags');
  return config;
}

/** The configuration with secrets masked (the token, user info in mount URIs), for logs. */
export function maskedConfig(config: ServerConfig): Record<string, unknown> {
  return {
    ...config,
    mounts: config.mounts.map((m) => {
      const i = m.indexOf('=');
      const uri = m.slice(i + 1);
      return hasUserInfo(uri) ? `${m.slice(0, i + 1)}${redactUri(uri)}` : m;
    }),
    ...(config.token === undefined ? {} : { token: '****' }),
  };
}

/** Every key of ServerConfig (YAML names), e.g. for `strata conf get --server KEY`. */
export const SERVER_CONFIG_KEYS = Object.keys(KEYS) as ReadonlyArray<keyof ServerConfig>;
