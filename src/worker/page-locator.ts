import type { PageStore } from '../cache/page-store.js';
import { throwIfAborted } from '../core/abort.js';
import { MAX_LOCATED_PAGES, type PageLocation } from '../core/page-location.js';
import { normalizePath } from '../core/paths.js';
import type { MetaStore } from '../meta/meta-store.js';
import type { ChangeFeed } from './change-feed.js';
import type { FileInfoBuilder } from './file-info.js';
import type { MetadataSync } from './metadata-sync.js';

export interface PageLocatorParts {
  readonly sync: MetadataSync;
  readonly meta: Pick<MetaStore, 'getAttrs'>;
  readonly pages: Pick<PageStore, 'pageSize' | 'diskFile'>;
  readonly infos: FileInfoBuilder;
  readonly changes: ChangeFeed;
}

/**
 * A path's status and where its pages lie on disk (PageLocation), for clients that cache
 * statuses and read co-located page files themselves. The status is what status() answers
 * under the mount's policy; the page files are those a read would serve from now (a page not on
 * disk is null, and the client then reads the range over the RPC, which revalidates).
 */
export class PageLocator {
  constructor(private readonly o: PageLocatorParts) {}

  async locate(path: string, signal?: AbortSignal): Promise<PageLocation> {
    throwIfAborted(signal);
    // Taken first: any change after it may or may not be in this answer.
    const seq = this.o.changes.seq;
    const located = await this.o.sync.locate(normalizePath(path), undefined, signal);
    const mount = located.resolved?.mount.record;
    const info = this.o.infos.info(
      located.record,
      mount?.path ?? '/',
      await this.o.meta.getAttrs(located.path),
    );
    const pageSize = this.o.pages.pageSize;
    const base = { seq, info, syncIntervalMs: mount?.syncIntervalMs ?? -1, pageSize };
    const diskFile = this.o.pages.diskFile;
    if (located.record.type !== 'file' || located.record.size === 0 || diskFile === undefined) return base;
    const cacheId = this.o.sync.cacheIdOf(located);
    const count = Math.min(MAX_LOCATED_PAGES, Math.ceil(located.record.size / pageSize));
    const files: (string | null)[] = new Array(count);
    let any = false;
    for (let i = 0; i < count; i++) {
      const f = diskFile.call(this.o.pages, cacheId, i) ?? null;
      any ||= f !== null;
      files[i] = f;
    }
    return any ? { ...base, files } : base;
  }
}
