import { StrataError, toStrataError } from '../core/errors.js';
import { logger } from '../core/log.js';
import { canonicalMountRecord, hasUserInfo, type MountRecord, redactUri } from '../core/mounts.js';
import { type SealKey, seal, unseal } from '../core/seal.js';
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
import type { S3KeyRecord, S3UserRecord } from './s3-users.js';

/** Which options of a mount are secrets: the connector's declaration (ufs/factory.ts secretOptionsOf). */
export type SecretOptionsOf = (uri: string, options: Readonly<Record<string, string>>) => readonly string[];

export interface SealedRegistryOptions {
  readonly key: SealKey;
  readonly secretOptionsOf: SecretOptionsOf;
}

/** What a box holds: the secret option values, and the URI when it carries user info. */
interface Box {
  readonly options: Record<string, string>;
  readonly uri?: string;
}

/**
 * A Registry whose mount records are stored with their secrets sealed: the values of the
 * options the connector declares secret (and a URI with user info) move into `sealed`
 * (AES-256-GCM, src/core/seal.ts, bound to the mount path); `options` keeps the rest and
 * `secretOptions` their names, `uri` is stored redacted. Records come back opened, so a worker
 * applying a snapshot or reopening its mounts after a restart gets the real secrets, never the
 * masked or sealed form. Records written before sealing existed (secrets in clear, no
 * `secretOptions`) still load; `sealStored()` rewrites them sealed.
 *
 * The registry itself (files, etcd keys, its HTTP view) only ever holds sealed records, and a
 * wrapper is the one place that knows the key, so the implementations stay as they were
 * (STYLE.md: a cross-cutting concern is a wrapper of the same interface).
 */
export class SealedRegistry implements Registry {
  constructor(
    readonly inner: Registry,
    private readonly o: SealedRegistryOptions,
  ) {}

  get uri(): string {
    return this.inner.uri;
  }

  open(): Promise<void> {
    return this.inner.open();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  // ---- mounts: sealed on the way in, opened on the way out ----

  async loadMounts(): Promise<MountRecord[]> {
    return (await this.inner.loadMounts()).map((r) => this.openRecord(r));
  }

  saveMount(record: MountRecord): Promise<void> {
    return this.inner.saveMount(this.sealRecord(record));
  }

  deleteMount(path: string): Promise<void> {
    return this.inner.deleteMount(path);
  }

  watchMounts(onChange: (mounts: MountRecord[]) => void): Promise<Unwatch> {
    return this.inner.watchMounts((stored) => {
      const opened: MountRecord[] = [];
      for (const r of stored) {
        try {
          opened.push(this.openRecord(r));
        } catch (err) {
          // A record this key cannot open is left out: its store could not be opened anyway.
          logger('mount_unseal_error', { path: r.path, error: toStrataError(err).message });
        }
      }
      onChange(opened);
    });
  }

  /** Rewrites records stored by an older version (secrets in clear) in the sealed form; returns how many. */
  async sealStored(): Promise<number> {
    let n = 0;
    for (const stored of await this.inner.loadMounts()) {
      if (stored.sealed !== undefined) continue;
      const sealed = this.sealRecord(this.openRecord(stored));
      if (sealed.sealed === undefined && stored.secretOptions !== undefined) continue;
      await this.inner.saveMount(sealed);
      n++;
    }
    return n;
  }

  /** The stored form of a record: secrets sealed, URI redacted, names of the sealed options kept. */
  sealRecord(record: MountRecord): MountRecord {
    const { sealed: _ignored, ...plain } = record;
    const names = [
      ...new Set([...(record.secretOptions ?? []), ...this.o.secretOptionsOf(record.uri, record.options)]),
    ]
      .filter((k) => Object.hasOwn(record.options, k))
      .sort();
    const userInfo = hasUserInfo(record.uri);
    if (names.length === 0 && !userInfo) return canonicalMountRecord({ ...plain, secretOptions: [] });
    const box: Box = {
      options: Object.fromEntries(names.map((k) => [k, record.options[k] as string])),
      ...(userInfo ? { uri: record.uri } : {}),
    };
    const clear = Object.fromEntries(Object.entries(record.options).filter(([k]) => !names.includes(k)));
    return canonicalMountRecord({
      ...plain,
      uri: userInfo ? redactUri(record.uri) : record.uri,
      options: clear,
      secretOptions: names,
      sealed: seal(this.o.key, JSON.stringify(box), associated(record.path)),
    });
  }

  /** The record as workers use it: secrets back in place; `secretOptions` always present. */
  openRecord(stored: MountRecord): MountRecord {
    if (stored.sealed === undefined) {
      const names = stored.secretOptions ?? this.o.secretOptionsOf(stored.uri, stored.options);
      return canonicalMountRecord({
        ...stored,
        secretOptions: names.filter((k) => Object.hasOwn(stored.options, k)),
      });
    }
    let box: Box;
    try {
      box = JSON.parse(unseal(this.o.key, stored.sealed, associated(stored.path))) as Box;
    } catch (err) {
      throw new StrataError(
        'INTERNAL',
        `cannot open the sealed secrets of mount ${stored.path}: ${toStrataError(err).message} (is the seal key the one they were sealed with?)`,
        { cause: err },
      );
    }
    const { sealed: _sealed, ...plain } = stored;
    return canonicalMountRecord({
      ...plain,
      uri: box.uri ?? stored.uri,
      options: { ...stored.options, ...box.options },
      secretOptions: stored.secretOptions ?? Object.keys(box.options),
    });
  }

  // ---- S3 users: each key's secret sealed, bound to its key id ----

  async listS3Users(): Promise<S3UserRecord[]> {
    return (await this.inner.listS3Users()).map((u) => this.openUser(u));
  }

  createS3User(user: S3UserRecord): Promise<boolean> {
    return this.inner.createS3User(this.sealUser(user));
  }

  saveS3User(user: S3UserRecord): Promise<void> {
    return this.inner.saveS3User(this.sealUser(user));
  }

  async updateS3User(
    name: string,
    change: (current: S3UserRecord) => S3UserRecord,
  ): Promise<S3UserRecord | undefined> {
    const stored = await this.inner.updateS3User(name, (s) => this.sealUser(change(this.openUser(s))));
    return stored === undefined ? undefined : this.openUser(stored);
  }

  deleteS3User(name: string): Promise<boolean> {
    return this.inner.deleteS3User(name);
  }

  watchS3Users(onChange: (users: S3UserRecord[]) => void): Promise<Unwatch> {
    return this.inner.watchS3Users((stored) => {
      const opened: S3UserRecord[] = [];
      for (const u of stored) {
        try {
          opened.push(this.openUser(u));
        } catch (err) {
          // A user this key cannot open cannot sign anything here: left out, and said so.
          logger('s3_user_unseal_error', { user: u.name, error: toStrataError(err).message });
        }
      }
      onChange(opened);
    });
  }

  /** The stored form: every key's secret sealed; a key sealed already stays as it is. */
  sealUser(user: S3UserRecord): S3UserRecord {
    return {
      ...user,
      keys: user.keys.map((k): S3KeyRecord => {
        if (k.secretAccessKey === undefined) return k;
        const { secretAccessKey, ...rest } = k;
        return { ...rest, sealed: seal(this.o.key, secretAccessKey, keyAssociated(k.accessKeyId)) };
      }),
    };
  }

  /** Secrets opened; a key stored in clear (an unsealed registry's) is passed as it is. */
  openUser(stored: S3UserRecord): S3UserRecord {
    return {
      ...stored,
      keys: stored.keys.map((k): S3KeyRecord => {
        if (k.sealed === undefined) return k;
        const { sealed, ...rest } = k;
        let secretAccessKey: string;
        try {
          secretAccessKey = unseal(this.o.key, sealed, keyAssociated(k.accessKeyId));
        } catch (err) {
          throw new StrataError(
            'INTERNAL',
            `cannot open the sealed secret of S3 key ${k.accessKeyId} (user ${stored.name}): ${toStrataError(err).message}`,
            { cause: err },
          );
        }
        return { ...rest, secretAccessKey };
      }),
    };
  }

  // ---- everything else as is ----

  registerWorker(info: WorkerInfo, options?: { leaseTtlMs?: number }): Promise<WorkerRegistration> {
    return this.inner.registerWorker(info, options);
  }

  listWorkers(): Promise<WorkerInfo[]> {
    return this.inner.listWorkers();
  }

  watchWorkers(onChange: (workers: WorkerInfo[]) => void): Promise<Unwatch> {
    return this.inner.watchWorkers(onChange);
  }

  getConfig(key: string): Promise<string | undefined> {
    return this.inner.getConfig(key);
  }

  setConfig(key: string, value: string): Promise<void> {
    return this.inner.setConfig(key, value);
  }

  initConfig(key: string, value: string): Promise<string> {
    return this.inner.initConfig(key, value);
  }

  putJob(job: JobRecord): Promise<void> {
    return this.inner.putJob(job);
  }

  getJob(id: string): Promise<JobRecord | undefined> {
    return this.inner.getJob(id);
  }

  listJobs(): Promise<JobRecord[]> {
    return this.inner.listJobs();
  }

  registerMember(
    role: string,
    info: MemberInfo,
    options?: { leaseTtlMs?: number },
  ): Promise<MemberRegistration> {
    return this.inner.registerMember(role, info, options);
  }

  listMembers(role: string): Promise<MemberInfo[]> {
    return this.inner.listMembers(role);
  }

  deleteJob(id: string): Promise<void> {
    return this.inner.deleteJob(id);
  }

  readJob(id: string): Promise<VersionedJob | undefined> {
    return this.inner.readJob(id);
  }

  putJobIf(job: JobRecord, version: number): Promise<number | undefined> {
    return this.inner.putJobIf(job, version);
  }

  campaign(role: string, candidateId: string): Promise<LeaderHandle> {
    return this.inner.campaign(role, candidateId);
  }

  leader(role: string): Promise<string | undefined> {
    return this.inner.leader(role);
  }
}

/** A sealed S3 secret opens only on the key it was made for. */
function keyAssociated(accessKeyId: string): string {
  return `strata-s3-key\0${accessKeyId}`;
}

/** The box of one mount opens only on that mount's record. */
function associated(path: string): string {
  return `strata-mount\0${path}`;
}
