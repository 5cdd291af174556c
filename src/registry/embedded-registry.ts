import { mkdir } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StrataError } from '../core/errors.js';
import type { MountPersistence, MountRecord } from '../core/mounts.js';
import { mountInfo } from '../core/mounts.js';
import { EmbeddedJobStore } from './embedded-jobs.js';
import { EmbeddedS3Users } from './embedded-s3-users.js';
import { JsonFile } from './json-file.js';
import type {
  JobRecord,
  LeaderHandle,
  MemberInfo,
  MemberRegistration,
  Registry,
  Unwatch,
  VersionedJob,
  WorkerInfo,
  WorkerRegistration,
} from './registry.js';
import { DEFAULT_LEASE_TTL_MS } from './registry.js';
import type { S3UserRecord } from './s3-users.js';

/** @deprecated use WorkerInfo; kept for callers of the single-process milestone. */
export type WorkerEntry = WorkerInfo;

export interface EmbeddedRegistryOptions {
  /** Default lease TTL of registerWorker (ms). */
  readonly leaseTtlMs?: number;
}

interface Lease {
  info: WorkerInfo;
  readonly registration: EmbeddedWorkerRegistration;
}

interface Candidate {
  readonly id: string;
  readonly elect: () => void;
}

/**
 * The registry of `strata local`: one process on one machine. Membership lives in memory with
 * leases (a registration keeps its lease alive with a timer, like an etcd client would); the
 * mount table, config and job records are JSON files under `dir`, each replaced atomically.
 * Watches and elections are in-process. It also serves a read-only HTTP view under
 * `/registry/v1/` that clients of `strata local` use to find workers.
 */
export class EmbeddedRegistry implements Registry, MountPersistence {
  readonly uri: string;
  private readonly dir: string;
  private readonly leaseTtlMs: number;
  private readonly leases = new Map<string, Lease>();
  private mounts = new Map<string, MountRecord>();
  private config = new Map<string, string>();
  /** One file per job under jobs/ (embedded-jobs.ts). */
  private readonly jobs: EmbeddedJobStore;
  /** S3 users in s3-users.json (embedded-s3-users.ts). */
  private readonly s3Users: EmbeddedS3Users;
  private readonly workerWatchers = new Set<(workers: WorkerInfo[]) => void>();
  private readonly mountWatchers = new Set<(mounts: MountRecord[]) => void>();
  private readonly elections = new Map<string, Candidate[]>();
  /** role → id → member; in-process, so they live exactly as long as their handles. */
  private readonly members = new Map<string, Map<string, { info: MemberInfo; handle: MemberRegistration }>>();
  private readonly mountsFile: JsonFile<{ version: 1; mounts: MountRecord[] }>;
  private readonly configFile: JsonFile<{ version: 1; config: Record<string, string> }>;
  private opened = false;

  constructor(dir: string, options: EmbeddedRegistryOptions = {}) {
    this.dir = resolve(dir);
    // embedded:///abs/dir, percent-encoded like a file URL so createRegistry() can read it back.
    this.uri = `embedded:${pathToFileURL(this.dir).href.slice('file:'.length)}`;
    this.leaseTtlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    this.mountsFile = new JsonFile(join(this.dir, 'mounts.json'));
    this.configFile = new JsonFile(join(this.dir, 'config.json'));
    this.jobs = new EmbeddedJobStore(this.dir);
    this.s3Users = new EmbeddedS3Users(this.dir);
  }

  async open(): Promise<void> {
    // Idempotent: createRegistry() opens, and callers may open again.
    if (this.opened) return;
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw new StrataError('INTERNAL', `cannot create the registry directory ${this.dir}`, { cause: err });
    }
    const [mounts, config] = await Promise.all([
      this.mountsFile.read(),
      this.configFile.read(),
      this.jobs.open(join(this.dir, 'jobs.json')),
      this.s3Users.open(),
    ]);
    this.mounts = new Map((mounts?.mounts ?? []).map((m) => [m.path, m]));
    this.config = new Map(Object.entries(config?.config ?? {}));
    this.opened = true;
  }

  async close(): Promise<void> {
    for (const lease of [...this.leases.values()]) lease.registration.dispose();
    this.leases.clear();
    this.workerWatchers.clear();
    this.mountWatchers.clear();
    this.elections.clear();
    this.members.clear();
    this.s3Users.close();
    await Promise.all([
      this.mountsFile.flush(),
      this.configFile.flush(),
      this.jobs.flush(),
      this.s3Users.flush(),
    ]);
  }

  // ---- membership ----

  async registerWorker(info: WorkerInfo, options: { leaseTtlMs?: number } = {}): Promise<WorkerRegistration> {
    const ttl = options.leaseTtlMs ?? this.leaseTtlMs;
    if (!(ttl > 0)) throw new StrataError('INVALID_ARGUMENT', `lease TTL must be positive, got ${ttl}`);
    // A second registration of the same id replaces the first (a restarted worker); the old
    // handle then no longer owns the entry.
    this.leases.get(info.id)?.registration.dispose();
    const registration = new EmbeddedWorkerRegistration(this, info.id, ttl);
    this.leases.set(info.id, { info: { ...info }, registration });
    this.notifyWorkers();
    return registration;
  }

  async listWorkers(): Promise<WorkerInfo[]> {
    return this.workerSnapshot();
  }

  async watchWorkers(onChange: (workers: WorkerInfo[]) => void): Promise<Unwatch> {
    this.workerWatchers.add(onChange);
    deliver(onChange, this.workerSnapshot());
    return () => {
      this.workerWatchers.delete(onChange);
    };
  }

  /** @internal used by EmbeddedWorkerRegistration */
  ownsLease(id: string, registration: EmbeddedWorkerRegistration): boolean {
    return this.leases.get(id)?.registration === registration;
  }

  /** @internal */
  updateLease(id: string, registration: EmbeddedWorkerRegistration, patch: Partial<WorkerInfo>): void {
    const lease = this.leases.get(id);
    if (lease?.registration !== registration)
      throw new StrataError('UNAVAILABLE', `worker ${id} no longer holds its registry lease`);
    lease.info = { ...lease.info, ...patch };
    this.notifyWorkers();
  }

  /** @internal */
  dropLease(id: string, registration: EmbeddedWorkerRegistration): void {
    if (this.leases.get(id)?.registration !== registration) return;
    this.leases.delete(id);
    this.notifyWorkers();
  }

  private workerSnapshot(): WorkerInfo[] {
    return [...this.leases.values()].map((l) => ({ ...l.info })).sort((a, b) => compare(a.id, b.id));
  }

  private notifyWorkers(): void {
    const snapshot = this.workerSnapshot();
    for (const w of this.workerWatchers) deliver(w, snapshot);
  }

  // ---- mounts ----

  async loadMounts(): Promise<MountRecord[]> {
    return this.mountSnapshot();
  }

  async saveMount(record: MountRecord): Promise<void> {
    this.mounts.set(record.path, record);
    await this.persistMounts();
  }

  async deleteMount(path: string): Promise<void> {
    if (!this.mounts.delete(path)) return;
    await this.persistMounts();
  }

  async watchMounts(onChange: (mounts: MountRecord[]) => void): Promise<Unwatch> {
    this.mountWatchers.add(onChange);
    deliver(onChange, this.mountSnapshot());
    return () => {
      this.mountWatchers.delete(onChange);
    };
  }

  private mountSnapshot(): MountRecord[] {
    return [...this.mounts.values()].sort((a, b) => compare(a.path, b.path));
  }

  private async persistMounts(): Promise<void> {
    const snapshot = this.mountSnapshot();
    await this.mountsFile.write({ version: 1, mounts: snapshot });
    for (const w of this.mountWatchers) deliver(w, snapshot);
  }

  // ---- config and jobs ----

  async getConfig(key: string): Promise<string | undefined> {
    return this.config.get(key);
  }

  async setConfig(key: string, value: string): Promise<void> {
    this.config.set(key, value);
    await this.configFile.write({ version: 1, config: Object.fromEntries(this.config) });
  }

  async initConfig(key: string, value: string): Promise<string> {
    const existing = this.config.get(key);
    if (existing !== undefined) return existing;
    await this.setConfig(key, value);
    return value;
  }

  async putJob(job: JobRecord): Promise<void> {
    if (!job.id) throw new StrataError('INVALID_ARGUMENT', 'a job record needs an id');
    await this.jobs.put(job);
  }

  async readJob(id: string): Promise<VersionedJob | undefined> {
    return this.jobs.read(id);
  }

  async putJobIf(job: JobRecord, version: number): Promise<number | undefined> {
    if (!job.id) throw new StrataError('INVALID_ARGUMENT', 'a job record needs an id');
    // Compared and set within one turn of the event loop: no other write can come between.
    if (this.jobs.versionOf(job.id) !== version) return undefined;
    return this.jobs.put(job);
  }

  async deleteJob(id: string): Promise<void> {
    await this.jobs.delete(id);
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    return this.jobs.get(id);
  }

  async listJobs(): Promise<JobRecord[]> {
    return this.jobs.list().sort((a, b) => compare(a.id, b.id));
  }

  // ---- S3 users ----

  async listS3Users(): Promise<S3UserRecord[]> {
    return this.s3Users.list();
  }

  createS3User(user: S3UserRecord): Promise<boolean> {
    return this.s3Users.create(user);
  }

  saveS3User(user: S3UserRecord): Promise<void> {
    return this.s3Users.save(user);
  }

  updateS3User(
    name: string,
    change: (current: S3UserRecord) => S3UserRecord,
  ): Promise<S3UserRecord | undefined> {
    return this.s3Users.update(name, change);
  }

  deleteS3User(name: string): Promise<boolean> {
    return this.s3Users.delete(name);
  }

  async watchS3Users(onChange: (users: S3UserRecord[]) => void): Promise<Unwatch> {
    return this.s3Users.watch(onChange);
  }

  // ---- members (in-process: no lease timer, a member goes with its handle or the registry) ----

  async registerMember(role: string, info: MemberInfo): Promise<MemberRegistration> {
    let byId = this.members.get(role);
    if (byId === undefined) {
      byId = new Map();
      this.members.set(role, byId);
    }
    const group = byId;
    const handle: MemberRegistration = {
      close: async () => {
        if (group.get(info.id)?.handle === handle) group.delete(info.id);
      },
    };
    group.set(info.id, { info: { ...info }, handle });
    return handle;
  }

  async listMembers(role: string): Promise<MemberInfo[]> {
    return [...(this.members.get(role)?.values() ?? [])]
      .map((m) => ({ ...m.info }))
      .sort((a, b) => compare(a.id, b.id));
  }

  // ---- election: one FIFO queue per role; the head is the leader ----

  async campaign(role: string, candidateId: string): Promise<LeaderHandle> {
    let queue = this.elections.get(role);
    if (queue === undefined) {
      queue = [];
      this.elections.set(role, queue);
    }
    let elect!: () => void;
    const elected = new Promise<void>((ok) => {
      elect = ok;
    });
    const candidate: Candidate = { id: candidateId, elect };
    queue.push(candidate);
    if (queue[0] === candidate) elect();
    return {
      elected,
      // In one process nothing but resign() takes leadership away.
      lost: new Promise<Error>(() => undefined),
      resign: async () => {
        const q = this.elections.get(role);
        if (q === undefined) return;
        const i = q.indexOf(candidate);
        if (i < 0) return;
        q.splice(i, 1);
        if (i === 0) q[0]?.elect();
      },
    };
  }

  async leader(role: string): Promise<string | undefined> {
    return this.elections.get(role)?.[0]?.id;
  }

  // ---- HTTP view ----

  /**
   * Serves GET /registry/v1/workers, /registry/v1/mounts and /registry/v1/members/ROLE
   * ({members, leader}: the role's members and its elected leader's id, or null); false for other paths.
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://registry');
    if (!url.pathname.startsWith('/registry/v1/')) return false;
    let body: unknown;
    if (req.method === 'GET' && url.pathname === '/registry/v1/workers')
      body = { workers: this.workerSnapshot() };
    else if (req.method === 'GET' && url.pathname === '/registry/v1/mounts')
      body = { mounts: this.mountSnapshot().map(mountInfo) };
    else if (req.method === 'GET' && url.pathname.startsWith('/registry/v1/members/')) {
      const role = safeDecode(url.pathname.slice('/registry/v1/members/'.length));
      if (role !== undefined && role !== '' && !role.includes('/'))
        body = { members: await this.listMembers(role), leader: (await this.leader(role)) ?? null };
    }
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `no registry route ${url.pathname}` } }));
      return true;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
    return true;
  }
}

/**
 * A worker's lease in the embedded registry. A keepalive timer renews it every TTL/3; when
 * renewals stop (stopKeepAlive(), the in-process stand-in for a crash) the lease expires after
 * the TTL, the worker leaves the membership and onLost is called.
 */
export class EmbeddedWorkerRegistration implements WorkerRegistration {
  onLost?: (err: unknown) => void;
  renewedAtMs = 0;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private readonly registry: EmbeddedRegistry,
    private readonly id: string,
    private readonly ttlMs: number,
  ) {
    this.renew();
    this.keepAliveTimer = setInterval(() => this.renew(), Math.max(1, Math.floor(ttlMs / 3)));
    this.keepAliveTimer.unref();
  }

  async update(patch: Partial<Pick<WorkerInfo, 'state' | 'capacityBytes'>>): Promise<void> {
    if (this.done) throw new StrataError('UNAVAILABLE', `worker ${this.id} is no longer registered`);
    this.registry.updateLease(this.id, this, patch);
  }

  async close(): Promise<void> {
    if (this.done) return;
    this.dispose();
    this.registry.dropLease(this.id, this);
  }

  /** Stops renewing the lease without revoking it, as a crashed process would. */
  stopKeepAlive(): void {
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
  }

  /** @internal stops the timers; the registry removes the entry itself. */
  dispose(): void {
    this.done = true;
    clearInterval(this.keepAliveTimer);
    clearTimeout(this.expiryTimer);
  }

  private renew(): void {
    clearTimeout(this.expiryTimer);
    this.renewedAtMs = Date.now();
    // Not unref'd: a live lease keeps the process up, as etcd3's keepalive does; close() ends it.
    this.expiryTimer = setTimeout(() => this.expire(), this.ttlMs);
  }

  private expire(): void {
    if (this.done) return;
    const owned = this.registry.ownsLease(this.id, this);
    this.dispose();
    if (!owned) return;
    this.registry.dropLease(this.id, this);
    this.onLost?.(new StrataError('UNAVAILABLE', `the registry lease of worker ${this.id} expired`));
  }
}

/** A throwing watcher must not break the registry or the other watchers. */
function deliver<T>(listener: (value: T) => void, value: T): void {
  try {
    listener(value);
  } catch {
    // The watcher's own bug; nothing sensible to do with it here.
  }
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
