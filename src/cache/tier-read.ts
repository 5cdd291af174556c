/**
 * Reading pages out of the tiers: memory first, then the disk tiers (checksum or seal checked),
 * with `promote` copying a disk hit into memory; verify(); and dropping a page that failed its
 * checks. A page evicted or deleted while it is read makes that read a hit or a miss, never a
 * corrupt count: corruption is only counted when the entry read is still the indexed one.
 */
import type { DiskTier } from './disk-tier.js';
import { checkFileId, checkPageIndex, pageKey } from './page-key.js';
import type { GetOptions, PageCheck } from './page-store.js';
import type { PageRef } from './tier-index.js';
import type { TierSet } from './tier-set.js';
import { putMemory } from './tier-write.js';

export async function getPage(
  set: TierSet,
  fileId: string,
  index: number,
  options: GetOptions,
): Promise<Buffer | undefined> {
  set.checkOpen();
  checkFileId(fileId);
  checkPageIndex(index);
  const hit = peekMemory(set, fileId, index);
  if (hit) return hit;
  for (const disk of set.disks) {
    const slot = disk.index.find(fileId, index);
    if (slot < 0 || !disk.index.isReady(slot)) continue;
    disk.index.touch(slot);
    return set.track(readDisk(set, disk, disk.index.refOf(slot), options.promote === true, options.into));
  }
  return undefined;
}

export function peekMemory(set: TierSet, fileId: string, index: number): Buffer | undefined {
  if (set.state !== 'open' || set.memory === undefined) return undefined;
  const slot = set.memory.index.find(fileId, index);
  if (slot < 0) return undefined;
  set.memory.index.touch(slot);
  // Keep the disk copy warm too: evicting it would drop this hot memory copy.
  for (const disk of set.disks) {
    const onDisk = disk.index.find(fileId, index);
    if (onDisk >= 0) disk.index.touch(onDisk);
  }
  return set.memory.index.valueOf(slot);
}

export function diskFile(set: TierSet, fileId: string, index: number): string | undefined {
  if (set.state !== 'open' || set.sealedDisks) return undefined;
  for (const disk of set.disks) {
    const slot = disk.index.find(fileId, index);
    if (slot < 0 || !disk.index.isReady(slot)) continue;
    disk.index.touch(slot);
    const inMemory = set.memory?.index.find(fileId, index) ?? -1;
    if (inMemory >= 0) set.memory!.index.touch(inMemory);
    return disk.pagePath(fileId, index);
  }
  return undefined;
}

export function hasPage(set: TierSet, fileId: string, index: number): boolean {
  if (set.memory?.index.has(fileId, index)) return true;
  return set.disks.some((d) => {
    const slot = d.index.find(fileId, index);
    return slot >= 0 && d.index.isReady(slot);
  });
}

export async function verifyPage(set: TierSet, fileId: string, index: number): Promise<PageCheck> {
  set.checkOpen();
  checkFileId(fileId);
  checkPageIndex(index);
  return set.track(
    (async (): Promise<PageCheck> => {
      for (const disk of set.disks) {
        const slot = disk.index.find(fileId, index);
        if (slot < 0) continue;
        if (!disk.index.isReady(slot)) return 'ok'; // being written from fresh bytes
        const entry = disk.index.refOf(slot);
        let reason: string | undefined;
        let unseal: string | undefined;
        try {
          const result = await disk.readPage(entry.fileId, entry.index, entry.bytes);
          if (!result.ok) {
            reason = result.reason;
            unseal = result.unseal;
          } else if (result.data.length !== entry.bytes)
            reason = `length ${result.data.length} where ${entry.bytes} was indexed`;
          else {
            const copy = set.memoryCopy(fileId, index);
            // The memory copy has no checksum of its own: the disk copy that passed its own is the reference.
            if (copy !== undefined && !copy.equals(result.data)) reason = 'memory copy differs from disk';
          }
        } catch (err) {
          reason = err instanceof Error ? err.message : String(err);
        }
        if (reason === undefined) return 'ok';
        // Not dropped: a put replaced the page while it was read (fresh bytes).
        return (await dropBadPage(set, disk, entry, unseal)) ? 'bad' : 'ok';
      }
      return set.memory?.index.has(fileId, index) ? 'ok' : 'absent';
    })(),
  );
}

async function readDisk(
  set: TierSet,
  disk: DiskTier,
  entry: PageRef,
  promote: boolean,
  into: Buffer | undefined,
): Promise<Buffer | undefined> {
  let unseal: string | undefined;
  try {
    // A promoted page stays in memory: it must not live in a buffer its caller will reuse.
    const result = await disk.readPage(
      entry.fileId,
      entry.index,
      entry.bytes,
      promote ? undefined : into,
      disk.index.verifiedCtimeOf(entry.slot),
    );
    if (!result.ok) unseal = result.unseal;
    if (result.ok && result.data.length === entry.bytes) {
      // Only while the page is still indexed (not evicted, deleted or replaced while we read).
      const current = disk.index.isCurrent(entry);
      if (current) disk.index.setVerifiedCtime(entry.slot, result.ctimeMs);
      if (promote && set.memory && current && !set.memory.index.has(entry.fileId, entry.index)) {
        putMemory(set, entry.fileId, entry.index, result.data);
        set.changes++;
      }
      return result.data;
    }
  } catch {
    // Unreadable: dropped below like a page that failed its checks.
  }
  await dropBadPage(set, disk, entry, unseal);
  return undefined;
}

/**
 * Deletes a page that failed its checks, unless a put or a delete replaced it meanwhile;
 * whether it did.
 */
function dropBadPage(set: TierSet, disk: DiskTier, entry: PageRef, unseal?: string): Promise<boolean> {
  return set.locks.run(pageKey(entry.fileId, entry.index), async () => {
    if (!disk.index.isCurrent(entry)) return false;
    if (unseal !== undefined) set.unsealFailures[unseal] = (set.unsealFailures[unseal] ?? 0) + 1;
    disk.index.removeSlot(entry.slot);
    set.memory?.index.remove(entry.fileId, entry.index);
    set.changes++;
    set.corruptPages++;
    await disk.unlinkPage(entry.fileId, entry.index);
    return true;
  });
}
