/**
 * The measured process of bench/worker-scale.ts: `strata local`'s worker (startLocal) with one
 * file:// mount at /big, driven by JSON lines on stdin, answering one JSON line each:
 *   {"cmd":"fill","dirs":D,"perDir":F}  writes D × F file records (and the D directory records)
 *       into the worker's metadata store as a listing of the store would (putListingChunk in
 *       chunks of 1,000, then completeListing), so every status below is a cached one;
 *   {"cmd":"stat","n":N,"lanes":L}      N status() calls of random paths, L at a time, in process;
 *       with "profile":FILE, a V8 CPU profile of just those calls is written to FILE
 *       (--cpu-prof would not do: the measured child is ended by kill -9);
 *   {"cmd":"floor","n":N,"lanes":L,"batch":B}  the floor of that row: N raw LevelDB reads of the
 *       same random status keys, no decoding and no cache; B = 1: L gets in flight; B > 1: L
 *       getMany calls of B keys each in flight;
 *   {"cmd":"stop"}                       a clean stop (the disk tier writes its index file).
 * Usage: node dist/bench/worker-scale-child.js DATA_DIR ORIGIN_DIR
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { loadServerConfig } from '../src/core/config.js';
import type { FileRecord } from '../src/meta/meta-store.js';
import { startLocal } from '../src/server/local.js';
import { recordOf } from '../src/worker/records.js';
import { dirName, fileName } from './worker-scale-names.js';

const [dataDir, origin] = process.argv.slice(2);
if (dataDir === undefined || origin === undefined)
  throw new Error('usage: worker-scale-child DATA_DIR ORIGIN_DIR');

const config = await loadServerConfig({
  dataDir,
  port: '0',
  mounts: [`/big=${pathToFileURL(origin).href}`],
});
const local = await startLocal(config);
const { node } = local;
const say = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};
say({
  ready: true,
  worker: local.ready.addresses.worker,
  registry: local.ready.addresses.registry,
  tokenFile: local.ready.tokenFile,
  diskIndexSources: node.pages.diskIndexSources,
  diskPages: node.pages.stats().tiers.find((t) => t.kind === 'disk')?.pages ?? 0,
});

async function fill(dirs: number, perDir: number): Promise<void> {
  const mount = node.mounts.tryResolve('/big')!.mount;
  const meta = node.meta;
  const mtimeMs = Date.now();
  const file = (path: string): FileRecord =>
    recordOf(path, { path, type: 'file', size: 4096, mtimeMs }, mount);
  for (let d = 0; d < dirs; d++) {
    const dir = dirName(d);
    for (let f = 0; f < perDir; f += 1000) {
      const part: FileRecord[] = [];
      for (let i = f; i < Math.min(perDir, f + 1000); i++) part.push(file(fileName(d, i)));
      const last = part[part.length - 1]!.path.slice(dir.length + 1);
      const range = {
        ...(f === 0 ? {} : { after: fileName(d, f - 1).slice(dir.length + 1) }),
        ...(f + 1000 < perDir ? { through: last } : {}),
      };
      await meta.putListingChunk(dir, part, range);
    }
    await meta.completeListing(dir, Date.now());
  }
  const dirRecords: FileRecord[] = [];
  for (let d = 0; d < dirs; d++) {
    const path = dirName(d);
    dirRecords.push(recordOf(path, { path, type: 'directory', size: 0, mtimeMs }, mount));
  }
  for (let i = 0; i < dirRecords.length; i += 1000) {
    const part = dirRecords.slice(i, i + 1000);
    const range = {
      ...(i === 0 ? {} : { after: dirRecords[i - 1]!.path.slice('/big/'.length) }),
      ...(i + 1000 < dirRecords.length ? { through: part[part.length - 1]!.path.slice('/big/'.length) } : {}),
    };
    await meta.putListingChunk('/big', part, range);
  }
  await meta.completeListing('/big', Date.now());
}

async function stat(n: number, lanes: number, dirs: number, perDir: number): Promise<number> {
  let left = n;
  let misses = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (left-- > 0) {
        const path = fileName(Math.floor(Math.random() * dirs), Math.floor(Math.random() * perDir));
        const info = await node.fs.status(path);
        if (info.size !== 4096) misses++;
      }
    }),
  );
  return misses;
}

/** Raw reads of random status keys (what no status() over this store can beat); returns misses. */
async function floor(n: number, lanes: number, batch: number, dirs: number, perDir: number): Promise<number> {
  const meta = node.meta;
  const random = () => fileName(Math.floor(Math.random() * dirs), Math.floor(Math.random() * perDir));
  let left = n;
  let misses = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      if (batch <= 1) {
        while (left-- > 0) if ((await meta.rawStatusValue(random())) === undefined) misses++;
        return;
      }
      while (left > 0) {
        const paths = Array.from({ length: Math.min(batch, left) }, random);
        left -= paths.length;
        for (const v of await meta.rawStatusValues(paths)) if (v === undefined) misses++;
      }
    }),
  );
  return misses;
}

/** fn's result, with a CPU profile of the process while it ran written to `file`. */
async function profiled<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(file, JSON.stringify(profile));
    session.disconnect();
  }
}

let shape = { dirs: 0, perDir: 0 };
for await (const line of createInterface({ input: process.stdin })) {
  const msg = JSON.parse(line) as {
    cmd: string;
    dirs?: number;
    perDir?: number;
    n?: number;
    lanes?: number;
    batch?: number;
    profile?: string;
  };
  const t0 = performance.now();
  if (msg.cmd === 'fill') {
    shape = { dirs: msg.dirs!, perDir: msg.perDir! };
    await fill(shape.dirs, shape.perDir);
    say({ cmd: 'fill', ms: performance.now() - t0 });
  } else if (msg.cmd === 'shape') {
    shape = { dirs: msg.dirs!, perDir: msg.perDir! };
    say({ cmd: 'shape' });
  } else if (msg.cmd === 'stat') {
    const run = () => stat(msg.n!, msg.lanes ?? 64, shape.dirs, shape.perDir);
    const wrong = await (msg.profile === undefined ? run() : profiled(msg.profile, run));
    say({ cmd: 'stat', ms: performance.now() - t0, wrong });
  } else if (msg.cmd === 'floor') {
    const wrong = await floor(msg.n!, msg.lanes ?? 64, msg.batch ?? 1, shape.dirs, shape.perDir);
    say({ cmd: 'floor', ms: performance.now() - t0, wrong });
  } else if (msg.cmd === 'stop') {
    await local.stop();
    say({ cmd: 'stop', ms: performance.now() - t0 });
    process.exit(0);
  }
}
