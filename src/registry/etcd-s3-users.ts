import { StrataError } from '../core/errors.js';
import type { EtcdRegistry } from './etcd-registry.js';
import type { Unwatch } from './registry.js';
import type { S3UserRecord } from './s3-users.js';

/**
 * The S3 users of the etcd registry: one key per user, `s3users/<encoded name>` (JSON
 * S3UserRecord, secrets sealed by SealedRegistry above it). Kept beside etcd-registry.ts, which
 * delegates to these, so that file does not grow further.
 */
const S3_USERS = 's3users/';

const keyOf = (name: string): string => S3_USERS + encodeURIComponent(name);

export function listS3Users(r: EtcdRegistry): Promise<S3UserRecord[]> {
  return r.listJson<S3UserRecord>(S3_USERS, 'name');
}

export async function createS3User(r: EtcdRegistry, user: S3UserRecord): Promise<boolean> {
  const k = keyOf(user.name);
  const res = await r.call('create s3 user', () =>
    r.ns
      .if(k, 'Create', '==', 0)
      .then(r.ns.put(k).value(JSON.stringify(user)))
      .commit(),
  );
  return res.succeeded;
}

export async function saveS3User(r: EtcdRegistry, user: S3UserRecord): Promise<void> {
  await r.call('put s3 user', () => r.ns.put(keyOf(user.name)).value(JSON.stringify(user)).exec());
}

/** Conflicting updates of one user retried before giving up (each round one of them wins). */
const MAX_UPDATE_ATTEMPTS = 64;

/** Compare-and-set on the key's mod revision, re-read and retried when another change won. */
export async function updateS3User(
  r: EtcdRegistry,
  name: string,
  change: (current: S3UserRecord) => S3UserRecord,
): Promise<S3UserRecord | undefined> {
  const k = keyOf(name);
  for (let attempt = 1; ; attempt++) {
    const res = await r.call('read s3 user', () => r.ns.get(k).exec());
    const kv = res.kvs[0];
    if (kv === undefined) return undefined;
    const next = change(JSON.parse(kv.value.toString()) as S3UserRecord);
    const put = await r.call('update s3 user', () =>
      r.ns
        .if(k, 'Mod', '==', Number(kv.mod_revision))
        .then(r.ns.put(k).value(JSON.stringify(next)))
        .commit(),
    );
    if (put.succeeded) return next;
    if (attempt >= MAX_UPDATE_ATTEMPTS)
      throw new StrataError(
        'UNAVAILABLE',
        `S3 user "${name}" changed under ${attempt} attempts to update it; try again`,
      );
  }
}

export async function deleteS3User(r: EtcdRegistry, name: string): Promise<boolean> {
  const res = await r.call('delete s3 user', () => r.ns.delete().key(keyOf(name)).exec());
  return Number(res.deleted) > 0;
}

export function watchS3Users(r: EtcdRegistry, onChange: (users: S3UserRecord[]) => void): Promise<Unwatch> {
  return r.watchPrefix(S3_USERS, () => listS3Users(r), onChange);
}
