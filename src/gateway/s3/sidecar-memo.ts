/**
 * What a listing needs of each object's sidecar — its ETag and, when encrypted, its plaintext
 * size — remembered by sidecar path for the sidecars this gateway wrote or read, with the data
 * fingerprint they describe. A listing page of N keys would otherwise read N sidecars (up to 16
 * at a time): under a mixed load with writes, that was most of the gateway's work, and every
 * write invalidates the sidecar directory listing those reads first consult.
 *
 * An entry answers only for the exact fingerprint (and size) it was written for: the ETag of a
 * given stored content does not change (tagging or an ACL rewrites the sidecar, not the ETag), so
 * a change made elsewhere (another gateway, the store behind Strata's back) is a fingerprint that
 * misses here and is read as before. Provisional sidecars (ASYNC_THROUGH, fingerprint still to
 * change) are not kept.
 */
export interface SidecarFacts {
  readonly etag: string;
  /** The plaintext size of an encrypted object (its stored file is larger). */
  readonly plainSize: number | undefined;
}

interface Entry extends SidecarFacts {
  readonly fingerprint: string;
  readonly size: number;
}

/** What set() reads of a sidecar (meta.ts ObjectMeta). */
export interface SidecarIdentity {
  readonly etag: string;
  readonly size: number;
  readonly fingerprint: string;
  readonly provisional?: boolean;
  readonly sse?: { readonly size?: number };
}

export class SidecarMemo {
  private readonly entries = new Map<string, Entry>();
  /** Sidecar writes under way by path: overlapped ones keep nothing (which landed last is unknown). */
  private readonly writing = new Map<string, { active: number; started: number }>();

  /** `max` entries at most (~150 bytes each); the oldest set goes first. */
  constructor(private readonly max = 100_000) {}

  /** The facts of the sidecar at `path` if they describe a file of this fingerprint and size. */
  get(path: string, fingerprint: string, size: number): SidecarFacts | undefined {
    const e = this.entries.get(path);
    return e !== undefined && e.fingerprint === fingerprint && e.size === size ? e : undefined;
  }

  private set(path: string, meta: SidecarIdentity): void {
    this.entries.delete(path);
    if (meta.provisional || typeof meta.etag !== 'string' || typeof meta.fingerprint !== 'string') return;
    this.entries.set(path, {
      etag: meta.etag,
      plainSize: meta.sse?.size,
      fingerprint: meta.fingerprint,
      size: meta.size,
    });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** Runs a write of the sidecar at `path`; `meta` is kept after it unless another write overlapped. */
  async write(path: string, meta: SidecarIdentity, run: () => Promise<void>): Promise<void> {
    this.entries.delete(path);
    const flight = this.writing.get(path) ?? { active: 0, started: 0 };
    this.writing.set(path, flight);
    const alone = ++flight.active === 1;
    const startedAs = ++flight.started;
    try {
      await run();
      if (alone && flight.active === 1 && flight.started === startedAs) this.set(path, meta);
      else this.entries.delete(path);
    } finally {
      if (--flight.active === 0) this.writing.delete(path);
    }
  }

  /** What a read of the sidecar found (undefined: none); not kept while a write of it is under way. */
  read(path: string, meta: SidecarIdentity | undefined): void {
    if (meta === undefined || this.writing.has(path)) this.entries.delete(path);
    else this.set(path, meta);
  }

  /** Whether a sidecar was at `path` when this gateway last wrote or read it (of any content). */
  knows(path: string): boolean {
    return this.entries.has(path);
  }

  forget(path: string): void {
    this.entries.delete(path);
  }

  get size(): number {
    return this.entries.size;
  }
}
