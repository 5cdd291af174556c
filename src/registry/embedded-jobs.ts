import { createHash } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../core/errors.js';
import { JsonFile } from './json-file.js';
import type { JobRecord, VersionedJob } from './registry.js';

/**
 * The job records of the embedded registry: one JSON file per job under `<dir>/jobs/`, each
 * replaced atomically (JsonFile: temp file, fsync, rename, fsync of the directory), so a write
 * costs one small record whatever the number of jobs. (The former single jobs.json was rewritten
 * whole on every progress write: 12 ms per write with 1,000 jobs on the test machine, growing
 * with the count; it is migrated on open.) Versions come from one revision counter, as etcd's mod
 * revision; its high-water mark survives deletes in `revision.json`, so a re-created id never
 * gets a version a stale writer still holds.
 */

interface StoredJob {
  readonly version: 1;
  readonly revision: number;
  readonly job: JobRecord;
}

const MAX_NAME = 200;

/** A file name for an id: readable when short and safe, else a hash (the id is read from the content). */
function fileName(id: string): string {
  const encoded = encodeURIComponent(id);
  return encoded.length <= MAX_NAME && !encoded.startsWith('.')
    ? `${encoded}.json`
    : `h-${createHash('sha256').update(id).digest('hex')}.json`;
}

export class EmbeddedJobStore {
  private readonly dir: string;
  private jobs = new Map<string, JobRecord>();
  private versions = new Map<string, number>();
  private revision = 0;
  /** Per id, the writes and deletes of its file in the order they were made. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly revisionFile: JsonFile<{ version: 1; revision: number }>;

  constructor(registryDir: string) {
    this.dir = join(registryDir, 'jobs');
    this.revisionFile = new JsonFile(join(this.dir, 'revision.json'));
  }

  /** Loads the records; `legacyFile` is the former single jobs.json, migrated when present. */
  async open(legacyFile: string): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw new StrataError('INTERNAL', `cannot create ${this.dir}`, { cause: err });
    }
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.json') && n !== 'revision.json');
    // Read 32 at a time: opening with thousands of records stays quick without thousands of open files.
    for (let i = 0; i < names.length; i += 32) {
      const read = await Promise.all(
        names.slice(i, i + 32).map((n) => new JsonFile<StoredJob>(join(this.dir, n)).read()),
      );
      for (const stored of read) {
        if (stored === undefined || typeof stored.job?.id !== 'string') continue;
        this.jobs.set(stored.job.id, stored.job);
        this.versions.set(stored.job.id, stored.revision);
      }
    }
    this.revision = Math.max(0, (await this.revisionFile.read())?.revision ?? 0, ...this.versions.values());
    // Migration from the single jobs.json: written out per job, then removed (re-run if interrupted).
    const old = await new JsonFile<{ version: 1; jobs: JobRecord[]; versions?: Record<string, number> }>(
      legacyFile,
    ).read();
    if (old !== undefined) {
      for (const job of old.jobs) {
        const v = old.versions?.[job.id] ?? 1;
        this.revision = Math.max(this.revision, v);
        this.jobs.set(job.id, job);
        this.versions.set(job.id, v);
        await this.enqueue(job.id, () => this.writeFile(job, v));
      }
      await rm(legacyFile, { force: true });
    }
  }

  async flush(): Promise<void> {
    await Promise.all([...this.chains.values(), this.revisionFile.flush()]);
  }

  read(id: string): VersionedJob | undefined {
    const job = this.jobs.get(id);
    return job === undefined ? undefined : { job: structuredClone(job), version: this.versions.get(id) ?? 1 };
  }

  get(id: string): JobRecord | undefined {
    const job = this.jobs.get(id);
    return job === undefined ? undefined : structuredClone(job);
  }

  list(): JobRecord[] {
    return [...this.jobs.values()].map((j) => structuredClone(j));
  }

  /** The current version of `id` (0: none). */
  versionOf(id: string): number {
    return this.jobs.has(id) ? (this.versions.get(id) ?? 1) : 0;
  }

  /** Stores the record now (in memory) and resolves with its version once it is durable. */
  async put(job: JobRecord): Promise<number> {
    const version = ++this.revision;
    const copy = structuredClone(job);
    this.jobs.set(job.id, copy);
    this.versions.set(job.id, version);
    await this.enqueue(job.id, () => this.writeFile(copy, version));
    return version;
  }

  async delete(id: string): Promise<void> {
    if (!this.jobs.delete(id)) return;
    this.versions.delete(id);
    const revision = this.revision;
    await this.enqueue(id, async () => {
      await this.revisionFile.write({ version: 1, revision });
      try {
        await rm(join(this.dir, fileName(id)), { force: true });
      } catch (err) {
        throw new StrataError('INTERNAL', `cannot delete the record of job ${id}`, { cause: err });
      }
    });
  }

  private writeFile(job: JobRecord, revision: number): Promise<void> {
    return new JsonFile<StoredJob>(join(this.dir, fileName(job.id))).write({ version: 1, revision, job });
  }

  private enqueue(id: string, op: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(id) ?? Promise.resolve()).then(op);
    const settled = next.catch(() => undefined);
    this.chains.set(id, settled);
    // Forget an id's chain once it is idle, so the map stays as small as the writes in flight.
    settled.then(() => {
      if (this.chains.get(id) === settled) this.chains.delete(id);
    });
    return next;
  }
}
