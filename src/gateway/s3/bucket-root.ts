import type { StrataFileSystem } from '../../client/types.js';
import { isStrataError, toStrataError } from '../../core/errors.js';
import { S3Error, toS3Error } from './errors.js';
import { bucketPath } from './keys.js';

/**
 * Where a new bucket's directory goes. A bucket is a top-level directory of the namespace, so
 * CreateBucket is a mkdir when a writable mount covers "/". Without one (a `strata local --mount
 * /sales=…` setup, or "/" read-only), the gateway's bucket root — a store URI, `s3.bucketRoot`
 * in the config, `--s3-bucket-root` on strata local, `--bucket-root` on strata gateway s3 — gives
 * each new bucket a mount of its own, `/<bucket>` → `<root>/<bucket>`, as a MinIO user expects
 * of a server with a data directory. The root itself is mounted at the hidden BUCKET_ROOT_MOUNT,
 * through which the bucket's directory is created in the store (by the workers, so it works for
 * any store on any host) and removed again by DeleteBucket. Mounts live in the registry: every
 * gateway of the cluster sees these buckets.
 */

/** The bucket root's own mount (not a bucket: names starting with "." are not addressable). */
export const BUCKET_ROOT_MOUNT = '/.strata-s3-buckets';

const trimSlash = (uri: string) => uri.replace(/\/+$/, '');

export function bucketUriIn(root: string, bucket: string): string {
  return `${trimSlash(root)}/${bucket}`;
}

function noStore(bucket: string, cause: unknown): S3Error {
  return new S3Error(
    'InvalidRequest',
    `Cannot create bucket "${bucket}": no writable store covers /${bucket} (${toStrataError(cause).message}). ` +
      'Mount a writable store at "/" (strata fs mount / file:///DIR), or give the gateway a bucket root ' +
      '(s3.bucketRoot in the config file, --s3-bucket-root on strata local, --bucket-root on strata gateway s3) ' +
      'to mount a directory of it for each new bucket',
    { cause },
  );
}

/** The bucket root mounted at BUCKET_ROOT_MOUNT (remounted when the configured root changed). */
async function ensureRootMount(fs: StrataFileSystem, root: string): Promise<void> {
  const current = (await fs.mounts()).find((m) => m.path === BUCKET_ROOT_MOUNT);
  if (current !== undefined && trimSlash(current.uri) === trimSlash(root)) return;
  try {
    if (current !== undefined) await fs.unmount(BUCKET_ROOT_MOUNT);
    await fs.mount(BUCKET_ROOT_MOUNT, trimSlash(root));
  } catch (err) {
    // Another gateway mounting the same root at the same moment is as good.
    const now = (await fs.mounts()).find((m) => m.path === BUCKET_ROOT_MOUNT);
    if (now !== undefined && trimSlash(now.uri) === trimSlash(root)) return;
    throw new S3Error(
      'InvalidRequest',
      `The gateway's bucket root ${root} cannot be mounted: ${toStrataError(err).message}`,
      { cause: err },
    );
  }
}

/**
 * Makes the bucket's directory: a mkdir where a writable mount covers it, else a mount in the
 * bucket root, else 400 saying what to configure. Other errors (a race: ALREADY_EXISTS,
 * MOUNT_CONFLICT) go to the caller.
 */
export async function makeBucketDirectory(
  fs: StrataFileSystem,
  bucket: string,
  root: string | undefined,
): Promise<void> {
  try {
    await fs.mkdir(bucketPath(bucket));
    return;
  } catch (err) {
    if (!isStrataError(err, 'NOT_MOUNTED') && !isStrataError(err, 'READ_ONLY')) throw err;
    if (root === undefined) throw noStore(bucket, err);
  }
  await ensureRootMount(fs, root);
  try {
    await fs.mkdir(`${BUCKET_ROOT_MOUNT}/${bucket}`);
  } catch (err) {
    // A directory left in the store (made outside Strata, or a mount removed by hand) is reused.
    if (!isStrataError(err, 'ALREADY_EXISTS')) throw toS3Error(err);
  }
  await fs.mount(bucketPath(bucket), bucketUriIn(root, bucket));
}

/**
 * Whether the bucket is a mount the bucket root made (its URI is the root's directory of that
 * name), which DeleteBucket may remove; any other mount point is an operator's.
 */
export async function isRootBucket(fs: StrataFileSystem, bucket: string): Promise<boolean> {
  const mounts = await fs.mounts();
  const root = mounts.find((m) => m.path === BUCKET_ROOT_MOUNT);
  const own = mounts.find((m) => m.path === bucketPath(bucket));
  return root !== undefined && own !== undefined && trimSlash(own.uri) === bucketUriIn(root.uri, bucket);
}

/** Removes a bucket the bucket root made: its mount, then its directory in the store. */
export async function removeRootBucket(fs: StrataFileSystem, bucket: string): Promise<void> {
  await fs.unmount(bucketPath(bucket));
  try {
    await fs.delete(`${BUCKET_ROOT_MOUNT}/${bucket}`, { recursive: true });
  } catch (err) {
    if (!isStrataError(err, 'NOT_FOUND')) throw toS3Error(err);
  }
}
