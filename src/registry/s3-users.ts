import { randomBytes } from 'node:crypto';
import { StrataError } from '../core/errors.js';
import type { Registry } from './registry.js';

/**
 * S3 identities kept in the registry, so every gateway of a cluster (and `strata local`'s own)
 * sees the same users: one record per user, holding its access keys. The root user is not a
 * record: it comes from STRATA_S3_ACCESS_KEY_ID / STRATA_S3_SECRET_ACCESS_KEY of each gateway.
 *
 * A key's secret is given to the registry in `secretAccessKey`; SealedRegistry stores it sealed
 * (`sealed`, bound to the key id) and opens it again on the way out, as it does mount secrets.
 * These operations are what `strata s3 user …` runs, over the registry directly (etcd) or over
 * `strata local`'s HTTP API (s3-users-http.ts), so both check the same things.
 */

export interface S3KeyRecord {
  readonly accessKeyId: string;
  /** In clear only between a caller and SealedRegistry (or in an unsealed test registry). */
  readonly secretAccessKey?: string;
  /** The secret, sealed (src/core/seal.ts), as stored. */
  readonly sealed?: string;
  readonly createdAtMs: number;
}

export interface S3UserRecord {
  readonly name: string;
  readonly createdAtMs: number;
  readonly keys: readonly S3KeyRecord[];
}

/** What `strata s3 user ls` shows: key ids, never secrets. */
export interface S3UserView {
  readonly name: string;
  readonly createdAtMs: number;
  readonly accessKeyIds: readonly string[];
}

/** What creating a user or a key answers, the one time the secret is shown. */
export interface S3NewKey {
  readonly name: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly createdAtMs: number;
}

/** The root principal's name (and the owner of every bucket without a recorded owner). */
export const S3_ROOT_USER = 'strata';
/** Names a user may not take: the root's, and "root" (it would read as the root). */
const RESERVED_NAMES = new Set([S3_ROOT_USER, 'root']);
/** IAM's rule for user names: 1–64 of letters, digits and + = , . @ _ - */
const USER_NAME = /^[A-Za-z0-9+=,.@_-]{1,64}$/;
/**
 * At most this many keys a user (IAM allows 2): a user here is often a team whose jobs each get
 * a key of their own, and a rotation needs one more for a while.
 */
export const MAX_KEYS_PER_USER = 16;
const KEY_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function validateUserName(name: string): void {
  if (!USER_NAME.test(name))
    throw new StrataError(
      'INVALID_ARGUMENT',
      `bad user name "${name}": 1 to 64 letters, digits or + = , . @ _ -`,
    );
  if (RESERVED_NAMES.has(name.toLowerCase()))
    throw new StrataError('INVALID_ARGUMENT', `"${name}" is reserved for the root user`);
}

/** A new key: a 20-character id (as AWS's, "SK" + 18 base32) and a 40-character secret. */
export function newS3Key(nowMs = Date.now()): S3KeyRecord & { readonly secretAccessKey: string } {
  const bytes = randomBytes(18);
  let id = 'SK';
  for (const b of bytes) id += KEY_ID_ALPHABET[b & 31];
  return { accessKeyId: id, secretAccessKey: randomBytes(30).toString('base64url'), createdAtMs: nowMs };
}

export function userView(u: S3UserRecord): S3UserView {
  return { name: u.name, createdAtMs: u.createdAtMs, accessKeyIds: u.keys.map((k) => k.accessKeyId) };
}

function newKeyView(name: string, key: S3KeyRecord & { secretAccessKey: string }): S3NewKey {
  return {
    name,
    accessKeyId: key.accessKeyId,
    secretAccessKey: key.secretAccessKey,
    createdAtMs: key.createdAtMs,
  };
}

/** Creates a user with one key; a name taken (or reserved, or malformed) is refused. */
export async function addS3User(registry: Registry, name: string): Promise<S3NewKey> {
  validateUserName(name);
  const key = newS3Key();
  const created = await registry.createS3User({ name, createdAtMs: key.createdAtMs, keys: [key] });
  if (!created) throw new StrataError('ALREADY_EXISTS', `S3 user "${name}" already exists`);
  return newKeyView(name, key);
}

export async function removeS3User(registry: Registry, name: string): Promise<void> {
  if (!(await registry.deleteS3User(name))) throw new StrataError('NOT_FOUND', `no S3 user "${name}"`);
}

/** Adds a key (compare-and-set: keys added at the same moment, anywhere, are all kept). */
export async function addS3Key(registry: Registry, name: string): Promise<S3NewKey> {
  const key = newS3Key();
  const updated = await registry.updateS3User(name, (user) => {
    if (user.keys.length >= MAX_KEYS_PER_USER)
      throw new StrataError(
        'INVALID_ARGUMENT',
        `S3 user "${name}" has ${user.keys.length} keys already (at most ${MAX_KEYS_PER_USER}); remove one first`,
      );
    return { ...user, keys: [...user.keys, key] };
  });
  if (updated === undefined) throw new StrataError('NOT_FOUND', `no S3 user "${name}"`);
  return newKeyView(name, key);
}

export async function removeS3Key(registry: Registry, name: string, accessKeyId: string): Promise<void> {
  const updated = await registry.updateS3User(name, (user) => {
    const keys = user.keys.filter((k) => k.accessKeyId !== accessKeyId);
    if (keys.length === user.keys.length)
      throw new StrataError('NOT_FOUND', `S3 user "${name}" has no access key "${accessKeyId}"`);
    return { ...user, keys };
  });
  if (updated === undefined) throw new StrataError('NOT_FOUND', `no S3 user "${name}"`);
}

export async function listS3UserViews(registry: Registry): Promise<S3UserView[]> {
  return (await registry.listS3Users()).map(userView);
}
