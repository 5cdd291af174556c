/**
 * What one tier holds: entries by page key, the bytes they use, and the eviction order of the
 * evictable ones. Every change of `usedBytes` happens together with the change of the entry map,
 * synchronously, so usedBytes is always the sum of the entries' bytes.
 */
import { createEvictionPolicy, type EvictionPolicy } from './eviction.js';
import type { EvictionPolicyName } from './page-store.js';

export interface TierEntry {
  readonly fileId: string;
  readonly index: number;
  readonly bytes: number;
}

export class TierIndex<E extends TierEntry> {
  private readonly entries = new Map<string, E>();
  private readonly policy: EvictionPolicy;
  private used = 0;
  private evictable = 0;
  private capacity: number;
  evictions = 0;

  constructor(
    readonly name: string,
    capacityBytes: number,
    policy: EvictionPolicyName,
  ) {
    this.policy = createEvictionPolicy(policy);
    this.capacity = capacityBytes;
  }

  /** The quota in bytes; a disk tier lowers it when its disk turns out to hold less (ENOSPC). */
  get capacityBytes(): number {
    return this.capacity;
  }

  /** Sets the quota; the caller evicts whatever no longer fits. */
  resize(capacityBytes: number): void {
    this.capacity = Math.max(0, Math.floor(capacityBytes));
  }

  get usedBytes(): number {
    return this.used;
  }
  get pages(): number {
    return this.entries.size;
  }
  /** Bytes that eviction could free now. */
  get evictableBytes(): number {
    return this.evictable;
  }

  get(key: string): E | undefined {
    return this.entries.get(key);
  }
  has(key: string): boolean {
    return this.entries.has(key);
  }
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  add(key: string, entry: E, evictable: boolean): void {
    this.remove(key);
    this.entries.set(key, entry);
    this.used += entry.bytes;
    if (evictable) this.setEvictable(key, true);
  }

  remove(key: string): E | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.setEvictable(key, false);
    this.entries.delete(key);
    this.used -= entry.bytes;
    return entry;
  }

  /** Pinning, or an in-flight write finishing, moves a page in or out of the eviction order. */
  setEvictable(key: string, evictable: boolean): void {
    const entry = this.entries.get(key);
    if (entry === undefined || this.policy.has(key) === evictable) return;
    if (evictable) {
      this.policy.onInsert(key);
      this.evictable += entry.bytes;
    } else {
      this.policy.onRemove(key);
      this.evictable -= entry.bytes;
    }
  }

  isEvictable(key: string): boolean {
    return this.policy.has(key);
  }

  touch(key: string): void {
    this.policy.onAccess(key);
  }

  /** Every entry, the evictable ones coldest first, then the others (pinned, in flight). */
  *coldestFirst(): IterableIterator<E> {
    for (const key of this.policy.victims()) yield this.entries.get(key)!;
    for (const [key, entry] of this.entries) if (!this.policy.has(key)) yield entry;
  }

  /** The next page to evict (never a pinned or in-flight one), without removing it. */
  victim(): string | undefined {
    return this.policy.victim();
  }

  /**
   * Whether `bytes` can fit after replacing `replacing` (a key whose current entry goes away) and
   * evicting everything evictable (plus `alsoFreeable` bytes expected to become evictable).
   */
  canFit(bytes: number, replacing?: string, alsoFreeable = 0): boolean {
    if (bytes > this.capacityBytes) return false;
    const old = replacing === undefined ? undefined : this.entries.get(replacing);
    const oldBytes = old?.bytes ?? 0;
    const freeable = this.evictable - (old !== undefined && this.policy.has(replacing!) ? oldBytes : 0);
    return this.used - oldBytes - freeable - alsoFreeable + bytes <= this.capacityBytes;
  }

  /** Whether `bytes` fits now without evicting anything. */
  fits(bytes: number): boolean {
    return this.used + bytes <= this.capacityBytes;
  }
}
