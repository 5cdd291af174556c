import type { Election, Etcd3, Namespace, Watcher } from 'etcd3';
import { StrataError } from '../core/errors.js';
import type { MountRecord } from '../core/mounts.js';
import { etcdCredentials, loadClientCa } from '../core/tls-options.js';
import { encodeKey, translateEtcdError } from './etcd-errors.js';
import { hostBreaker, watchBackoff } from './etcd-fault-handling.js';
import { EtcdWorkerRegistration } from './etcd-lease-registration.js';
import * as s3Users from './etcd-s3-users.js';
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

export { translateEtcdError } from './etcd-errors.js';
export { EtcdWorkerRegistration } from './etcd-lease-registration.js';

export const DEFAULT_ETCD_PREFIX = '/strata/';
export const DEFAULT_CALL_TIMEOUT_MS = 5000;

export interface EtcdRegistryOptions {
  /** Key prefix of every key Strata writes (default "/strata/"). A path in the URI overrides it. */
  readonly prefix?: string;
  /** Default lease TTL of registerWorker (ms); etcd counts in whole seconds, so it is rounded up. */
  readonly leaseTtlMs?: number;
  /** Deadline of every call (ms). */
  readonly callTimeoutMs?: number;
}

/**
 * Parses etcd://host:port[,host2:port2...][/prefix/] into gRPC endpoints and an optional key
 * prefix; etcds:// is the same over TLS (https endpoints).
 */
export function parseEtcdUri(uri: string): { hosts: string[]; prefix: string | undefined; tls: boolean } {
  const m = /^etcd(s?):\/\/([^/?#]+)(\/[^?#]*)?$/.exec(uri);
  if (m === null)
    throw new StrataError('INVALID_URI', `not an etcd URI: ${uri} (expected etcd://host:port or etcds://)`);
  const tls = m[1] === 's';
  const hosts: string[] = [];
  for (const part of (m[2] ?? '').split(',')) {
    const hp = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(part);
    if (hp === null || Number(hp[2]) < 1 || Number(hp[2]) > 65535)
      throw new StrataError('INVALID_URI', `etcd endpoint must be host:port, got "${part}" in ${uri}`);
    hosts.push(`${tls ? 'https' : 'http'}://${hp[1]}:${hp[2]}`);
  }
  const path = m[3];
  const prefix = path === undefined || path === '/' ? undefined : path.endsWith('/') ? path : `${path}/`;
  return { hosts, prefix, tls };
}

/** What etcd3 keeps private and the election clean-up needs: the election's own watch manager. */
interface ElectionInternals {
  readonly namespace?: { readonly watchManager?: { readonly watchers?: readonly Watcher[] } };
}

const WORKERS = 'workers/';
const MOUNTS = 'mounts/';
const CONFIG = 'config/';
const JOBS = 'jobs/';
const MEMBERS = 'members/';

/**
 * The cluster registry on etcd (npm etcd3, loaded on open()). Keys under the prefix:
 * `workers/<id>` (JSON WorkerInfo on the worker's lease), `mounts/<encoded path>` (JSON
 * MountRecord), `config/<key>`, `jobs/<id>`, `members/<role>/<id>` (JSON MemberInfo on
 * its lease), and `election/<role>/<lease>` for elections.
 * Every call has a deadline and fails with UNAVAILABLE when etcd cannot be reached in time.
 */
export class EtcdRegistry implements Registry {
  readonly uri: string;
  readonly prefix: string;
  private readonly hosts: string[];
  private readonly tls: boolean;
  private readonly leaseTtlMs: number;
  readonly callTimeoutMs: number;
  private client: Etcd3 | undefined;
  private nsRef: Namespace | undefined;
  private readonly registrations = new Set<EtcdWorkerRegistration>();
  private readonly unwatches = new Set<Unwatch>();
  /** Elections campaigned in and not resigned: their watches are cancelled on close(). */
  private readonly elections = new Set<Election>();
  /** Watch cancellations in flight: close() lets them finish before closing the client. */
  private readonly cancelling = new Set<Promise<unknown>>();

  constructor(uri: string, options: EtcdRegistryOptions = {}) {
    const parsed = parseEtcdUri(uri);
    this.uri = uri;
    this.hosts = parsed.hosts;
    this.tls = parsed.tls;
    this.prefix = parsed.prefix ?? options.prefix ?? DEFAULT_ETCD_PREFIX;
    this.leaseTtlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  }

  async open(): Promise<void> {
    if (this.client !== undefined) return;
    let mod: typeof import('etcd3');
    try {
      mod = await import('etcd3');
    } catch (err) {
      throw new StrataError('UNSUPPORTED', 'the etcd registry needs the npm package etcd3', { cause: err });
    }
    const timeout = this.callTimeoutMs;
    // etcds://: the CA file in use (--ca-file, STRATA_CA_FILE) beside Node's list; without one,
    // gRPC's TLS takes Node's default list, NODE_EXTRA_CA_CERTS included.
    // With --etcd-cert/--etcd-key (STRATA_ETCD_CERT/KEY) it shows that certificate (mutual TLS).
    await loadClientCa();
    const credentials = this.tls ? etcdCredentials() : undefined;
    this.client = new mod.Etcd3({
      hosts: this.hosts,
      ...(credentials === undefined ? {} : { credentials }),
      dialTimeout: timeout,
      // Unary calls get a gRPC deadline; streams (watch, keepalive) must not.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
      faultHandling: { host: hostBreaker(mod.isRecoverableError), watchBackoff: watchBackoff() },
    });
    this.nsRef = this.client.namespace(this.prefix);
    // Fail fast when etcd is not there at all, rather than on the first real call.
    try {
      await this.call('connect', () => this.ns.get(`${CONFIG}`).string());
    } catch (err) {
      this.client.close();
      this.client = undefined;
      this.nsRef = undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    if (client === undefined) return;
    for (const unwatch of [...this.unwatches]) unwatch();
    // A watcher still being (re)created when the client closes can leave etcd3's watch manager
    // retrying against a closed client forever (a timer that keeps the process alive): wait for
    // the cancellations, bounded by the call deadline.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.cancelling]),
      new Promise((ok) => {
        timer = setTimeout(ok, this.callTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    for (const election of [...this.elections]) await this.cancelElectionWatches(election);
    this.elections.clear();
    await Promise.allSettled([...this.registrations].map((r) => r.close()));
    this.client = undefined;
    this.nsRef = undefined;
    client.close();
  }

  /** @internal */
  get ns(): Namespace {
    if (this.nsRef === undefined) throw new StrataError('UNAVAILABLE', 'the etcd registry is not open');
    return this.nsRef;
  }

  /** @internal Runs one etcd call under the deadline and translates its errors. */
  async call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    let work: Promise<T>;
    try {
      work = fn();
    } catch (err) {
      throw translateEtcdError(err, `etcd ${op}`);
    }
    // If the deadline wins, the late failure of `work` must not surface as an unhandled rejection.
    work.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, fail) => {
      timer = setTimeout(
        () =>
          fail(
            new StrataError(
              'UNAVAILABLE',
              `etcd ${this.hosts.join(',')} did not answer ${op} within ${this.callTimeoutMs} ms`,
            ),
          ),
        this.callTimeoutMs,
      );
    });
    try {
      return await Promise.race([work, deadline]);
    } catch (err) {
      throw translateEtcdError(err, `etcd ${op}`);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- membership ----

  async registerWorker(info: WorkerInfo, options: { leaseTtlMs?: number } = {}): Promise<WorkerRegistration> {
    return this.leased(WORKERS, info, options.leaseTtlMs);
  }

  async registerMember(
    role: string,
    info: MemberInfo,
    options: { leaseTtlMs?: number } = {},
  ): Promise<MemberRegistration> {
    return this.leased(`${MEMBERS}${encodeKey(role)}/`, info, options.leaseTtlMs);
  }

  async listMembers(role: string): Promise<MemberInfo[]> {
    return this.listJson<MemberInfo>(`${MEMBERS}${encodeKey(role)}/`, 'id');
  }

  /** A record under `prefix` kept on a lease of its own, re-put on a new lease if it is lost. */
  private async leased<T extends { readonly id: string }>(
    prefix: string,
    info: T,
    leaseTtlMs: number | undefined,
  ): Promise<EtcdWorkerRegistration> {
    const ttlMs = leaseTtlMs ?? this.leaseTtlMs;
    if (!(ttlMs > 0)) throw new StrataError('INVALID_ARGUMENT', `lease TTL must be positive, got ${ttlMs}`);
    const registration = new EtcdWorkerRegistration(
      this,
      { ...info } as unknown as WorkerInfo,
      Math.max(1, Math.ceil(ttlMs / 1000)),
      prefix,
    );
    await registration.start();
    this.registrations.add(registration);
    return registration;
  }

  /** @internal */
  forget(registration: EtcdWorkerRegistration): void {
    this.registrations.delete(registration);
  }

  async listWorkers(): Promise<WorkerInfo[]> {
    return this.listJson<WorkerInfo>(WORKERS, 'id');
  }

  watchWorkers(onChange: (workers: WorkerInfo[]) => void): Promise<Unwatch> {
    return this.watchPrefix(WORKERS, () => this.listWorkers(), onChange);
  }

  // ---- mounts ----

  async loadMounts(): Promise<MountRecord[]> {
    return this.listJson<MountRecord>(MOUNTS, 'path');
  }

  async saveMount(record: MountRecord): Promise<void> {
    await this.call('put mount', () =>
      this.ns
        .put(MOUNTS + encodeKey(record.path))
        .value(JSON.stringify(record))
        .exec(),
    );
  }

  async deleteMount(path: string): Promise<void> {
    await this.call('delete mount', () =>
      this.ns
        .delete()
        .key(MOUNTS + encodeKey(path))
        .exec(),
    );
  }

  watchMounts(onChange: (mounts: MountRecord[]) => void): Promise<Unwatch> {
    return this.watchPrefix(MOUNTS, () => this.loadMounts(), onChange);
  }

  // ---- S3 users (etcd-s3-users.ts) ----

  listS3Users(): Promise<S3UserRecord[]> {
    return s3Users.listS3Users(this);
  }

  createS3User(user: S3UserRecord): Promise<boolean> {
    return s3Users.createS3User(this, user);
  }

  saveS3User(user: S3UserRecord): Promise<void> {
    return s3Users.saveS3User(this, user);
  }

  updateS3User(
    name: string,
    change: (current: S3UserRecord) => S3UserRecord,
  ): Promise<S3UserRecord | undefined> {
    return s3Users.updateS3User(this, name, change);
  }

  deleteS3User(name: string): Promise<boolean> {
    return s3Users.deleteS3User(this, name);
  }

  watchS3Users(onChange: (users: S3UserRecord[]) => void): Promise<Unwatch> {
    return s3Users.watchS3Users(this, onChange);
  }

  // ---- config and jobs ----

  async getConfig(key: string): Promise<string | undefined> {
    const value = await this.call('get config', () => this.ns.get(CONFIG + encodeKey(key)).string());
    return value ?? undefined;
  }

  async setConfig(key: string, value: string): Promise<void> {
    await this.call('put config', () =>
      this.ns
        .put(CONFIG + encodeKey(key))
        .value(value)
        .exec(),
    );
  }

  async initConfig(key: string, value: string): Promise<string> {
    const k = CONFIG + encodeKey(key);
    await this.call('init config', () =>
      this.ns.if(k, 'Create', '==', 0).then(this.ns.put(k).value(value)).commit(),
    );
    const stored = await this.getConfig(key);
    if (stored === undefined)
      throw new StrataError('UNAVAILABLE', `config ${key} vanished right after it was set`);
    return stored;
  }

  async putJob(job: JobRecord): Promise<void> {
    if (!job.id) throw new StrataError('INVALID_ARGUMENT', 'a job record needs an id');
    await this.call('put job', () =>
      this.ns
        .put(JOBS + encodeKey(job.id))
        .value(JSON.stringify(job))
        .exec(),
    );
  }

  async deleteJob(id: string): Promise<void> {
    await this.call('delete job', () =>
      this.ns
        .delete()
        .key(JOBS + encodeKey(id))
        .exec(),
    );
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const text = await this.call('get job', () => this.ns.get(JOBS + encodeKey(id)).string());
    return text === null ? undefined : parseJson<JobRecord>(text, `job ${id}`);
  }

  async listJobs(): Promise<JobRecord[]> {
    return this.listJson<JobRecord>(JOBS, 'id');
  }

  /** The version is the key's etcd mod revision. */
  async readJob(id: string): Promise<VersionedJob | undefined> {
    const res = await this.call('read job', () => this.ns.get(JOBS + encodeKey(id)).exec());
    const kv = res.kvs[0];
    if (kv === undefined) return undefined;
    return { job: parseJson<JobRecord>(kv.value.toString(), `job ${id}`), version: Number(kv.mod_revision) };
  }

  async putJobIf(job: JobRecord, version: number): Promise<number | undefined> {
    if (!job.id) throw new StrataError('INVALID_ARGUMENT', 'a job record needs an id');
    const k = JOBS + encodeKey(job.id);
    const res = await this.call('put job if', () =>
      (version === 0 ? this.ns.if(k, 'Create', '==', 0) : this.ns.if(k, 'Mod', '==', version))
        .then(this.ns.put(k).value(JSON.stringify(job)))
        .commit(),
    );
    return res.succeeded ? Number(res.header.revision) : undefined;
  }

  // ---- election ----

  async campaign(role: string, candidateId: string): Promise<LeaderHandle> {
    const ttl = Math.max(1, Math.ceil(this.leaseTtlMs / 1000));
    const election = this.ns.election(encodeKey(role), ttl);
    const campaign = election.campaign(candidateId);
    this.elections.add(election);
    let resigned = false;
    let onLost!: (err: Error) => void;
    const lost = new Promise<Error>((ok) => {
      onLost = ok;
    });
    const elected = new Promise<void>((ok, fail) => {
      campaign.on('elected', () => ok());
      campaign.on('error', (err) => {
        const e = translateEtcdError(err, `etcd campaign for ${role}`);
        fail(e);
        // etcd3 reports a lost campaign lease as an error: leadership (or candidacy) is gone.
        if (!resigned) onLost(e);
      });
    });
    // A caller that never awaits `elected` must not crash the process when the campaign fails.
    elected.catch(() => undefined);
    // Surface "etcd unreachable" now rather than through a promise that never settles.
    await this.call('campaign', () => campaign.getCampaignKey());
    return {
      elected,
      lost,
      resign: async () => {
        resigned = true;
        try {
          await this.call('resign', () => campaign.resign());
        } finally {
          // A candidate that was not elected yet still watches the leader's key.
          await this.cancelElectionWatches(election);
          this.elections.delete(election);
        }
      },
    };
  }

  /**
   * Cancels the watches a campaign keeps on the keys ahead of it (etcd3 waits for the leader's key
   * to go with a watch that resign() leaves open). Closing the client does not end an open watch
   * stream (grpc-js lets calls outlive their channel), so a stopped standby would never exit.
   */
  private async cancelElectionWatches(election: Election): Promise<void> {
    const manager = (election as unknown as ElectionInternals).namespace?.watchManager;
    const watchers = [...(manager?.watchers ?? [])];
    if (watchers.length === 0) return;
    await this.call('cancel election watch', () => Promise.allSettled(watchers.map((w) => w.cancel()))).catch(
      () => undefined,
    );
  }

  async leader(role: string): Promise<string | undefined> {
    // Read the election keys directly (lowest create revision): the observer can miss the first leader.
    return this.call('leader', () => this.ns.election(encodeKey(role)).leader());
  }

  // ---- helpers ----

  /** @internal */
  async listJson<T>(prefix: string, sortKey: keyof T): Promise<T[]> {
    const kvs = await this.call(`list ${prefix}`, () => this.ns.getAll().prefix(prefix).strings());
    const out = Object.entries(kvs).map(([key, text]) => parseJson<T>(text, key));
    return out.sort((a, b) => compare(String(a[sortKey]), String(b[sortKey])));
  }

  /**
   * A prefix watch that calls back with the full list after every change. Events only trigger a
   * re-read (serialised and coalesced), so callbacks are in order and never stale for long. After
   * a reconnect (etcd restarted) it re-reads too, in case events were lost while disconnected.
   */
  /** @internal (etcd-s3-users.ts) */
  async watchPrefix<T>(
    prefix: string,
    load: () => Promise<T[]>,
    onChange: (items: T[]) => void,
  ): Promise<Unwatch> {
    let stopped = false;
    let running = false;
    let dirty = false;
    const refresh = async (): Promise<void> => {
      if (running) {
        dirty = true;
        return;
      }
      running = true;
      try {
        do {
          dirty = false;
          let items: T[];
          try {
            items = await load();
          } catch {
            // etcd is away: the watcher reconnects and its "connected" event re-reads.
            return;
          }
          if (stopped) return;
          try {
            onChange(items);
          } catch {
            // The watcher's own bug; keep watching.
          }
        } while (dirty && !stopped);
      } finally {
        running = false;
      }
    };
    const watcher: Watcher = await this.call(`watch ${prefix}`, () =>
      this.ns.watch().prefix(prefix).create(),
    );
    let connected = true;
    watcher.on('data', () => void refresh());
    watcher.on('disconnected', () => {
      connected = false;
    });
    watcher.on('connected', () => {
      if (!connected) void refresh();
      connected = true;
    });
    // Without a listener an 'error' event would crash the process; the watch manager retries.
    watcher.on('error', () => undefined);
    await refresh();
    const unwatch: Unwatch = () => {
      if (stopped) return;
      stopped = true;
      this.unwatches.delete(unwatch);
      const cancelled = watcher.cancel().catch(() => undefined);
      this.cancelling.add(cancelled);
      void cancelled.finally(() => this.cancelling.delete(cancelled));
    };
    this.unwatches.add(unwatch);
    return unwatch;
  }
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new StrataError('INTERNAL', `etcd record ${what} is not valid JSON`, { cause: err });
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
