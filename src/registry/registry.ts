import type { MountRecord } from '../core/mounts.js';
import type { S3UserRecord } from './s3-users.js';

/**
 * The registry contract: cluster membership, the mount table, cluster configuration, job records
 * and leader election. Two implementations pass one contract suite: `embedded` (one process or
 * one machine; what `strata local` uses) and `etcd` (several machines; Raft-replicated).
 *
 * Invariants:
 * - A worker is listed only while its lease is alive: registerWorker() returns a handle that keeps
 *   the lease alive until close(); a crashed worker disappears after `leaseTtlMs`.
 * - watch callbacks receive the full current list after every change (snapshots, not deltas), so
 *   a consumer that missed events still converges. The first callback, right after the watch
 *   starts, carries the current list. Lists are sorted (workers by id, mounts by path).
 * - No call hangs: a registry that cannot be reached fails with StrataError `UNAVAILABLE`.
 * - Mount records hold connector secrets: implementations store them as given and never log them.
 *   Processes wrap their registry in SealedRegistry (sealed-registry.ts), so what reaches an
 *   implementation has its secrets sealed and what comes back is opened again.
 */

/** Default lease TTL of a worker registration (ms). */
export const DEFAULT_LEASE_TTL_MS = 5000;

export type WorkerState = 'ACTIVE' | 'DRAINING';

/** Config key of the bearer token every worker RPC call must carry in a cluster. */
export const CLUSTER_TOKEN_KEY = 'cluster.token';

/** Config key of the key that seals mount secrets in a cluster's registry (kept beside the token). */
export const SEAL_KEY_CONFIG_KEY = 'cluster.sealKey';

export interface WorkerInfo {
  readonly id: string;
  /** Base URL of the worker RPC, e.g. http://10.0.0.5:29999 */
  readonly address: string;
  /** Cache capacity in bytes; the ring weights workers by it. */
  readonly capacityBytes: number;
  readonly state: WorkerState;
  readonly version: string;
  readonly startedAtMs: number;
}

export interface WorkerRegistration {
  /** Changes the advertised record (e.g. state DRAINING) without losing the lease. */
  update(patch: Partial<Pick<WorkerInfo, 'state' | 'capacityBytes'>>): Promise<void>;
  /** Revokes the lease: the worker leaves the membership at once. */
  close(): Promise<void>;
  /** Called when the lease was lost (e.g. registry unreachable longer than the TTL). */
  onLost?: (err: unknown) => void;
  /** When the lease was last granted or renewed (epoch ms; the dashboard's "last lease renewal"). */
  readonly renewedAtMs?: number;
}

/**
 * A process other than a worker that announces itself in the registry for as long as it runs
 * (role "scheduler": its admin API address), e.g. so `strata report` can list them and the CLI
 * can reach one. Listed only while its lease is alive, like a worker.
 */
export interface MemberInfo {
  readonly id: string;
  /** Base URL of its admin API, e.g. http://10.0.0.5:19997 */
  readonly address: string;
  readonly version: string;
  readonly startedAtMs: number;
}

export interface MemberRegistration {
  /** Revokes the lease: the member is no longer listed. */
  close(): Promise<void>;
}

export interface JobRecord {
  readonly id: string;
  readonly kind: string;
  readonly state: string;
  readonly [key: string]: unknown;
}

/** A job record with its version: a number that changes on every write of that record. */
export interface VersionedJob {
  readonly job: JobRecord;
  readonly version: number;
}

export interface LeaderHandle {
  /** Resolves once this candidate is the leader. */
  readonly elected: Promise<void>;
  /** Gives up leadership or candidacy. */
  resign(): Promise<void>;
  /**
   * Resolves when this candidate lost the election's lease (the registry was unreachable past
   * the lease, or the lease was revoked): it may no longer be the leader and must stop acting
   * as one. Never resolves for a resign(), nor in a registry whose elections cannot be lost.
   */
  readonly lost: Promise<Error>;
}

export type Unwatch = () => void;

export interface Registry {
  /** A URI clients can use to reach this registry (etcd://host:port, http://host:port). */
  readonly uri: string;
  open(): Promise<void>;
  close(): Promise<void>;

  registerWorker(info: WorkerInfo, options?: { leaseTtlMs?: number }): Promise<WorkerRegistration>;
  listWorkers(): Promise<WorkerInfo[]>;
  watchWorkers(onChange: (workers: WorkerInfo[]) => void): Promise<Unwatch>;

  loadMounts(): Promise<MountRecord[]>;
  saveMount(record: MountRecord): Promise<void>;
  deleteMount(path: string): Promise<void>;
  watchMounts(onChange: (mounts: MountRecord[]) => void): Promise<Unwatch>;

  getConfig(key: string): Promise<string | undefined>;
  setConfig(key: string, value: string): Promise<void>;
  /** Sets `key` only if it is absent (atomically); returns the value stored either way. */
  initConfig(key: string, value: string): Promise<string>;

  /** Announces a member of `role` on a lease kept alive until close() (see MemberInfo). */
  registerMember(
    role: string,
    info: MemberInfo,
    options?: { leaseTtlMs?: number },
  ): Promise<MemberRegistration>;
  /** The live members of `role`, sorted by id. */
  listMembers(role: string): Promise<MemberInfo[]>;

  putJob(job: JobRecord): Promise<void>;
  getJob(id: string): Promise<JobRecord | undefined>;
  listJobs(): Promise<JobRecord[]>;
  /** The record and its current version, or undefined. */
  readJob(id: string): Promise<VersionedJob | undefined>;
  /**
   * Compare-and-set: writes `job` only if its stored version is still `version` (0: only if no
   * record with that id exists). Returns the new version, or undefined when the record changed
   * (or appeared) since — another writer got there first; nothing is written then.
   */
  putJobIf(job: JobRecord, version: number): Promise<number | undefined>;
  /** Removes a job record (a purge of an ended job); no record is not an error. */
  deleteJob(id: string): Promise<void>;

  /** S3 users (src/registry/s3-users.ts), sorted by name. */
  listS3Users(): Promise<S3UserRecord[]>;
  /** Creates `user` only if no user of that name exists (atomically); false when one does. */
  createS3User(user: S3UserRecord): Promise<boolean>;
  /** Replaces the record of `user.name` (its keys changed). */
  saveS3User(user: S3UserRecord): Promise<void>;
  /**
   * Read-modify-write of one user, atomic against every other change of it (compare-and-set,
   * retried on a conflict): `change` gets the current record and returns the next one (it may
   * run more than once, and may throw to refuse). Undefined when there is no such user.
   */
  updateS3User(
    name: string,
    change: (current: S3UserRecord) => S3UserRecord,
  ): Promise<S3UserRecord | undefined>;
  /** Removes a user; false when there was none. */
  deleteS3User(name: string): Promise<boolean>;
  /** Snapshots of the users after every change, the first one right away (as watchMounts). */
  watchS3Users(onChange: (users: S3UserRecord[]) => void): Promise<Unwatch>;

  /** Campaign for a singleton role (e.g. "scheduler"). */
  campaign(role: string, candidateId: string): Promise<LeaderHandle>;
  /** The current leader's candidate id, if any. */
  leader(role: string): Promise<string | undefined>;
}
