import { readYamlFile } from '../../core/config.js';
import { StrataError, toStrataError } from '../../core/errors.js';
import { logger } from '../../core/log.js';
import type { Registry, Unwatch } from '../../registry/registry.js';
import { S3_ROOT_USER, type S3UserRecord, validateUserName } from '../../registry/s3-users.js';

/**
 * Who signs a request: the access key → (user, secret) table of one gateway. Three sources:
 * - the root user: STRATA_S3_ACCESS_KEY_ID / STRATA_S3_SECRET_ACCESS_KEY and the config file's
 *   `s3.keys` (the gateway's `credentials`), full access as before;
 * - the config file's `s3.users` (this gateway only);
 * - the registry's users (`strata s3 user …`), watched, so a key added or removed anywhere is
 *   taken or refused here without a restart. A watch can miss an event while the registry is
 *   away (etcd reconnects re-read; this re-reads every `refreshMs` too), which bounds how long a
 *   removed key keeps working: the watch's delivery (embedded: immediate; etcd: milliseconds),
 *   at worst `refreshMs` (5 s).
 */

export interface Principal {
  /** The user's name; S3_ROOT_USER for the root user. */
  readonly name: string;
  readonly root: boolean;
}

export const ROOT_PRINCIPAL: Principal = { name: S3_ROOT_USER, root: true };

interface Entry {
  readonly secret: string;
  readonly principal: Principal;
}

/** How often the registry's users are re-read besides the watch (the removal bound). */
export const USERS_REFRESH_MS = 5000;

export interface UserDirectoryOptions {
  /** Named users from the gateway's config file. */
  readonly configured?: readonly S3UserRecord[];
  /** The registry (sealed) whose users every gateway shares. */
  readonly registry?: Registry;
  readonly refreshMs?: number;
}

export class UserDirectory {
  private registryUsers = new Map<string, Entry>();
  /** Names of the registry's users, keys or not (a user whose last key was removed still exists). */
  private registryNames = new Set<string>();
  private readonly configured = new Map<string, Entry>();
  private unwatch: Unwatch | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: UserDirectoryOptions = {}) {
    for (const u of o.configured ?? []) addEntries(this.configured, u);
  }

  /** Starts watching the registry's users (a no-op without a registry). */
  async start(): Promise<void> {
    const registry = this.o.registry;
    if (registry === undefined || this.unwatch !== undefined) return;
    this.unwatch = await registry.watchS3Users((users) => this.apply(users));
    this.timer = setInterval(() => {
      registry.listS3Users().then(
        (users) => this.apply(users),
        (err: unknown) => logger('s3_users_refresh_error', { error: toStrataError(err).message }),
      );
    }, this.o.refreshMs ?? USERS_REFRESH_MS);
    this.timer.unref();
  }

  close(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    clearInterval(this.timer);
  }

  /** The user and secret of a key that is not a root key, or undefined. */
  lookup(accessKeyId: string): Entry | undefined {
    return this.configured.get(accessKeyId) ?? this.registryUsers.get(accessKeyId);
  }

  /** Whether a user of that name exists here (the root user included). */
  exists(name: string): boolean {
    if (name === ROOT_PRINCIPAL.name) return true;
    for (const table of [this.configured, this.registryUsers])
      for (const e of table.values()) if (e.principal.name === name) return true;
    return this.registryNames.has(name);
  }

  private apply(users: readonly S3UserRecord[]): void {
    const next = new Map<string, Entry>();
    for (const u of users) addEntries(next, u);
    this.registryUsers = next;
    this.registryNames = new Set(users.map((u) => u.name));
  }
}

function addEntries(into: Map<string, Entry>, user: S3UserRecord): void {
  const principal: Principal = { name: user.name, root: false };
  for (const k of user.keys) {
    if (k.secretAccessKey !== undefined) into.set(k.accessKeyId, { secret: k.secretAccessKey, principal });
  }
}

/**
 * The `s3.users` section of a gateway config file:
 *
 *   s3:
 *     users:
 *       - name: reports
 *         keys: [{ accessKeyId: REPORTS1, secretAccessKey: "…" }]
 */
export async function loadConfiguredUsers(file: string | undefined): Promise<S3UserRecord[]> {
  if (!file) return [];
  const parsed = (await readYamlFile(file)) as { s3?: { users?: unknown } } | null;
  const list = parsed?.s3?.users;
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new StrataError('INVALID_ARGUMENT', `${file}: s3.users must be a list`);
  return list.map((raw: unknown): S3UserRecord => {
    const u = raw as { name?: unknown; keys?: unknown };
    if (typeof u?.name !== 'string')
      throw new StrataError('INVALID_ARGUMENT', `${file}: every s3.users entry needs a name`);
    validateUserName(u.name);
    const keys = (Array.isArray(u.keys) ? u.keys : []).map((k: unknown) => {
      const o = k as { accessKeyId?: unknown; secretAccessKey?: unknown };
      if (typeof o?.accessKeyId !== 'string' || typeof o.secretAccessKey !== 'string')
        throw new StrataError(
          'INVALID_ARGUMENT',
          `${file}: every key of s3.users "${u.name}" needs accessKeyId and secretAccessKey strings`,
        );
      return { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey, createdAtMs: 0 };
    });
    return { name: u.name, createdAtMs: 0, keys };
  });
}
