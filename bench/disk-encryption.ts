/**
 * The encrypted disk tier's cost on warm reads from disk: a disk-only TieredPageStore (no memory
 * tier, so every get reads its page file; the files sit in the OS page cache after the first
 * round) read back page by page with plain pages and with sealed ones (AES-256-GCM,
 * --disk-encryption-key-file), for 1 MiB and 64 KiB pages. Ratio = sealed ÷ plain throughput.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PageSealer } from '../src/cache/page-seal.js';
import { TieredPageStore } from '../src/cache/tiered-page-store.js';
import { printTable, type Row, row } from './report.js';
import { median } from './util.js';

const TOTAL = 128 * 1024 * 1024;
const ROUNDS = 7;

async function filledStore(dir: string, pageSize: number, sealer?: PageSealer): Promise<TieredPageStore> {
  const store = new TieredPageStore({
    pageSize,
    eviction: 'LRU',
    tiers: [{ name: 'disk0', kind: 'disk', dir, capacityBytes: 2 * TOTAL }],
    ...(sealer ? { diskSealer: sealer } : {}),
  });
  await store.open();
  const data = randomBytes(pageSize);
  for (let i = 0; i < TOTAL / pageSize; i++) await store.put('bench', i, data);
  return store;
}

/** One round: every page read back, 8 reads in flight (as readahead keeps a few going); MiB/s. */
async function readRound(store: TieredPageStore, pageSize: number): Promise<number> {
  const pages = TOTAL / pageSize;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < pages) {
        const got = await store.get('bench', next++);
        if (got?.length !== pageSize) throw new Error('a page went missing during the bench');
      }
    }),
  );
  return TOTAL / (1024 * 1024) / ((performance.now() - t0) / 1000);
}

/** Plain and sealed rounds interleaved, so load from other processes hits both alike. */
async function compare(root: string, pageSize: number): Promise<{ plain: number; sealed: number }> {
  const plainStore = await filledStore(join(root, `plain-${pageSize}`), pageSize);
  const sealedStore = await filledStore(
    join(root, `sealed-${pageSize}`),
    pageSize,
    new PageSealer(randomBytes(32)),
  );
  const plain: number[] = [];
  const sealed: number[] = [];
  try {
    for (let r = 0; r <= ROUNDS; r++) {
      const p = await readRound(plainStore, pageSize);
      const s = await readRound(sealedStore, pageSize);
      // Round 0 warms the OS page cache.
      if (r > 0) {
        plain.push(p);
        sealed.push(s);
      }
    }
  } finally {
    await plainStore.close();
    await sealedStore.close();
  }
  return { plain: median(plain), sealed: median(sealed) };
}

export async function runDiskEncryptionBench(_argv: string[]): Promise<Row[]> {
  const root = await mkdtemp(join(tmpdir(), 'strata-bench-seal-'));
  const rows: Row[] = [];
  try {
    for (const pageSize of [1024 * 1024, 64 * 1024]) {
      const { plain, sealed } = await compare(root, pageSize);
      rows.push(
        row(
          `warm disk-tier reads, ${pageSize / 1024} KiB pages: sealed (AES-256-GCM) ÷ plain`,
          `${sealed.toFixed(0)} MiB/s`,
          `${plain.toFixed(0)} MiB/s`,
          sealed / plain,
        ),
      );
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`)
  printTable('disk-encryption', await runDiskEncryptionBench([]));
