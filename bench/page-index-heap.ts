/**
 * What one disk page costs the page store's in-memory index (issue 17: 1 M disk pages must cost
 * ≲ 150 MiB): a child process with --expose-gc writes a disk tier's index file (`index.v1`)
 * listing P one-page files, measures heap + array buffers after a full GC, opens a
 * TieredPageStore on it (a 64 MiB memory tier in front, as a worker has), and measures again.
 * The page files themselves are not needed: a clean close's index file is trusted at open.
 *
 * Rows: bytes per page retained after open (heap used + array buffers, after GC), the growth of
 * RSS while opening (what V8 kept of the load's garbage too), and the time open() took.
 *
 * Usage: node dist/bench/page-index-heap.js [--pages 1000000]
 */
import { spawn } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DISK_INDEX_FILE } from '../src/cache/disk-index-file.js';
import { TieredPageStore } from '../src/cache/tiered-page-store.js';
import { printTable, type Row, row } from './report.js';

interface Measured {
  readonly pages: number;
  readonly indexed: number;
  readonly bytesPerPage: number;
  readonly heapPerPage: number;
  readonly rssGrowthMiB: number;
  readonly openMs: number;
}

/** The bench's page names (bench/worker-scale.ts writePages): `<2 hex>bench<base36>`. */
function fileIdOf(i: number): string {
  return `${(i & 255).toString(16).padStart(2, '0')}bench${i.toString(36)}`;
}

async function writeIndexFile(dir: string, pages: number): Promise<void> {
  const fh = await open(join(dir, DISK_INDEX_FILE), 'w');
  try {
    let chunk = `strata-disk-index v1 ${pages}\n`;
    for (let i = 0; i < pages; i++) {
      chunk += `${fileIdOf(i)} 0 16\n`;
      if (chunk.length >= 1 << 20) {
        await fh.write(chunk);
        chunk = '';
      }
    }
    await fh.write(`${chunk}end ${pages}\n`);
  } finally {
    await fh.close();
  }
}

function retained(): { heap: number; all: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, all: m.heapUsed + m.arrayBuffers };
}

async function child(pages: number): Promise<Measured> {
  const dir = join(tmpdir(), `strata-page-index-heap-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    await writeIndexFile(dir, pages);
    const before = retained();
    const rssBefore = process.memoryUsage().rss;
    const store = new TieredPageStore({
      pageSize: 1024 * 1024,
      eviction: 'LRU',
      tiers: [
        { name: 'mem', kind: 'memory', capacityBytes: 64 * 1024 * 1024 },
        { name: 'disk', kind: 'disk', dir, capacityBytes: 1024 ** 4 },
      ],
    });
    const t0 = performance.now();
    await store.open();
    const openMs = performance.now() - t0;
    const after = retained();
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    const indexed = store.stats().tiers.find((t) => t.kind === 'disk')?.pages ?? 0;
    // Keep the store reachable until after the measurement.
    if (store.cachedBytes(fileIdOf(0)) !== 16) throw new Error('page 0 not indexed');
    return {
      pages,
      indexed,
      bytesPerPage: (after.all - before.all) / pages,
      heapPerPage: (after.heap - before.heap) / pages,
      rssGrowthMiB: rssGrowth / 2 ** 20,
      openMs,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runPageIndexHeapBench(argv: string[] = process.argv.slice(2)): Promise<Row[]> {
  const { values } = parseArgs({ args: argv, options: { pages: { type: 'string' } }, strict: false });
  const pages = Number(values.pages ?? 1_000_000);
  const out = await new Promise<string>((ok, fail) => {
    const proc = spawn(
      process.execPath,
      ['--expose-gc', fileURLToPath(import.meta.url), '--child', String(pages)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let text = '';
    proc.stdout.on('data', (d: Buffer) => {
      text += d.toString();
    });
    proc.once('exit', (code) =>
      code === 0 ? ok(text) : fail(new Error(`page-index-heap child exited ${code}`)),
    );
  });
  const m = JSON.parse(out) as Measured;
  if (m.indexed !== m.pages) throw new Error(`${m.indexed} of ${m.pages} pages indexed`);
  const label = `${m.pages.toLocaleString('en')} one-page files on a disk tier`;
  return [
    row(
      `${label}: index bytes per page after open (heap + array buffers after GC; heap alone ${m.heapPerPage.toFixed(0)} B)`,
      `${m.bytesPerPage.toFixed(0)} B`,
      '150 B',
      m.bytesPerPage / 150,
      { max: 1 },
    ),
    row(
      `${label}: RSS growth while opening`,
      `${m.rssGrowthMiB.toFixed(0)} MiB`,
      '150 MiB',
      m.rssGrowthMiB / 150,
    ),
    row(
      `${label}: open() from the index file`,
      `${(m.openMs / 1000).toFixed(2)} s`,
      '10 s',
      m.openMs / 10_000,
    ),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const at = process.argv.indexOf('--child');
  if (at >= 0) process.stdout.write(`${JSON.stringify(await child(Number(process.argv[at + 1])))}\n`);
  else printTable('page index heap', await runPageIndexHeapBench());
}
