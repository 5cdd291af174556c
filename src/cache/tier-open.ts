/**
 * Opening and closing a tier set: the startup rebuild of each disk tier's index (from the index
 * file the last clean close wrote, else a scan of its directories — disk-tier.ts and
 * disk-index-file.ts), the pins, the clean-up of a crash mid-move, and the index files close() writes.
 */
import { StrataError } from '../core/errors.js';
import { type DiskOpenReport, type DiskTier, openReportOf } from './disk-tier.js';
import { evictToFit } from './tier-eviction.js';
import type { TierSet } from './tier-set.js';

export interface OpenResult {
  /** Per disk tier, where its pages were found (an index file, or a scan). */
  readonly sources: readonly ('index-file' | 'scan')[];
  /** Per disk tier, what was found and dropped (the start log says it). */
  readonly reports: readonly DiskOpenReport[];
}

/**
 * Rebuilds the disk index: from the index file the last clean close() wrote (no walk; the
 * eviction order as it was), else from the directories (sizes from stat, oldest mtime first;
 * headers and checksums are checked on first read either way). Restores pins, removes temp
 * files, and evicts down to the quotas.
 */
export async function openTiers(set: TierSet): Promise<OpenResult> {
  if (set.state !== 'new') throw new StrataError('INTERNAL', `page store already ${set.state}`);
  if (set.pinFile) for (const id of await set.pinFile.load()) set.pinned.add(id);
  // Each tier streams its pages straight into its own index (no list of a million pages).
  const scans = await Promise.all(
    set.disks.map((disk) =>
      disk.load((fileId, index, bytes) => {
        disk.index.add(fileId, index, bytes, { evictable: !set.pinned.has(fileId), ready: true });
      }),
    ),
  );
  const result: OpenResult = {
    sources: scans.map((s) => s.source),
    reports: scans.map((s, i) => openReportOf(set.disks[i]!.name, s)),
  };
  set.changes++;
  for (const [i, disk] of set.disks.entries()) {
    const scan = scans[i]!;
    set.corruptPages += scan.badPages + scan.tornPages;
    if (i > 0) dropCopies(set, disk, set.disks.slice(0, i));
    // The quota may have shrunk since the pages were written (the unlinks run in the background).
    evictToFit(set, disk);
  }
  set.state = 'open';
  return result;
}

/** Waits for writes and deletions in flight, then drops the memory tier. */
export async function closeTiers(set: TierSet): Promise<void> {
  if (set.state === 'closed') return;
  set.state = 'closed';
  while (set.pending.size > 0) await Promise.allSettled([...set.pending]);
  // The next open() takes the index from these files instead of walking every page.
  // A failed write (disk full, read-only) only costs that walk: the file is never half there.
  await Promise.all(set.disks.map((d) => d.saveIndex().catch(() => undefined)));
  set.memory?.index.clear();
}

/** A copy left in a second tier (crash while moving): the first tier's is kept. */
function dropCopies(set: TierSet, disk: DiskTier, earlier: readonly DiskTier[]): void {
  const copies: number[] = [];
  for (const slot of disk.index.coldestFirst()) {
    const fileId = disk.index.fileIdOf(slot);
    const index = disk.index.indexOf(slot);
    if (earlier.some((d) => d.index.has(fileId, index))) copies.push(slot);
  }
  for (const slot of copies) {
    const fileId = disk.index.fileIdOf(slot);
    const index = disk.index.indexOf(slot);
    disk.index.removeSlot(slot);
    set.track(disk.unlinkPage(fileId, index));
  }
}
