/**
 * Writing pages into the tiers: put() stores a page in memory (if it fits) and writes it to the
 * first disk tier that can hold it, under the page's lock. A disk entry being written is not ready:
 * it is not read, not evicted; deleteFile may remove it, and the put then notices its entry is gone
 * and deletes the file. A disk that says ENOSPC shrinks the tier and the put is tried once more.
 */
import { StrataError } from '../core/errors.js';
import { type DiskTier, isDiskFull } from './disk-tier.js';
import { diskWriteFailureReason } from './disk-write-failure.js';
import { checkFileId, checkPageIndex, pageKey } from './page-key.js';
import type { PutOptions } from './page-store.js';
import { evictDisk, evictMemory, remeasure, unlinkLater } from './tier-eviction.js';
import type { PageRef } from './tier-index.js';
import type { TierSet } from './tier-set.js';

export async function putPage(
  set: TierSet,
  fileId: string,
  index: number,
  data: Buffer,
  options: PutOptions = {},
): Promise<void> {
  set.checkOpen();
  checkFileId(fileId);
  checkPageIndex(index);
  if (!Buffer.isBuffer(data)) throw new StrataError('INVALID_ARGUMENT', 'page data must be a Buffer');
  if (data.length > set.pageSize) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `page of ${data.length} bytes exceeds pageSize ${set.pageSize}`,
    );
  }
  const key = pageKey(fileId, index);
  const mark = options.unlessDeletedSince;
  return set.track(set.locks.run(key, () => putLocked(set, key, fileId, index, data, mark, true)));
}

/**
 * Caches a page in memory if it fits (evicting unpinned pages); otherwise skips memory (a disk
 * tier holds it). Returns whether memory now holds it.
 */
export function putMemory(set: TierSet, fileId: string, index: number, data: Buffer): boolean {
  const memory = set.memory;
  if (memory === undefined) return false;
  memory.index.remove(fileId, index);
  if (!memory.index.canFit(data.length)) return false;
  while (!memory.index.fits(data.length)) {
    const victim = memory.index.victim();
    if (victim < 0) return false;
    evictMemory(set, victim);
  }
  memory.index.add(fileId, index, data.length, {
    evictable: !set.pinned.has(fileId),
    ready: true,
    value: data,
  });
  return true;
}

/**
 * `retryFull`: when the disk write meets ENOSPC, shrink that tier to what its disk holds, evict,
 * and write once more (the eviction made the room).
 */
async function putLocked(
  set: TierSet,
  key: string,
  fileId: string,
  index: number,
  data: Buffer,
  mark: number | undefined,
  retryFull: boolean,
): Promise<void> {
  const bytes = data.length;
  for (const disk of set.disks) {
    if (disk.index.capacityBytes < disk.quotaBytes && Date.now() - disk.measuredAtMs >= set.regrowCheckMs)
      await remeasure(set, disk, 'grow');
  }
  // No await between choosing the tier and indexing the page: a concurrent put of another page
  // could take the room in between.
  let target = chooseDisk(set, key, fileId, index, bytes);
  while (target === WAIT) {
    await new Promise<void>((resolve) => set.writeWaiters.push(resolve));
    set.checkOpen();
    target = chooseDisk(set, key, fileId, index, bytes);
  }
  // Checked after the last wait and before indexing: a deleteFile from here on sees the page.
  if (mark !== undefined && set.deletedSince(fileId, mark)) return;
  // A page lives in at most one disk tier: drop copies elsewhere (stale once replaced).
  for (const disk of set.disks) {
    if (disk !== target && disk.index.remove(fileId, index)) unlinkLater(set, disk, fileId, index);
  }
  let entry: PageRef | undefined;
  let replace = false;
  if (target !== undefined) {
    // The old entry goes; its file stays until our rename replaces it (a reader may hold it).
    replace = target.index.remove(fileId, index);
    while (!target.index.fits(bytes)) {
      const victim = target.index.victim();
      if (victim < 0) throw new StrataError('INTERNAL', 'eviction found no victim after canFit');
      evictDisk(set, target, victim);
    }
    entry = target.index.refOf(target.index.add(fileId, index, bytes, { evictable: false, ready: false }));
  }
  const inMemory = putMemory(set, fileId, index, data);
  set.changes++;
  if (!inMemory && set.disks.length === 0) {
    // Memory is the only tier: a page it cannot take is not cached at all, so say so.
    throw new StrataError(
      'CACHE_FULL',
      `no room for page ${key} (${bytes} bytes): memory holds pinned pages`,
      {
        details: { fileId, index, bytes },
      },
    );
  }
  if (target === undefined || entry === undefined) return;

  target.writingBytes += bytes;
  let full = false;
  try {
    await set.writeLimiter.run(() => target.writePage(fileId, index, data, replace));
  } catch (err) {
    const reason = diskWriteFailureReason(err);
    set.notifyWriteFailure(target.name, reason, err);
    const keptInMemory = reason !== 'no_space' && set.memoryCopy(fileId, index) === data;
    if (target.index.isCurrent(entry)) {
      target.index.removeSlot(entry.slot);
      if (!keptInMemory && set.memoryCopy(fileId, index) === data) set.memory?.index.remove(fileId, index);
      set.changes++;
    }
    // The previous file under this name is no longer indexed either.
    await target.unlinkPage(fileId, index).catch(() => {});
    if (reason !== 'no_space') {
      // A read-only or failing disk: set it aside for new pages (retried after the regrow
      // check period); the page is still cached when memory took it.
      target.writeBlockedUntilMs = Date.now() + set.regrowCheckMs;
      if (keptInMemory) return;
      throw new StrataError(
        'CACHE_FULL',
        `disk tier ${target.name} cannot store page ${key}: ${String(err)}`,
        {
          cause: err,
          details: { tier: target.name, reason },
        },
      );
    }
    if (!retryFull || !isDiskFull(err)) throw err;
    full = true;
  } finally {
    target.writingBytes -= bytes;
    for (const wake of set.writeWaiters.splice(0)) wake();
  }
  if (full) {
    // The quota said there was room and the disk said no: believe the disk.
    await remeasure(set, target, 'shrink');
    return putLocked(set, key, fileId, index, data, mark, false);
  }
  if (target.index.isCurrent(entry)) {
    target.index.setReady(entry.slot);
    target.index.setEvictable(entry.slot, !set.pinned.has(fileId));
  } else if (!target.index.has(fileId, index)) {
    await target.unlinkPage(fileId, index); // deleteFile ran while we wrote
  }
}

const WAIT = Symbol('wait for a disk write');

/**
 * The first disk tier that can take the page (after evicting), or undefined when none is large
 * enough or open for writes (memory only), or WAIT when only pages being written are in the way
 * (their space frees when a write ends); CACHE_FULL when pins are.
 */
function chooseDisk(
  set: TierSet,
  key: string,
  fileId: string,
  index: number,
  bytes: number,
): DiskTier | undefined | typeof WAIT {
  let anyLargeEnough = false;
  const now = Date.now();
  for (const disk of set.disks) {
    if (bytes > disk.index.capacityBytes) continue; // too large for this tier: not stored there
    if (disk.writeBlockedUntilMs > now) continue; // read-only or failing: memory only for now
    anyLargeEnough = true;
    if (disk.index.canFit(bytes, disk.index.find(fileId, index))) return disk;
  }
  if (!anyLargeEnough) return undefined;
  // Pages being written hold space but cannot be evicted yet: when they are what is in the
  // way (not pins), wait for a write to finish instead of failing a burst of puts.
  const inFlightMayFree = set.disks.some(
    (d) => d.writingBytes > 0 && d.index.canFit(bytes, d.index.find(fileId, index), d.writingBytes),
  );
  if (!inFlightMayFree) {
    throw new StrataError(
      'CACHE_FULL',
      `no room for page ${key} (${bytes} bytes): the disk tiers hold pinned pages`,
      { details: { fileId, index, bytes } },
    );
  }
  return WAIT;
}
