import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadPageSealer } from '../cache/page-seal.js';
import type { TierConfig } from '../cache/page-store.js';
import { TieredPageStore } from '../cache/tiered-page-store.js';
import type { ServerConfig } from '../core/config.js';
import { isStrataError, StrataError, toStrataError } from '../core/errors.js';
import { logger } from '../core/log.js';
import { redactUri } from '../core/mounts.js';
import { normalizePath } from '../core/paths.js';
import { LevelMetaStore } from '../meta/level-meta-store.js';
import type { Registry } from '../registry/registry.js';
import { WorkerFileSystem } from '../worker/file-system.js';
import { storeInstrumentation, WorkerMetrics } from '../worker/metrics.js';
import { MountTable } from '../worker/mount-table.js';
import { StagingArea } from '../worker/staging.js';

export const VERSION = '0.1.0';

/** Parses "PATH=URI" (the --mount flag). */
export function parseMountFlag(text: string): { path: string; uri: string } {
  const i = text.indexOf('=');
  if (i <= 0) throw new StrataError('INVALID_ARGUMENT', `--mount takes PATH=URI, got "${text}"`);
  return { path: normalizePath(text.slice(0, i)), uri: text.slice(i + 1) };
}

/**
 * One worker's parts, assembled from configuration: metadata store, page store, staging area,
 * mount table (persisted by the registry) and the file system on top of them.
 */
export class WorkerNode {
  readonly metrics = new WorkerMetrics();
  readonly meta: LevelMetaStore;
  readonly pages: TieredPageStore;
  readonly staging: StagingArea;
  readonly mounts: MountTable;
  fs!: WorkerFileSystem;
  id = '';

  constructor(
    readonly config: ServerConfig,
    readonly registry: Registry,
  ) {
    const dir = resolve(config.dataDir);
    this.meta = new LevelMetaStore(join(dir, 'meta'));
    const tiers: TierConfig[] = [];
    if (config.memoryCapacity > 0)
      tiers.push({ name: 'memory', kind: 'memory', capacityBytes: config.memoryCapacity });
    if (config.diskCapacity > 0)
      tiers.push({
        name: 'disk0',
        kind: 'disk',
        dir: join(dir, 'pages'),
        capacityBytes: config.diskCapacity,
      });
    this.pages = new TieredPageStore({
      pageSize: config.pageSize,
      tiers,
      eviction: config.eviction,
      ...(config.diskEncryptionKeyFile === undefined
        ? {}
        : { diskSealer: loadPageSealer(config.diskEncryptionKeyFile) }),
    });
    this.staging = new StagingArea(join(dir, 'staging'));
    this.mounts = new MountTable(registry, {
      ...storeInstrumentation(this.metrics),
      deadlineMs: config.storeDeadlineMs,
    });
  }

  /**
   * `defaultRootMount`: with nothing mounted, mount "/" on <dataDir>/ufs (strata local). Cluster
   * workers take the mount table from the registry instead.
   */
  async start(
    address: string,
    registryUri: string,
    options: { defaultRootMount?: boolean } = {},
  ): Promise<void> {
    const dir = resolve(this.config.dataDir);
    await mkdir(dir, { recursive: true });
    this.id = await workerId(dir);
    try {
      await this.meta.open();
    } catch (err) {
      throw new StrataError(
        'UNAVAILABLE',
        `cannot open the metadata store in ${dir}/meta (is another Strata process using this data dir?)`,
        { cause: err },
      );
    }
    await this.pages.open();
    for (const report of this.pages.openReports) logger('page_store_opened', { ...report });
    await this.staging.open();
    await this.mounts.open();
    this.fs = new WorkerFileSystem({
      id: this.id,
      address,
      registryUri,
      version: VERSION,
      mounts: this.mounts,
      meta: this.meta,
      pages: this.pages,
      staging: this.staging,
      metrics: this.metrics,
      readaheadPages: this.config.readaheadPages,
      persistDelayMs: this.config.persistDelayMs,
      ttlCheckIntervalMs: this.config.ttlCheckIntervalMs,
      log: logger,
      startedAtMs: Date.now(),
    });
    await this.fs.start();
    await this.applyMountFlags(dir, options.defaultRootMount ?? true);
  }

  /**
   * Mounts from flags/config: added if absent, replaced if the URI differs; "/" on <dataDir>/ufs
   * when nothing is mounted. A mount whose store does not answer (down, unreachable, silent past
   * its deadline) does not stop the worker: it is added pending — its calls fail UFS_UNAVAILABLE
   * saying so — and checked in the background until the store answers (MountTable.addPending).
   */
  private async applyMountFlags(dir: string, defaultRootMount: boolean): Promise<void> {
    const wanted = this.config.mounts.map(parseMountFlag);
    for (const m of wanted.sort((a, b) => a.path.length - b.path.length)) {
      const existing = this.mounts.get(m.path);
      if (existing?.record.uri === m.uri) continue;
      if (existing) await this.fs.unmount(m.path);
      try {
        await this.fs.mount(m.path, m.uri);
      } catch (err) {
        if (!STORE_DOWN.some((code) => isStrataError(err, code))) throw err;
        await this.mountPending(m.path, m.uri, err);
      }
    }
    if (defaultRootMount && this.mounts.list().length === 0) {
      const ufs = join(dir, 'ufs');
      await mkdir(ufs, { recursive: true });
      await this.fs.mount('/', pathToFileURL(ufs).toString());
    }
  }

  private async mountPending(path: string, uri: string, cause: unknown): Promise<void> {
    const record = MountTable.validate(path, uri);
    const fields = { path: record.path, uri: redactUri(uri) };
    await this.mounts.addPending(record, cause, () => logger('mount_available', fields));
    // What NamespaceOps.mount does after adding: statuses cached below the new mount point are stale.
    await this.meta.deleteTree(record.path);
    await this.meta.invalidate(record.path);
    logger('mount_unavailable', { ...fields, error: toStrataError(cause).message, retrying: true });
  }

  async stop(): Promise<void> {
    const steps: Array<() => Promise<void>> = [
      () => this.fs?.stop(),
      () => this.mounts.close(),
      () => this.pages.close(),
      () => this.meta.close(),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        logger('shutdown_error', { error: toStrataError(err).message });
      }
    }
  }
}

/** Errors of a store that does not answer (as opposed to one that refuses the mount). */
const STORE_DOWN = ['UFS_UNAVAILABLE', 'TIMEOUT', 'UNAVAILABLE'] as const;

/** A stable worker id kept in the data dir. */
async function workerId(dir: string): Promise<string> {
  const file = join(dir, 'worker-id');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const id = `worker-${randomBytes(4).toString('hex')}`;
    await writeFile(file, `${id}\n`);
    return id;
  }
}
