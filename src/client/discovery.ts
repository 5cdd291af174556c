import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { homedir, networkInterfaces, userInfo } from 'node:os';
import { join } from 'node:path';
import { StrataError } from '../core/errors.js';

/**
 * How a client on the machine of a `strata local` finds its token without being told.
 *
 * `strata local` keeps its token in `<dataDir>/token` (0600) and publishes a discovery record,
 * one per port, in a per-user directory (0700):
 *
 *   $STRATA_DISCOVERY_DIR, else <home of the user (passwd)>/.strata/run/registry-<port>.json
 *   {"version":1,"registry":"http://127.0.0.1:19998","port":19998,"pid":4242,
 *    "tokenFile":"/srv/strata/.strata/token","startedAt":"…"}
 *
 * A client given an address on this machine (a loopback name or address, or one of this
 * machine's interface addresses) with no token of its own reads the record for that port, and
 * uses the token file it names only when: the record and the token file belong to this user, the
 * token file is a regular file no one else can read or write (0600), and the process that wrote
 * the record is still alive (a record left by a crash is ignored, and removed by the next
 * `strata local` to publish). An address on another machine
 * never gets a discovered token: a token goes only where it was made.
 *
 * The record holds no secret (the token stays in the data directory); the home directory is taken
 * from the user database rather than $HOME, so `sudo -E` or a cleaned environment find the same
 * directory for the same user.
 */

export const DISCOVERY_DIR_ENV = 'STRATA_DISCOVERY_DIR';

export interface DiscoveryRecord {
  readonly version: 1;
  readonly registry: string;
  readonly port: number;
  readonly pid: number;
  readonly tokenFile: string;
  readonly startedAt: string;
}

/** Where this user's discovery records live. */
export function discoveryDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env[DISCOVERY_DIR_ENV];
  if (override) return override;
  let home: string;
  try {
    home = userInfo().homedir || homedir();
  } catch {
    home = homedir();
  }
  return join(home, '.strata', 'run');
}

function recordFile(dir: string, port: number): string {
  return join(dir, `registry-${port}.json`);
}

function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** A name or address that reaches this machine (loopback, or one of its interface addresses). */
export function isThisMachine(hostname: string): boolean {
  let h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h.startsWith('::ffff:')) h = h.slice('::ffff:'.length);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4 && h.startsWith('127.')) return true;
  if (h === '::1' || h === '0.0.0.0' || h === '::') return true;
  if (isIP(h) === 0) return false;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.address.toLowerCase() === h) return true;
  }
  return false;
}

function myUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/** True when `path` is a regular file of this user that only this user can read or write. */
async function privateFile(path: string): Promise<boolean> {
  try {
    const st = await lstat(path);
    const uid = myUid();
    return st.isFile() && (uid === undefined || st.uid === uid) && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The directory, created 0700 if absent; refused when it belongs to someone else or others may write it. */
async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  const uid = myUid();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
    throw new StrataError('PERMISSION_DENIED', `${dir} is not a directory of this user`);
  }
  if ((st.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

/**
 * Publishes the token file of the `strata local` at `registry` (its http://host:port) for this
 * user's clients. Resolves with a function that withdraws the record (if it is still ours).
 */
export async function publishToken(
  registry: string,
  tokenFile: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ file: string; withdraw: () => Promise<void> }> {
  const dir = discoveryDir(env);
  const port = portOf(new URL(registry));
  const record: DiscoveryRecord = {
    version: 1,
    registry,
    port,
    pid: process.pid,
    tokenFile,
    startedAt: new Date().toISOString(),
  };
  await ensureDir(dir);
  await pruneDead(dir);
  const file = recordFile(dir, port);
  const tmp = join(dir, `.registry-${port}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(record)}\n`);
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  return {
    file,
    async withdraw() {
      const current = await readRecord(file);
      if (current?.pid === record.pid && current.tokenFile === tokenFile) await rm(file, { force: true });
    },
  };
}

/** Removes the records of processes that are gone (a crash or kill -9 leaves its record behind). */
async function pruneDead(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!/^registry-\d+\.json$/.test(name)) continue;
    const record = await readRecord(join(dir, name));
    if (record !== undefined && !alive(record.pid)) await rm(join(dir, name), { force: true });
  }
}

async function readRecord(file: string): Promise<DiscoveryRecord | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<DiscoveryRecord> | null;
    if (
      parsed?.version !== 1 ||
      typeof parsed.tokenFile !== 'string' ||
      typeof parsed.pid !== 'number' ||
      typeof parsed.port !== 'number'
    )
      return undefined;
    return parsed as DiscoveryRecord;
  } catch {
    return undefined;
  }
}

/**
 * The token file a `strata local` at `address` published for this user, if any (see above for
 * when a record counts). Never throws: no record is simply no token.
 */
export async function discoverTokenFile(
  address: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !isThisMachine(url.hostname))
    return undefined;
  const file = recordFile(discoveryDir(env), portOf(url));
  if (!(await privateFile(file))) return undefined;
  const record = await readRecord(file);
  if (record === undefined || record.port !== portOf(url) || !alive(record.pid)) return undefined;
  if (!(await privateFile(record.tokenFile))) return undefined;
  return record.tokenFile;
}

/** The token a file holds (trimmed); a missing, unreadable or empty file is UNAUTHENTICATED. */
export async function readTokenFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new StrataError(
      'UNAUTHENTICATED',
      `cannot read the token file ${file}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const token = text.trim();
  if (token === '') throw new StrataError('UNAUTHENTICATED', `the token file ${file} is empty`);
  return token;
}

export interface TokenSources {
  /** A token given in code. */
  readonly token?: string | undefined;
  /** A file holding it (`--token-file`). */
  readonly tokenFile?: string | undefined;
  /** Look for a discovery record when nothing else gives one. Default true. */
  readonly discover?: boolean | undefined;
}

export type TokenSource =
  | 'option'
  | 'token-file'
  | 'STRATA_TOKEN'
  | 'STRATA_TOKEN_FILE'
  | 'discovered'
  | 'none';

export interface ResolvedToken {
  readonly token: string | undefined;
  readonly source: TokenSource;
  /** The file the token came from, when it came from one. */
  readonly file?: string;
}

/**
 * The token a client sends to `address`, by precedence: the `token` option, the `tokenFile`
 * option (`--token-file`), STRATA_TOKEN, STRATA_TOKEN_FILE, then discovery (a `strata local` of
 * this user on this machine). None of them: no token.
 */
export async function resolveToken(
  address: string,
  sources: TokenSources = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedToken> {
  if (sources.token !== undefined) return { token: sources.token, source: 'option' };
  if (sources.tokenFile !== undefined) {
    return { token: await readTokenFile(sources.tokenFile), source: 'token-file', file: sources.tokenFile };
  }
  if (env.STRATA_TOKEN) return { token: env.STRATA_TOKEN, source: 'STRATA_TOKEN' };
  if (env.STRATA_TOKEN_FILE) {
    return {
      token: await readTokenFile(env.STRATA_TOKEN_FILE),
      source: 'STRATA_TOKEN_FILE',
      file: env.STRATA_TOKEN_FILE,
    };
  }
  if (sources.discover !== false) {
    const file = await discoverTokenFile(address, env);
    if (file !== undefined) {
      try {
        return { token: await readTokenFile(file), source: 'discovered', file };
      } catch {
        // Gone between the check and the read (the daemon stopped): no token.
      }
    }
  }
  return { token: undefined, source: 'none' };
}
