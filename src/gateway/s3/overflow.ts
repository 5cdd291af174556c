import { createHash } from 'node:crypto';
import { readSmallFile, writeSmallFile } from '../../client/s3-settings.js';
import type { FileInfo } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { compareUtf8 } from '../../core/utf8-order.js';
import type { Ctx } from './context.js';
import { toS3Error } from './errors.js';
import { RESERVED_DIR } from './keys.js';
import type { DirEntry, ListingDeps } from './listing.js';
import type { ObjectMeta } from './meta.js';

/**
 * Overflow objects: S3 keys that the directory tree cannot hold where they belong, because a
 * key is a path —
 *   - a key that is also a prefix of other keys ("a/b" while "a/b/c" exists: "a/b" is a directory),
 *   - a "folder" key ending in "/" that has a body (or that a file of the same name blocks).
 * They are kept in the bucket's hidden folder, `.strata-s3/overflow/<sha256(key)>` (the bytes)
 * with `<sha256(key)>.json` (the key and its metadata), found through the gateway's cached
 * listing of that folder, and merged into object listings. Every other object is a plain file at
 * its own path; a key is in exactly one of the two places (writes remove the other copy).
 */

type FsCtx = Pick<Ctx, 'fs' | 'bucket' | 'cache'>;

export function overflowDir(bucket: string): string {
  return `/${bucket}/${RESERVED_DIR}/overflow`;
}

function hashOf(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Where the bytes of `key` live when it overflows. */
export function overflowPath(bucket: string, key: string): string {
  return `${overflowDir(bucket)}/${hashOf(key)}`;
}

interface OverflowRecord {
  readonly key: string;
  readonly meta: ObjectMeta;
}

export interface OverflowObject {
  readonly key: string;
  readonly path: string;
  readonly info: FileInfo;
  readonly meta: ObjectMeta;
}

async function load(
  ctx: FsCtx,
  entries: readonly DirEntry[],
  h: string,
): Promise<OverflowObject | undefined> {
  const data = entries.find((e) => e.name === h);
  if (!data || !entries.some((e) => e.name === `${h}.json`)) return undefined;
  const dir = overflowDir(ctx.bucket);
  const raw = await readSmallFile(ctx.fs, `${dir}/${h}.json`);
  if (!raw) return undefined;
  const rec = JSON.parse(raw.toString('utf8')) as OverflowRecord;
  return { key: rec.key, path: `${dir}/${h}`, info: data.info, meta: rec.meta };
}

/** The overflow copy of `key`, if any (from the cached folder listing: no I/O while it is empty). */
export async function findOverflow(ctx: FsCtx, key: string): Promise<OverflowObject | undefined> {
  let entries: DirEntry[] | undefined;
  try {
    entries = await ctx.cache.list(overflowDir(ctx.bucket));
  } catch (err) {
    // Outside every mount (no such bucket): nothing overflows there.
    if (isStrataError(err, 'NOT_MOUNTED') || isStrataError(err, 'INVALID_PATH')) return undefined;
    throw err;
  }
  if (!entries || entries.length === 0) return undefined;
  const o = await load(ctx, entries, hashOf(key));
  return o?.key === key ? o : undefined;
}

/**
 * The records read for one listing of the overflow folder: the cache hands out the same array
 * while the folder is unchanged (a write there changes its listing), so page builds after the
 * first do not read every record again.
 */
const loaded = new WeakMap<readonly DirEntry[], Promise<OverflowObject[]>>();

/** Every overflow object of the bucket, in key order (recorded in `deps` for page caching). */
export async function listOverflow(ctx: FsCtx, deps?: ListingDeps): Promise<OverflowObject[]> {
  const entries = await ctx.cache.list(overflowDir(ctx.bucket), deps);
  if (!entries || entries.length === 0) return [];
  let found = loaded.get(entries);
  if (found === undefined) {
    found = Promise.all(
      entries.filter((e) => e.name.endsWith('.json')).map((e) => load(ctx, entries, e.name.slice(0, -5))),
    ).then((all) =>
      all.filter((o): o is OverflowObject => o !== undefined).sort((a, b) => compareUtf8(a.key, b.key)),
    );
    loaded.set(entries, found);
    found.catch(() => loaded.delete(entries));
  }
  return found;
}

/** Writes the record (key and metadata) of an overflow object whose bytes are in place. */
export async function saveOverflowMeta(ctx: FsCtx, key: string, meta: ObjectMeta): Promise<void> {
  const path = overflowPath(ctx.bucket, key);
  try {
    await writeSmallFile(ctx.fs, `${path}.json`, JSON.stringify({ key, meta } satisfies OverflowRecord));
  } finally {
    ctx.cache.invalidate(path);
  }
}

/** Removes the overflow copy of `key` (a no-op when there is none). */
export async function deleteOverflow(ctx: FsCtx, key: string): Promise<void> {
  const path = overflowPath(ctx.bucket, key);
  try {
    for (const p of [`${path}.json`, path]) {
      await ctx.fs.delete(p).catch((err) => {
        if (!isStrataError(err, 'NOT_FOUND')) throw toS3Error(err);
      });
    }
  } finally {
    ctx.cache.invalidate(path);
  }
}
