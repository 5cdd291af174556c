/**
 * The memory tier: page buffers in a Map. Pages here are trusted without re-checking their
 * checksum: they were either handed to put() by the caller or read from disk and verified
 * then, and a Buffer in our heap does not rot the way a file can.
 */
import type { EvictionPolicyName } from './page-store.js';
import { type TierEntry, TierIndex } from './tier-index.js';

export interface MemoryEntry extends TierEntry {
  readonly data: Buffer;
}

export class MemoryTier {
  readonly kind = 'memory';
  readonly index: TierIndex<MemoryEntry>;

  constructor(name: string, capacityBytes: number, policy: EvictionPolicyName) {
    this.index = new TierIndex(name, capacityBytes, policy);
  }

  get name(): string {
    return this.index.name;
  }
}
