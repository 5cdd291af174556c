import type { PageStore } from '../cache/page-store.js';
import type { FileInfo } from '../core/file-system.js';
import { baseName } from '../core/paths.js';
import type { FileAttrs, FileRecord } from '../meta/meta-store.js';
import type { Persister } from './persister.js';

/** FileInfo.cachedPercent: whole percent cached, rounded down; an empty file is 100 % cached. */
export function cachedPercentOf(type: FileRecord['type'], size: number, cachedBytes: number): number {
  if (size > 0) return Math.floor((cachedBytes * 100) / size);
  return type === 'file' ? 100 : 0;
}

/**
 * What a caller sees of a record: FileInfo, with its cached share, pin, TTL and persistence state.
 * Also keeps the last FileInfo[] per listed directory, handed out again while the metadata store
 * hands out the same listing and no cached bytes or pins changed anywhere (a warm relist is O(1)).
 */
export class FileInfoBuilder {
  private readonly listings = new Map<
    string,
    { records: readonly FileRecord[]; generation: number; mount: string; infos: readonly FileInfo[] }
  >();

  constructor(
    private readonly pages: Pick<PageStore, 'cachedBytes' | 'isPinned' | 'generation'>,
    private readonly persister: Pick<Persister, 'isPending'>,
  ) {}

  info(record: FileRecord, mount: string, attrs: FileAttrs | undefined): FileInfo {
    const cachedBytes = record.type === 'file' && record.cacheId ? this.pages.cachedBytes(record.cacheId) : 0;
    const persistence = record.staging
      ? this.persister.isPending(record.path)
        ? 'TO_BE_PERSISTED'
        : 'NOT_PERSISTED'
      : 'PERSISTED';
    // Optional fields assigned rather than spread: built once per status (the stat hot path).
    const info: { -readonly [K in keyof FileInfo]: FileInfo[K] } = {
      path: record.path,
      name: baseName(record.path),
      type: record.type,
      size: record.size,
      mtimeMs: record.mtimeMs,
      fingerprint: record.fingerprint,
      cachedBytes,
      cachedPercent: cachedPercentOf(record.type, record.size, cachedBytes),
      pinned: attrs?.pinned ?? (record.cacheId ? this.pages.isPinned(record.cacheId) : false),
      persistence,
      mount,
    };
    if (record.etag !== undefined) info.etag = record.etag;
    if (attrs?.ttlMs !== undefined) {
      info.ttlMs = attrs.ttlMs;
      info.ttlAction = attrs.ttlAction ?? 'free';
    }
    return info;
  }

  /**
   * The FileInfo[] of a directory's records. Children belong to the directory's mount, except
   * those that are mount points themselves. Frozen: the same array goes to every caller until
   * something changes.
   */
  listing(
    dir: string,
    records: readonly FileRecord[],
    mount: string,
    mountPoints: () => readonly string[],
  ): readonly FileInfo[] {
    const generation = this.pages.generation;
    const memo = this.listings.get(dir);
    if (memo && memo.records === records && memo.generation === generation && memo.mount === mount)
      return memo.infos;
    const points = new Set(mountPoints());
    const infos = Object.freeze(
      records.map((r) => this.info(r, points.has(r.path) ? r.path : mount, undefined)),
    );
    this.listings.delete(dir);
    this.listings.set(dir, { records, generation, mount, infos });
    if (this.listings.size > 64) this.listings.delete(this.listings.keys().next().value as string);
    return infos;
  }
}
