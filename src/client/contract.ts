import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ABORT_CASES } from './contract/abort-cases.js';
import { CACHE_CASES } from './contract/cache-cases.js';
import { CAPABILITY_CASES } from './contract/capability-cases.js';
import { READ_CASES, WRITE_CASES } from './contract/data-cases.js';
import { ERROR_CASES } from './contract/error-cases.js';
import { fileUri, mountedPaths, source } from './contract/helpers.js';
import { JOB_BATCH_CASES } from './contract/job-batch-cases.js';
import { LISTING_CASES } from './contract/listing-cases.js';
import { METADATA_CASES } from './contract/metadata-cases.js';
import { MOUNT_CASES } from './contract/mount-cases.js';
import {
  type FsCaseContext,
  type FsContractCase,
  type FsContractContext,
  type FsContractTarget,
  READ_ONLY_FIXTURE,
} from './contract/types.js';

export * from './contract/types.js';

/**
 * The one contract suite of the client API (StrataFileSystem, src/core/file-system.ts). Every
 * implementation runs it — the in-process worker, RemoteFileSystem over the worker RPC,
 * ClusterFileSystem over several workers, and the test fake — through test/helpers/fs-contract.ts.
 *
 * The suite mounts three file:// stores of its own under a prefix (a writable one, a second one
 * for cross-mount checks and a read-only one seeded through a writable mount of the same store),
 * gives every case its own directory in the writable mount, and unmounts everything afterwards.
 * Cases state the semantics they check in their names and declare what they need beyond the
 * interface (optional capability methods, real stores behind the mounts, no mount on "/").
 */
export const FS_CONTRACT_CASES: readonly FsContractCase[] = [
  ...WRITE_CASES,
  ...READ_CASES,
  ...METADATA_CASES,
  ...LISTING_CASES,
  ...ERROR_CASES,
  ...MOUNT_CASES,
  ...CACHE_CASES,
  ...ABORT_CASES,
  ...CAPABILITY_CASES,
  ...JOB_BATCH_CASES,
];

// ---- preparation -------------------------------------------------------------------------------

/**
 * Mounts the suite's stores under the prefix: `<prefix>` (writable), `<prefix>-b` (writable) and
 * `<prefix>-ro` (read-only, seeded through a writable mount of the same store first). Returns
 * the context and a cleanup that unmounts them and removes their directories.
 */
export async function prepareFsContract(
  target: FsContractTarget,
): Promise<{ ctx: FsContractContext; cleanup: () => Promise<void> }> {
  const { fs } = target;
  const prefix = target.prefix ?? `/fsc-${randomBytes(4).toString('hex')}`;
  const local = join(target.scratchDir, prefix.slice(1));
  const dirs = { main: join(local, 'main'), other: join(local, 'other'), ro: join(local, 'ro') };
  for (const d of Object.values(dirs)) await mkdir(d, { recursive: true });
  const rootMounted = (await mountedPaths(fs)).includes('/');
  const mounted: string[] = [];
  const ctx: FsContractContext = {
    fs,
    target,
    mount: prefix,
    mountDir: dirs.main,
    otherMount: `${prefix}-b`,
    readOnlyMount: `${prefix}-ro`,
    unmounted: `${prefix}-nowhere`,
    rootMounted,
    prefix,
  };
  const cleanup = async (): Promise<void> => {
    for (const m of mounted.splice(0).reverse()) await fs.unmount(m).catch(() => undefined);
    await target.settle?.().catch(() => undefined);
    await rm(local, { recursive: true, force: true });
    await rm(join(target.scratchDir, `${prefix.slice(1)}-stores`), { recursive: true, force: true });
  };
  try {
    const mountAt = async (path: string, dir: string, readOnly = false): Promise<void> => {
      await fs.mount(path, fileUri(dir), readOnly ? { readOnly } : {});
      mounted.push(path);
      await target.settle?.();
    };
    await mountAt(ctx.mount, dirs.main);
    await mountAt(ctx.otherMount, dirs.other);
    await mountAt(ctx.readOnlyMount, dirs.ro);
    await fs.write(`${ctx.readOnlyMount}/fixture.txt`, source(READ_ONLY_FIXTURE));
    await fs.mkdir(`${ctx.readOnlyMount}/empty`);
    await fs.unmount(ctx.readOnlyMount);
    mounted.pop();
    await target.settle?.();
    await mountAt(ctx.readOnlyMount, dirs.ro, true);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { ctx, cleanup };
}

/** Why a case does not apply to a target (undefined when it does). */
export function fsCaseSkipReason(ctx: FsContractContext, c: FsContractCase): string | undefined {
  for (const need of c.needs ?? []) {
    if (need === 'stores' && !ctx.target.servesStores) return 'mounts do not serve real stores';
    if (need === 'unmountedPaths' && ctx.rootMounted) return '"/" is mounted: no path is outside every mount';
    if (
      (need === 'readBuffer' ||
        need === 'peekFile' ||
        need === 'cachedBytesOf' ||
        need === 'location' ||
        need === 'jobBatch') &&
      ctx.fs[need] === undefined
    )
      return `the implementation offers no ${need}()`;
  }
  return undefined;
}

/** The case's own directory name: its position and a slug of its name. */
export function fsCaseDirName(c: FsContractCase): string {
  const i = FS_CONTRACT_CASES.indexOf(c);
  const slug = c.name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 48)
    .replace(/-$/, '');
  return `${String(i < 0 ? 99 : i).padStart(2, '0')}-${slug}`;
}

/** Creates the case's directory and returns its context. */
export async function fsCaseContext(ctx: FsContractContext, c: FsContractCase): Promise<FsCaseContext> {
  const name = fsCaseDirName(c);
  const dir = `${ctx.mount}/${name}`;
  await ctx.fs.mkdir(dir);
  return { ...ctx, dir, localDir: join(ctx.mountDir, name) };
}
