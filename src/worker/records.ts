import { createHash } from 'node:crypto';
import type { FileRecord } from '../meta/meta-store.js';
import { fingerprintOf, type UfsStatus } from '../ufs/under-store.js';
import type { ActiveMount } from './mount-table.js';

/**
 * How a store's answer becomes a metadata record, and the cache identity of its content. Pure
 * functions: every part of the worker derives them the same way.
 */

/**
 * The page-cache identity of a file's content: sha256(path, fingerprint) first, so page
 * directories shard evenly, and the mount id last, so unmount finds its pages. A changed source
 * gets a new id and can never be served old pages.
 */
export function cacheIdOf(mount: ActiveMount, path: string, fingerprint: string): string {
  return createHash('sha256').update(`${path}\0${fingerprint}`).digest('base64url').slice(0, 22) + mount.id;
}

/** A store status as a metadata record; `cacheId` keeps a known identity (a persisted local write). */
export function recordOf(
  path: string,
  st: UfsStatus,
  mount: ActiveMount,
  cacheId?: string,
  syncedAtMs: number = Date.now(),
): FileRecord {
  const fingerprint = st.type === 'directory' ? 'dir' : fingerprintOf(st);
  // One object, fields assigned: built once per child of a listed directory (a cold listing of
  // 1 M children builds 1 M of them; each spread was another copy for V8 to collect).
  const record: { -readonly [K in keyof FileRecord]: FileRecord[K] } = {
    path,
    type: st.type,
    size: st.size,
    mtimeMs: st.mtimeMs,
    fingerprint,
    syncedAtMs,
  };
  if (st.etag !== undefined) record.etag = st.etag;
  if (st.type === 'file') record.cacheId = cacheId ?? cacheIdOf(mount, path, fingerprint);
  return record;
}

/** A directory that exists because of the namespace (a mount point, or a parent of one or of a staged file). */
export function namespaceDirectory(path: string): FileRecord {
  return { path, type: 'directory', size: 0, mtimeMs: 0, fingerprint: 'mount', syncedAtMs: 0 };
}

/** Whether a record synced at `syncedAtMs` may be used under a sync interval (-1 always, 0 never). */
export function isFresh(syncedAtMs: number, intervalMs: number): boolean {
  if (intervalMs < 0) return true;
  if (intervalMs === 0) return false;
  return Date.now() - syncedAtMs <= intervalMs;
}
