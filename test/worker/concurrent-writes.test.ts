import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadServerConfig } from '../../src/core/config.js';
import type { WriteType } from '../../src/core/file-system.js';
import { type LocalProcess, startLocal } from '../../src/server/local.js';
import { tempDir } from '../helpers/local-process.js';

/**
 * Concurrent writes of one path: one version wins whole, and the cache keeps only its pages —
 * each losing version's pages are dropped when the next commit replaces it (they used to stay
 * until eviction: every commit deleted the pages of the version it had seen at its start). The
 * store keeps whichever write landed last, which need not be the one that committed last, so
 * overlapped writes commit what the store holds (a THROUGH read mixed two versions without that,
 * on a loaded machine).
 */

describe('concurrent writes of one path', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let local: LocalProcess;

  before(async () => {
    tmp = await tempDir('concurrent-writes');
    await mkdir(join(tmp.dir, 'origin'), { recursive: true });
    const config = await loadServerConfig({
      dataDir: join(tmp.dir, 'data'),
      port: '0',
      s3Port: 'off',
      mounts: [`/m=file://${join(tmp.dir, 'origin')}`],
    });
    local = await startLocal(config);
  });

  after(async () => {
    await local?.stop();
    await tmp?.cleanup();
  });

  /** Pages held by each tier (a page may be in the memory and the disk tier at once). */
  const pagesHeld = () => local.node.pages.stats().tiers.map((t) => t.pages);

  for (const writeType of ['CACHE_THROUGH', 'THROUGH'] as WriteType[]) {
    test(`${writeType}: 16 writers at once — one version wins whole, only its pages stay cached`, async () => {
      const fs = local.node.fs;
      const path = `/m/same-${writeType}.bin`;
      const before = pagesHeld();
      // Two pages each, so a mix of versions would show; every version differs in every byte and
      // in size (so in fingerprint, whatever the store's mtime resolution).
      const size = local.node.pages.pageSize + 1000;
      const versions = Array.from({ length: 16 }, (_, i) => Buffer.alloc(size + i, i + 1));
      await Promise.all(
        versions.map((v) => fs.write(path, Readable.from([v]), { size: v.length, writeType })),
      );
      const chunks: Buffer[] = [];
      for await (const c of await fs.read(path)) chunks.push(c as Buffer);
      const got = Buffer.concat(chunks);
      assert.ok(
        versions.some((v) => v.equals(got)),
        'the file is one whole version',
      );
      const status = await fs.status(path);
      const cachedPages = Math.ceil(status.cachedBytes / local.node.pages.pageSize);
      const now = pagesHeld();
      for (const [i, n] of now.entries())
        assert.ok(
          n - before[i]! <= cachedPages,
          `tier ${i} holds ${n - before[i]!} pages of ${path}; the winning version has ${cachedPages}`,
        );
    });
  }
});
