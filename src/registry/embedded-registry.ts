import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { StrataError } from '../core/errors.js';
import type { MountPersistence, MountRecord } from '../worker/mount-table.js';
import { mountInfo } from '../worker/mount-table.js';

/** A worker as the registry knows it. */
export interface WorkerEntry {
  readonly id: string;
  /** Base URL of its RPC endpoint. */
  readonly address: string;
  readonly capacityBytes: number;
  readonly state: 'ACTIVE' | 'DRAINING';
  readonly version: string;
  readonly startedAtMs: number;
}

/**
 * The registry of `strata local`: membership and the mount table for one process on one machine.
 * Mounts are persisted in `<dir>/mounts.json`, replaced atomically (write, fsync, rename) so a
 * crash leaves either the old or the new table. It serves a read-only HTTP view under
 * `/registry/v1/` that clients use to find workers (the etcd registry replaces this in a cluster).
 */
export class EmbeddedRegistry implements MountPersistence {
  private readonly workers = new Map<string, WorkerEntry>();
  private mounts = new Map<string, MountRecord>();
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly dir: string) {}

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    try {
      const text = await readFile(join(this.dir, 'mounts.json'), 'utf8');
      const parsed = JSON.parse(text) as { mounts: MountRecord[] };
      this.mounts = new Map(parsed.mounts.map((m) => [m.path, m]));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new StrataError('INTERNAL', `cannot read the mount table in ${this.dir}`, { cause: err });
      }
    }
  }

  async loadMounts(): Promise<MountRecord[]> {
    return [...this.mounts.values()];
  }

  async saveMount(record: MountRecord): Promise<void> {
    this.mounts.set(record.path, record);
    await this.persist();
  }

  async deleteMount(path: string): Promise<void> {
    this.mounts.delete(path);
    await this.persist();
  }

  registerWorker(entry: WorkerEntry): void {
    this.workers.set(entry.id, entry);
  }

  unregisterWorker(id: string): void {
    this.workers.delete(id);
  }

  listWorkers(): WorkerEntry[] {
    return [...this.workers.values()];
  }

  /** Serves GET /registry/v1/workers and /registry/v1/mounts; false for other paths. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://registry');
    if (!url.pathname.startsWith('/registry/v1/')) return false;
    let body: unknown;
    if (req.method === 'GET' && url.pathname === '/registry/v1/workers')
      body = { workers: this.listWorkers() };
    else if (req.method === 'GET' && url.pathname === '/registry/v1/mounts')
      body = { mounts: [...this.mounts.values()].map(mountInfo) };
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `no registry route ${url.pathname}` } }));
      return true;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
    return true;
  }

  /** Serialised, atomic replace of mounts.json. */
  private persist(): Promise<void> {
    const snapshot = JSON.stringify({ version: 1, mounts: [...this.mounts.values()] }, null, 2);
    this.writing = this.writing.then(async () => {
      const tmp = join(this.dir, `.mounts.${randomBytes(4).toString('hex')}.tmp`);
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(snapshot);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.dir, 'mounts.json'));
    });
    return this.writing;
  }
}
