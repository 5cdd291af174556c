import type { FileInfo } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { type Ctx, requireBucket } from './context.js';
import { S3Error, toS3Error } from './errors.js';
import { isDirKey, treePath } from './keys.js';
import { etagOf, isOriginDown, loadMeta, type ObjectMeta, validMeta } from './meta.js';
import { findOverflow, type OverflowObject } from './overflow.js';

/** Looking an object up: at its own path in the tree, else in the overflow folder. */

export interface ObjectState {
  readonly path: string;
  readonly info: FileInfo;
  readonly meta: ObjectMeta | undefined;
  readonly etag: string;
  /** Kept in the overflow folder (overflow.ts), not at its own path. */
  readonly overflow?: boolean;
}

function overflowState(o: OverflowObject): ObjectState {
  return { path: o.path, info: o.info, meta: o.meta, etag: o.meta.etag, overflow: true };
}

/** Looks an object up: NoSuchKey (or NoSuchBucket) when it is missing. */
export async function statObject(
  ctx: Pick<Ctx, 'fs' | 'bucket' | 'cache'>,
  key: string,
): Promise<ObjectState> {
  const path = treePath(ctx.bucket, key);
  const inTree = path === undefined ? undefined : await treeState(ctx, key, path);
  if (inTree) return inTree;
  const o = await findOverflow(ctx, key);
  if (o) return overflowState(o);
  await requireBucket(ctx);
  throw new S3Error('NoSuchKey', 'The specified key does not exist.');
}

/** The object at its own path, or undefined when the tree does not hold it there. */
async function treeState(
  ctx: Pick<Ctx, 'fs' | 'bucket' | 'cache'>,
  key: string,
  path: string,
): Promise<ObjectState | undefined> {
  let info: FileInfo;
  try {
    info = await ctx.fs.status(path);
  } catch (err) {
    if (isStrataError(err, 'NOT_FOUND') || isStrataError(err, 'NOT_A_DIRECTORY')) return undefined;
    throw toS3Error(err);
  }
  if (info.type === 'directory') {
    // A directory key ("a/b/") exists while the directory is empty; a plain key naming a
    // directory (or a folder key with a body) can only be an overflow object.
    if (!isDirKey(key) || (await ctx.fs.list(path)).length > 0) return undefined;
    return { path, info: { ...info, size: 0 }, meta: undefined, etag: 'd41d8cd98f00b204e9800998ecf8427e' };
  }
  if (isDirKey(key)) return undefined;
  let meta: ObjectMeta | undefined;
  try {
    meta = validMeta(await loadMeta(ctx.fs, ctx.bucket, key, ctx.cache), info);
  } catch (err) {
    // The store is down and the sidecar's state is not cached: an object whose status and every
    // byte are cached is still served (with derived metadata, as a file written behind the
    // gateway's back is), rather than refused for want of its sidecar.
    if (!isOriginDown(err) || info.cachedBytes < info.size) throw toS3Error(err);
    meta = undefined;
  }
  return { path, info, meta, etag: etagOf(info, meta) };
}
