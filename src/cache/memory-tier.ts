/**
 * The memory tier: page buffers by slot of its index. Pages here are trusted without re-checking
 * their checksum: they were either handed to put() by the caller or read from disk and verified
 * then, and a Buffer in our heap does not rot the way a file can.
 */
import type { FileTable } from './file-table.js';
import type { EvictionPolicyName } from './page-store.js';
import { TierIndex } from './tier-index.js';

export class MemoryTier {
  readonly kind = 'memory';
  /** Each page's value is its Buffer. */
  readonly index: TierIndex<Buffer>;

  constructor(name: string, capacityBytes: number, policy: EvictionPolicyName, files: FileTable) {
    this.index = new TierIndex(name, capacityBytes, policy, files);
  }

  get name(): string {
    return this.index.name;
  }
}
