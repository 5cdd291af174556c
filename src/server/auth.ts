import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, lstat, open, readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { StrataError } from '../core/errors.js';
import { logger } from '../core/log.js';
import type { Handler } from './http-server.js';

/**
 * Bearer-token authentication of the admin/registry/RPC port, and the secret files of a data
 * directory (the token, the seal key). What an unauthenticated caller may do is docs/reliability.md's
 * "Who may call what": /healthz and /metrics, nothing else.
 */

export const UNAUTHENTICATED_HINT =
  'missing or wrong bearer token (on the machine of "strata local" it is found by itself; elsewhere pass --token-file FILE or STRATA_TOKEN, FILE being <data dir>/token)';

export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Constant-time check of `authorization: Bearer <token>`: both sides are hashed to equal-length digests first. */
export function checkBearer(req: IncomingMessage, expected: Buffer): void {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header);
  if (!m?.[1] || !timingSafeEqual(tokenDigest(m[1].trim()), expected)) {
    throw new StrataError('UNAUTHENTICATED', UNAUTHENTICATED_HINT);
  }
}

/** The check `requireToken` makes, for handlers that gate only some of their routes (the dashboard's actions). */
export function bearerCheck(token: string | undefined): (req: IncomingMessage) => void {
  if (token === undefined) return () => undefined;
  const expected = tokenDigest(token);
  return (req) => checkBearer(req, expected);
}

/**
 * A handler that lets through (returns false) only calls carrying the token and refuses every
 * other one with UNAUTHENTICATED (401). Handlers before it in the list are open to anyone.
 */
export function requireToken(token: string): Handler {
  const expected = tokenDigest(token);
  return async (req) => {
    checkBearer(req, expected);
    return false;
  };
}

/** A new random token (32 bytes, base64url). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The secret kept in `file`, created with `create()` (mode 0600, never replaced) when the file
 * does not exist. An existing file that others may read is narrowed to 0600 (and logged); one
 * that is not a regular file, or belongs to another user, is refused.
 */
export async function ensureSecretFile(
  file: string,
  create: () => string,
  what: string,
): Promise<{ value: string; created: boolean }> {
  try {
    const fh = await open(file, 'wx', 0o600);
    const value = create();
    try {
      await fh.writeFile(`${value}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return { value, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new StrataError('INTERNAL', `cannot create the ${what} file ${file}`, { cause: err });
  }
  const st = await lstat(file);
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (!st.isFile() || (uid !== undefined && st.uid !== uid && uid !== 0))
    throw new StrataError('PERMISSION_DENIED', `the ${what} file ${file} is not a regular file of this user`);
  if ((st.mode & 0o077) !== 0) {
    await chmod(file, 0o600);
    logger('secret_file_narrowed', { file, what, mode: (st.mode & 0o777).toString(8), now: '600' });
  }
  const value = (await readFile(file, 'utf8')).trim();
  if (value === '') throw new StrataError('INVALID_ARGUMENT', `the ${what} file ${file} is empty`);
  return { value, created: false };
}
