import { constants } from 'node:fs';
import { access, stat, statfs } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  STORAGE_ROUTE,
  type StorageDirKind,
  type StorageDirReport,
  type StorageReport,
} from '../core/storage-report.js';
import type { Handler } from './http-server.js';
import type { WorkerNode } from './worker-node.js';

/** GET /api/v1/storage: the worker's directories for `strata doctor` (src/core/storage-report.ts). */
export function storageHandler(node: WorkerNode): Handler {
  return async (req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== STORAGE_ROUTE) return false;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(await storageReport(node)));
    return true;
  };
}

export async function storageReport(node: WorkerNode): Promise<StorageReport> {
  const dataDir = resolve(node.config.dataDir);
  const tiers = node.pages.stats().tiers;
  const disk = tiers.find((t) => t.kind === 'disk');
  const dirs: Array<Promise<StorageDirReport>> = [
    inspect('data', 'data', dataDir),
    inspect('meta', 'meta', join(dataDir, 'meta')),
    inspect('staging', 'staging', join(dataDir, 'staging')),
  ];
  // WorkerNode keeps its one disk tier in <dataDir>/pages.
  if (disk)
    dirs.push(
      inspect(disk.tier, 'disk-tier', join(dataDir, 'pages'), {
        capacityBytes: disk.capacityBytes,
        usedBytes: disk.usedBytes,
      }),
    );
  return { workerId: node.id, pageSize: node.config.pageSize, dirs: await Promise.all(dirs) };
}

async function inspect(
  name: string,
  kind: StorageDirKind,
  path: string,
  tier: { capacityBytes: number; usedBytes: number } | undefined = undefined,
): Promise<StorageDirReport> {
  const base = { name, kind, path, ...(tier ?? {}) };
  try {
    if (!(await stat(path)).isDirectory())
      return {
        ...base,
        exists: false,
        writable: false,
        freeBytes: 0,
        totalBytes: 0,
        error: 'not a directory',
      };
  } catch (err) {
    return { ...base, exists: false, writable: false, freeBytes: 0, totalBytes: 0, error: errText(err) };
  }
  const writable = await access(path, constants.R_OK | constants.W_OK | constants.X_OK).then(
    () => true,
    () => false,
  );
  try {
    const fs = await statfs(path);
    return {
      ...base,
      exists: true,
      writable,
      freeBytes: fs.bavail * fs.bsize,
      totalBytes: fs.blocks * fs.bsize,
    };
  } catch (err) {
    return { ...base, exists: true, writable, freeBytes: 0, totalBytes: 0, error: errText(err) };
  }
}

function errText(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}
