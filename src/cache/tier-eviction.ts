/**
 * What leaves the tiers, and pins: eviction (memory drops only its copy; a disk eviction drops the
 * file and the memory copy), the shrink or regrow of a disk tier to what its disk holds, deleteFile,
 * and pinning. Every unlink runs under the page's lock and re-checks the index there, so it never
 * deletes a file a later put wrote.
 */
import type { DiskTier } from './disk-tier.js';
import { checkFileId, pageKey } from './page-key.js';
import type { TierSet } from './tier-set.js';

export function evictMemory(set: TierSet, slot: number): void {
  const memory = set.memory!.index;
  const entry = memory.refOf(slot);
  memory.removeSlot(slot);
  memory.evictions++;
  set.changes++;
  set.notifyEvict(set.memory!.name, entry.fileId, entry.index, entry.bytes);
}

/** Drops a disk page and its memory copy (tiers are inclusive); the file goes in the background. */
export function evictDisk(set: TierSet, disk: DiskTier, slot: number): Promise<void> {
  const entry = disk.index.refOf(slot);
  disk.index.removeSlot(slot);
  disk.index.evictions++;
  set.memory?.index.remove(entry.fileId, entry.index);
  set.changes++;
  set.notifyEvict(disk.name, entry.fileId, entry.index, entry.bytes);
  return unlinkLater(set, disk, entry.fileId, entry.index, entry.bytes);
}

/** Evicts disk pages until the tier is within its capacity; the unlinks' promises. */
export function evictToFit(set: TierSet, disk: DiskTier): Promise<void>[] {
  const unlinks: Promise<void>[] = [];
  while (!disk.index.fits(0)) {
    const victim = disk.index.victim();
    if (victim < 0) break;
    unlinks.push(evictDisk(set, disk, victim));
  }
  return unlinks;
}

/**
 * Deletes a page file under its lock, unless a later put indexed the page again.
 * `bytes`: the page's payload, counted in disk.unlinkingBytes until its file is gone.
 */
export function unlinkLater(
  set: TierSet,
  disk: DiskTier,
  fileId: string,
  index: number,
  bytes = 0,
): Promise<void> {
  const key = pageKey(fileId, index);
  disk.unlinkingBytes += bytes;
  const done = set.locks
    .run(key, async () => {
      if (!disk.index.has(fileId, index)) await disk.unlinkPage(fileId, index);
    })
    .catch(() => {
      // The file may leak until the next open() rescans; the index is already right.
    })
    .finally(() => {
      disk.unlinkingBytes -= bytes;
    });
  return set.track(done);
}

/**
 * Sets a disk tier's capacity from what its disk holds (DiskTier.measure): 'shrink' after
 * ENOSPC — never above the current capacity; evicts what no longer fits and waits for those
 * files to go, so the space is free when this returns — or 'grow' back toward the quota once the
 * disk has room again. A burst of writes failing together measures the same disk each time:
 * pages evicted but not yet unlinked count as the tier's, so it does not shrink once per write.
 */
export async function remeasure(set: TierSet, disk: DiskTier, direction: 'shrink' | 'grow'): Promise<void> {
  disk.measuredAtMs = Date.now();
  let measured: number | undefined;
  try {
    measured = await disk.measure(set.pageSize);
  } catch {
    // statfs failed: after ENOSPC give up one page's worth; otherwise keep the capacity.
    if (direction === 'shrink') measured = disk.index.capacityBytes - set.pageSize;
  }
  const current = disk.index.capacityBytes;
  if (measured !== undefined && (direction === 'shrink' ? measured < current : measured > current)) {
    disk.index.resize(measured);
    set.changes++;
    set.notifyCapacity(disk);
  }
  await Promise.all(evictToFit(set, disk));
}

export async function deleteFile(set: TierSet, fileId: string): Promise<number> {
  set.checkOpen();
  checkFileId(fileId);
  // Noted even with nothing cached: a put of bytes read before this must not store them later.
  set.noteDeletion(fileId);
  if (set.fileTable.find(fileId) < 0) return 0;
  let freed = 0;
  const unlinks: Promise<void>[] = [];
  for (const [index, bytes] of [...set.pagesOf(fileId)]) {
    freed += bytes;
    set.memory?.index.remove(fileId, index);
    for (const disk of set.disks) {
      if (disk.index.remove(fileId, index)) unlinks.push(unlinkLater(set, disk, fileId, index, bytes));
    }
  }
  set.changes++;
  await set.track(Promise.all(unlinks));
  return freed;
}

export async function setPinned(set: TierSet, fileId: string, pinned: boolean): Promise<void> {
  set.checkOpen();
  checkFileId(fileId);
  if (set.pinned.has(fileId) === pinned) return;
  applyPin(set, fileId, pinned);
  try {
    if (set.pinFile) await set.track(set.pinFile.save(set.pinned));
  } catch (err) {
    applyPin(set, fileId, !pinned);
    throw err;
  }
}

function applyPin(set: TierSet, fileId: string, pinned: boolean): void {
  set.changes++;
  if (pinned) set.pinned.add(fileId);
  else set.pinned.delete(fileId);
  const file = set.fileTable.find(fileId);
  if (file < 0) return;
  // A page still being written becomes evictable when its write ends (tier-write.ts).
  for (const tier of set.tiers)
    for (const slot of tier.index.slotsOfFile(file))
      if (tier.index.isReady(slot)) tier.index.setEvictable(slot, !pinned);
}
