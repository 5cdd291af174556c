import { isStrataError } from '../core/errors.js';
import {
  type HostIdentity,
  type PageLocation,
  WATCH_HEARTBEAT_MS,
  type WatchLine,
} from '../core/page-location.js';
import { isWithin } from '../core/paths.js';
import type { RemoteFileSystem } from './remote-file-system.js';

export interface MetadataCacheOptions {
  /**
   * Longest an answer is kept (and never longer than the mount's sync interval; a mount with
   * interval 0 is never cached). It bounds how late a change the owner itself does not see (the
   * store changed behind Strata's back) shows up here; changes made through any Strata client
   * are pushed by the owner and drop the entry as soon as they arrive.
   */
  readonly leaseMs: number;
  /** Entries kept per worker at most (oldest dropped first). */
  readonly maxEntries: number;
}

interface Entry {
  readonly loc: PageLocation;
  readonly expiresAtMs: number;
}

/** What a caller takes before asking the worker, and gives back with the answer (put()). */
export interface LocateTicket {
  readonly generation: number;
}

/**
 * One worker's statuses and page locations, cached by the client while — and only while — the
 * worker's change stream (GET /rpc/v1/watch) is open: every change the worker makes to a path's
 * metadata arrives on it and drops the entry. When the stream breaks (worker stopped, restarted,
 * network, a subscriber that fell behind and was cut off) everything cached from that worker is
 * forgotten and nothing is cached until a new stream has said hello.
 *
 * Races: an answer is stamped with the worker's change counter taken before it was computed; an
 * answer older than a change already heard of is not kept (the change may not be in it), and one
 * computed before the stream's latest (re)connect neither (changes during the gap were missed).
 */
export class WorkerMetadataCache {
  private readonly entries = new Map<string, Entry>();
  private lastSeq = -1;
  private generation = 0;
  private up = false;
  private closed = false;
  private controller: AbortController | undefined;
  private retryMs = 250;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The worker's host, once its stream said hello. */
  host: HostIdentity | undefined;
  /** Stream (re)connections, and entries dropped by pushed changes (diagnostics, tests). */
  readonly counters = { connects: 0, invalidated: 0, hits: 0, misses: 0 };

  constructor(
    private readonly client: RemoteFileSystem,
    private readonly o: MetadataCacheOptions,
  ) {
    void this.run();
  }

  /** Whether the change stream is open (entries are served and kept only then). */
  get live(): boolean {
    return this.up;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Taken before a locate call; put() keeps the answer only if nothing was missed meanwhile. */
  ticket(): LocateTicket {
    return { generation: this.generation };
  }

  get(path: string): PageLocation | undefined {
    if (!this.up) return undefined;
    const e = this.entries.get(path);
    if (e === undefined) {
      this.counters.misses++;
      return undefined;
    }
    if (e.expiresAtMs <= Date.now()) {
      this.entries.delete(path);
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    return e.loc;
  }

  put(path: string, loc: PageLocation, ticket: LocateTicket): void {
    if (!this.up || ticket.generation !== this.generation || loc.seq < this.lastSeq) return;
    const sync = loc.syncIntervalMs;
    if (sync === 0 || this.o.leaseMs <= 0) return;
    const ttl = sync < 0 ? this.o.leaseMs : Math.min(this.o.leaseMs, sync);
    this.entries.delete(path);
    this.entries.set(path, { loc, expiresAtMs: Date.now() + ttl });
    if (this.entries.size > this.o.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  /** Forgets a path (this client changed it, or its page files turned out to be gone). */
  drop(path: string): void {
    this.entries.delete(path);
  }

  /**
   * This client changed the path: forget it, and refuse answers of locate calls already in
   * flight (computed, maybe, before the change, whose push may not have arrived yet).
   */
  forget(path: string, tree: boolean): void {
    this.generation++;
    if (tree) this.dropTree(path);
    else this.entries.delete(path);
  }

  dropTree(root: string): void {
    for (const p of this.entries.keys()) if (isWithin(p, root)) this.entries.delete(p);
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.controller?.abort();
    this.down();
  }

  private down(): void {
    this.up = false;
    this.generation++;
    this.entries.clear();
  }

  private apply(line: WatchLine): void {
    if ('hello' in line) {
      this.host = line.hello.host;
      this.lastSeq = line.hello.seq;
      this.generation++;
      this.up = true;
      this.retryMs = 250;
      this.counters.connects++;
      return;
    }
    if (line.seq > this.lastSeq) this.lastSeq = line.seq;
    for (const p of line.paths ?? []) {
      if (this.entries.delete(p)) this.counters.invalidated++;
    }
    for (const t of line.trees ?? []) this.dropTree(t);
  }

  /** Keeps a stream open, reconnecting with backoff; a worker without the route ends it for good. */
  private async run(): Promise<void> {
    while (!this.closed) {
      const controller = new AbortController();
      this.controller = controller;
      let watchdog: NodeJS.Timeout | undefined;
      const feed = () => {
        if (watchdog) clearTimeout(watchdog);
        // A stopped or partitioned worker sends no heartbeat: stop trusting what it told us.
        watchdog = setTimeout(() => controller.abort(), 3 * WATCH_HEARTBEAT_MS);
        watchdog.unref();
      };
      try {
        feed();
        const body = await this.client.watch(controller.signal);
        let rest = '';
        for await (const chunk of body) {
          feed();
          rest += (chunk as Buffer).toString('utf8');
          let nl = rest.indexOf('\n');
          while (nl >= 0) {
            const text = rest.slice(0, nl);
            rest = rest.slice(nl + 1);
            if (text.length > 0) this.apply(JSON.parse(text) as WatchLine);
            nl = rest.indexOf('\n');
          }
        }
      } catch (err) {
        if (isStrataError(err, 'INVALID_ARGUMENT')) {
          // An older worker ("no RPC GET /rpc/v1/watch"): never cache its answers.
          this.closed = true;
        }
      } finally {
        if (watchdog) clearTimeout(watchdog);
        this.down();
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.retryTimer = setTimeout(resolve, this.retryMs);
        this.retryTimer.unref();
      });
      this.retryMs = Math.min(this.retryMs * 2, 5_000);
    }
  }
}
