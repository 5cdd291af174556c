import { createHash } from 'node:crypto';
import type { StrataFileSystem } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { parentOf } from '../../core/paths.js';
import { type Ctx, header, requireBucket } from './context.js';
import { S3Error, toS3Error } from './errors.js';
import { readBody, sendEmpty, sendXml } from './http.js';
import { bucketPath, isDirKey, metaPath, treePath } from './keys.js';
import { deleteMeta } from './meta.js';
import { deleteOverflow, findOverflow } from './overflow.js';
import { child, children, parseXml, toXml } from './xml.js';

/** DeleteObject and DeleteObjects: the object, its sidecar, and the directories it leaves empty. */

/** Deletes a file and its sidecar, then the directories it leaves empty (S3 has no empty "folders"). */
export async function removeObject(ctx: Pick<Ctx, 'fs' | 'bucket' | 'cache'>, key: string): Promise<void> {
  const pruned = await removeOnly(ctx, key);
  for (const [dir, stopAt] of pruned) await pruneEmpty(ctx.fs, dir, stopAt);
}

/** The directories (with where pruning stops) that removing an object may have left empty. */
type PruneList = [dir: string, stopAt: string][];

/** Deletes a file and its sidecar; the caller prunes the directories returned. */
async function removeOnly(
  ctx: Pick<Ctx, 'fs' | 'bucket' | 'cache'>,
  key: string,
  sidecars?: ReadonlySet<string>,
): Promise<PruneList> {
  const path = treePath(ctx.bucket, key);
  if (path === undefined || (await findOverflow(ctx, key))) {
    await deleteOverflow(ctx, key);
    return [];
  }
  try {
    const st = await ctx.fs.status(path, { syncIntervalMs: 0 });
    if (st.type === 'directory') {
      if (!isDirKey(key)) return [];
      await ctx.fs.delete(path);
    } else {
      if (isDirKey(key)) return [];
      await ctx.fs.delete(path);
    }
  } catch (err) {
    if (
      isStrataError(err, 'NOT_FOUND') ||
      isStrataError(err, 'NOT_A_DIRECTORY') ||
      isStrataError(err, 'DIRECTORY_NOT_EMPTY')
    ) {
      // Idempotent: deleting a missing key succeeds.
    } else throw toS3Error(err);
  }
  // `sidecars`, when given, lists every sidecar there is: one that is not there needs no delete.
  if (sidecars === undefined || sidecars.has(metaPath(ctx.bucket, key)))
    await deleteMeta(ctx.fs, ctx.bucket, key, ctx.cache);
  ctx.cache.invalidate(parentOf(path));
  return [
    [parentOf(path), bucketPath(ctx.bucket)],
    [parentOf(metaPath(ctx.bucket, key)), `${bucketPath(ctx.bucket)}/.strata-s3/meta`],
  ];
}

/**
 * The sidecars of `keys` that exist, from one listing per sidecar directory (a few for a batch
 * of keys in a few folders), so a key without one (most: plain PUTs) costs no failed delete.
 * Undefined when the keys span too many directories for that to pay: then each delete is tried.
 */
async function existingSidecars(
  ctx: Pick<Ctx, 'fs' | 'bucket'>,
  keys: readonly string[],
): Promise<Set<string> | undefined> {
  const dirs = new Set<string>();
  for (const key of keys) {
    if (treePath(ctx.bucket, key) === undefined) continue; // overflow keys keep no tree sidecar
    dirs.add(parentOf(metaPath(ctx.bucket, key)));
  }
  if (dirs.size > keys.length / 4) return undefined;
  const found = new Set<string>();
  for (const dir of dirs) {
    try {
      for (const e of await ctx.fs.list(dir, { syncIntervalMs: 0 })) found.add(`${dir}/${e.name}`);
    } catch (err) {
      if (!isStrataError(err, 'NOT_FOUND') && !isStrataError(err, 'NOT_A_DIRECTORY')) throw toS3Error(err);
    }
  }
  return found;
}

/** Keys a DeleteObjects removes at once: each removal is a few worker round trips. */
const DELETE_CONCURRENCY = 16;

/**
 * Removes many keys: DELETE_CONCURRENCY at a time, then each directory they leave empty is pruned
 * once, deepest first (1,000 keys in one folder list it once, not 1,000 times). Returns the
 * error of each key that failed (undefined for success), in the order of `keys`.
 */
export async function removeObjects(
  ctx: Pick<Ctx, 'fs' | 'bucket' | 'cache'>,
  keys: readonly string[],
): Promise<(S3Error | undefined)[]> {
  const results: (S3Error | undefined)[] = new Array(keys.length);
  const dirs = new Map<string, string>();
  const sidecars = await existingSidecars(ctx, keys);
  let next = 0;
  const lane = async () => {
    while (next < keys.length) {
      const i = next++;
      try {
        for (const [dir, stopAt] of await removeOnly(ctx, keys[i]!, sidecars)) dirs.set(dir, stopAt);
        results[i] = undefined;
      } catch (err) {
        results[i] = toS3Error(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, keys.length) }, lane));
  const deepestFirst = [...dirs].sort((a, b) => b[0].length - a[0].length);
  for (const [dir, stopAt] of deepestFirst) await pruneEmpty(ctx.fs, dir, stopAt);
  return results;
}

async function pruneEmpty(fs: StrataFileSystem, dir: string, stopAt: string): Promise<void> {
  for (let d = dir; d.length > stopAt.length && d.startsWith(`${stopAt}/`); d = parentOf(d)) {
    try {
      if ((await fs.list(d, { syncIntervalMs: 0 })).length > 0) return;
      await fs.delete(d);
    } catch {
      return;
    }
  }
}

export async function deleteObject(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  await removeObject(ctx, ctx.key);
  sendEmpty(ctx.res, 204);
}

export async function deleteObjects(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  const raw = await readBody(ctx.req, 2 * 1024 * 1024);
  const md5 = header(ctx, 'content-md5');
  if (md5 !== undefined) {
    if (createHash('md5').update(raw).digest('base64') !== md5)
      throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  const doc = parseXml(raw.toString('utf8'));
  if (doc.name !== 'Delete')
    throw new S3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  const quiet = child(doc, 'Quiet')?.text.trim() === 'true';
  const objects = children(doc, 'Object');
  if (objects.length === 0 || objects.length > 1000) {
    throw new S3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  }
  const deleted: { Key: string }[] = [];
  const errors: { Key: string; Code: string; Message: string }[] = [];
  const toRemove: string[] = [];
  for (const o of objects) {
    const keyEl = child(o, 'Key');
    if (!keyEl) throw new S3Error('MalformedXML', 'Each Object needs a Key');
    const key = keyEl.text;
    const version = child(o, 'VersionId')?.text;
    if (version !== undefined && version !== 'null') {
      // Only the "null" version exists in a bucket without versioning.
      errors.push({ Key: key, Code: 'NoSuchVersion', Message: 'The specified version does not exist.' });
      continue;
    }
    toRemove.push(key);
  }
  const results = await removeObjects(ctx, toRemove);
  toRemove.forEach((key, i) => {
    const e = results[i];
    if (e === undefined) deleted.push({ Key: key });
    else errors.push({ Key: key, Code: e.code, Message: e.message });
  });
  sendXml(ctx.res, 200, toXml('DeleteResult', { Deleted: quiet ? undefined : deleted, Error: errors }));
}
