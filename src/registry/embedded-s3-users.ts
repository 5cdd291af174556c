import { join } from 'node:path';
import { JsonFile } from './json-file.js';
import type { Unwatch } from './registry.js';
import type { S3UserRecord } from './s3-users.js';

/**
 * The S3 users of the embedded registry: one file, `s3-users.json`, replaced atomically on every
 * change (users change rarely and are few), with in-process watches. Compare-and-create happens
 * within one turn of the event loop, so two creates of one name cannot both succeed, and an
 * update (a key added or removed) never loses a concurrent one.
 */
export class EmbeddedS3Users {
  private users = new Map<string, S3UserRecord>();
  private readonly watchers = new Set<(users: S3UserRecord[]) => void>();
  private readonly file: JsonFile<{ version: 1; users: S3UserRecord[] }>;

  constructor(registryDir: string) {
    this.file = new JsonFile(join(registryDir, 's3-users.json'));
  }

  async open(): Promise<void> {
    const stored = await this.file.read();
    this.users = new Map((stored?.users ?? []).map((u) => [u.name, u]));
  }

  /** Waits for queued writes. */
  flush(): Promise<void> {
    return this.file.flush();
  }

  close(): void {
    this.watchers.clear();
  }

  list(): S3UserRecord[] {
    return this.snapshot();
  }

  async create(user: S3UserRecord): Promise<boolean> {
    if (this.users.has(user.name)) return false;
    this.users.set(user.name, user);
    await this.persist();
    return true;
  }

  async save(user: S3UserRecord): Promise<void> {
    this.users.set(user.name, user);
    await this.persist();
  }

  /** Read, change and replace in one turn of the event loop: no other change comes between. */
  async update(
    name: string,
    change: (current: S3UserRecord) => S3UserRecord,
  ): Promise<S3UserRecord | undefined> {
    const current = this.users.get(name);
    if (current === undefined) return undefined;
    const next = change(current);
    this.users.set(name, next);
    await this.persist();
    return next;
  }

  async delete(name: string): Promise<boolean> {
    if (!this.users.delete(name)) return false;
    await this.persist();
    return true;
  }

  watch(onChange: (users: S3UserRecord[]) => void): Unwatch {
    this.watchers.add(onChange);
    deliver(onChange, this.snapshot());
    return () => {
      this.watchers.delete(onChange);
    };
  }

  private snapshot(): S3UserRecord[] {
    return [...this.users.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private async persist(): Promise<void> {
    const snapshot = this.snapshot();
    await this.file.write({ version: 1, users: snapshot });
    for (const w of this.watchers) deliver(w, snapshot);
  }
}

/** A throwing watcher must not break the registry or the other watchers. */
function deliver<T>(listener: (value: T) => void, value: T): void {
  try {
    listener(value);
  } catch {
    // The watcher's own bug.
  }
}
