import { createHash, type Hash } from 'node:crypto';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isStrataError, StrataError } from '../core/errors.js';
import type { CallOptions, FileInfo, StrataFileSystem } from '../core/file-system.js';
import { isWithin, normalizePath, relativeTo } from '../core/paths.js';

/**
 * The copy and move kinds, one file at a time, through the cache (the scheduler streams the bytes
 * from the source's owner to the destination's owner; memory is the streams' buffers).
 *
 * Where a file goes: the job copies SRC to DST the way `mv SRC DST` names things — a file SRC
 * becomes DST, a directory SRC's file SRC/a/b becomes DST/a/b.
 *
 * A copy is verified before it counts (and before move deletes the source):
 * - it is written CACHE_THROUGH, so the write returns only once the destination store has it;
 * - the destination's status read again from its store (sync interval 0) has the source's size,
 *   and when the store's ETag is a plain MD5 (S3 single-part uploads) it equals the MD5 of the
 *   bytes sent;
 * - the destination read back has the SHA-256 of the bytes sent.
 * An existing destination is replaced only with `overwrite`; without it a destination that
 * already holds the same bytes (a copy done before a restart) is `skipped`, anything else is
 * ALREADY_EXISTS for that file.
 */

export interface CopyOptions {
  readonly overwrite: boolean;
  /** Delete the source once its copy is verified (the move kind). */
  readonly move: boolean;
}

/** The destination of `file` in a job from `root` to `dst`. */
export function destinationOf(root: string, dst: string, file: string): string {
  const rel = relativeTo(file, root);
  return rel === '/' ? dst : normalizePath(`${dst}${rel}`);
}

/** Submit-time checks of a copy or move from `src` to `dst` (both normalised): nothing changes on a refusal. */
export async function checkCopyPaths(
  fs: StrataFileSystem,
  kind: string,
  src: string,
  dst: string,
  call: CallOptions = {},
): Promise<void> {
  if (src === dst) throw new StrataError('INVALID_ARGUMENT', `${kind} of ${src} onto itself`);
  if (isWithin(dst, src))
    throw new StrataError('INVALID_ARGUMENT', `${kind} destination ${dst} lies inside its source ${src}`);
  if (isWithin(src, dst))
    throw new StrataError('INVALID_ARGUMENT', `${kind} destination ${dst} contains its source ${src}`);
  const root = await fs.status(src, call);
  if (root.type === 'file') {
    const target = await statusOrUndefined(fs, dst, call);
    if (target?.type === 'directory')
      throw new StrataError(
        'INVALID_ARGUMENT',
        `${kind} of the file ${src} onto the directory ${dst}: name the destination file`,
      );
  }
  // The destination must lie in a writable mount: resolve its mount now rather than at the first file.
  const mounts = await fs.mounts(call);
  const holder = mounts.filter((m) => isWithin(dst, m.path)).sort((a, b) => b.path.length - a.path.length)[0];
  if (holder === undefined) throw new StrataError('NOT_MOUNTED', `no mount holds ${dst}`);
  if (holder.readOnly)
    throw new StrataError('READ_ONLY', `the mount ${holder.path} holding ${dst} is read-only`);
  if (kind === 'move') {
    const source = mounts
      .filter((m) => isWithin(src, m.path))
      .sort((a, b) => b.path.length - a.path.length)[0];
    if (source?.readOnly)
      throw new StrataError('READ_ONLY', `move needs to delete from ${src}, but ${source.path} is read-only`);
  }
}

/** Copies one file (and for move deletes its source); 'skipped' when the destination already held the bytes. */
export async function copyFile(
  fs: StrataFileSystem,
  file: FileInfo,
  dst: string,
  options: CopyOptions,
  call: CallOptions = {},
): Promise<'done' | 'skipped'> {
  const existing = await statusOrUndefined(fs, dst, call);
  if (existing?.type === 'directory')
    throw new StrataError('ALREADY_EXISTS', `the destination ${dst} is a directory`, {
      details: { path: dst },
    });
  let outcome: 'done' | 'skipped' = 'done';
  if (existing !== undefined && !options.overwrite) {
    if (
      existing.size !== file.size ||
      (await sha256Of(fs, dst, call)) !== (await sha256Of(fs, file.path, call))
    )
      throw new StrataError('ALREADY_EXISTS', `${dst} exists (use overwrite to replace it)`, {
        details: { path: dst },
      });
    outcome = 'skipped';
  } else {
    await sendVerified(fs, file, dst, call);
  }
  if (options.move) await fs.delete(file.path, call);
  return outcome;
}

async function sendVerified(
  fs: StrataFileSystem,
  file: FileInfo,
  dst: string,
  call: CallOptions,
): Promise<void> {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  let sent = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      sha.update(chunk);
      md5.update(chunk);
      sent += chunk.length;
      done(null, chunk);
    },
  });
  const source = await fs.read(file.path, call.signal ? { signal: call.signal } : {});
  const body = source.pipe(tap);
  source.once('error', (err) => body.destroy(err));
  const written = await fs.write(dst, body, {
    writeType: 'CACHE_THROUGH',
    size: file.size,
    ...(call.signal ? { signal: call.signal } : {}),
  });
  const sentSha = sha.digest('hex');
  const sentMd5 = md5.digest('hex');
  const fail = (why: string) =>
    new StrataError('CHECKSUM_MISMATCH', `the copy ${dst} of ${file.path} does not verify: ${why}`, {
      details: { path: file.path },
    });
  if (sent !== file.size || written.size !== sent) throw fail(`sent ${sent} of ${file.size} bytes`);
  const stored = await fs.status(dst, { ...call, syncIntervalMs: 0 });
  if (stored.size !== sent) throw fail(`the store holds ${stored.size} bytes, ${sent} were sent`);
  const etag = stored.etag?.replace(/"/g, '').toLowerCase();
  if (etag !== undefined && /^[0-9a-f]{32}$/.test(etag) && etag !== sentMd5)
    throw fail(`the store's MD5 ${etag} is not the MD5 ${sentMd5} of the bytes sent`);
  if ((await sha256Of(fs, dst, call)) !== sentSha)
    throw fail('the bytes read back differ from the bytes sent');
}

async function sha256Of(fs: StrataFileSystem, path: string, call: CallOptions): Promise<string> {
  const hash: Hash = createHash('sha256');
  const stream: Readable = await fs.read(path, call.signal ? { signal: call.signal } : {});
  await pipeline(stream, async (chunks: AsyncIterable<Buffer>) => {
    for await (const c of chunks) hash.update(c);
  });
  return hash.digest('hex');
}

async function statusOrUndefined(
  fs: StrataFileSystem,
  path: string,
  call: CallOptions,
): Promise<FileInfo | undefined> {
  try {
    return await fs.status(path, { ...call, syncIntervalMs: 0 });
  } catch (err) {
    if (isStrataError(err, 'NOT_FOUND')) return undefined;
    throw err;
  }
}

/**
 * After a move: removes the directories below (and including) `root` that are empty, deepest
 * first. A directory that still holds anything (a file added during the move, a failed one) is
 * left, as is a mount point; stores without real directories (S3) have nothing to remove.
 */
export async function removeEmptyDirectories(
  fs: StrataFileSystem,
  root: string,
  call: CallOptions = {},
): Promise<void> {
  const visit = async (dir: string): Promise<boolean> => {
    let entries: readonly FileInfo[];
    try {
      entries = await fs.list(dir, { ...call, syncIntervalMs: 0 });
    } catch (err) {
      if (isStrataError(err, 'NOT_FOUND')) return true;
      throw err;
    }
    let empty = true;
    for (const e of entries) {
      if (e.type !== 'directory' || !(await visit(e.path))) empty = false;
    }
    if (!empty) return false;
    try {
      await fs.delete(dir, call);
      return true;
    } catch (err) {
      if (isStrataError(err, 'NOT_FOUND')) return true;
      if (isStrataError(err, 'DIRECTORY_NOT_EMPTY') || isStrataError(err, 'MOUNT_CONFLICT')) return false;
      throw err;
    }
  };
  await visit(root);
}
