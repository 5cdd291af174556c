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
  const path = treePath(ctx.bucket, key);
  if (path === undefined || (await findOverflow(ctx, key))) {
    await deleteOverflow(ctx, key);
    return;
  }
  try {
    const st = await ctx.fs.status(path, { syncIntervalMs: 0 });
    if (st.type === 'directory') {
      if (!isDirKey(key)) return;
      await ctx.fs.delete(path);
    } else {
      if (isDirKey(key)) return;
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
  await deleteMeta(ctx.fs, ctx.bucket, key, ctx.cache);
  ctx.cache.invalidate(parentOf(path));
  await pruneEmpty(ctx.fs, parentOf(path), bucketPath(ctx.bucket));
  await pruneEmpty(ctx.fs, parentOf(metaPath(ctx.bucket, key)), `${bucketPath(ctx.bucket)}/.strata-s3/meta`);
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
    try {
      await removeObject(ctx, key);
      deleted.push({ Key: key });
    } catch (err) {
      const e = toS3Error(err);
      errors.push({ Key: key, Code: e.code, Message: e.message });
    }
  }
  sendXml(ctx.res, 200, toXml('DeleteResult', { Deleted: quiet ? undefined : deleted, Error: errors }));
}
