/**
 * ListObjectsV2 walk of one large prefix through the S3 gateway (issue 17): the server process's
 * peak RSS above what it held before the walk (VmHWM after resetting it through clear_refs, less
 * VmRSS at the start), cold (the worker fills its metadata store from the origin) and warm (the
 * listing is served from the metadata store page by page). Origin: a file:// folder of N empty
 * files. Target: ≤ 100 MiB extra for a 1 M-key prefix; smaller sizes give the slope. The extra RSS
 * is also split (100 ms samples of RssAnon / RssFile): LevelDB maps its table files, so the pages
 * of the store a walk reads count in RSS as file-backed page cache.
 *
 * Usage: node dist/bench/listing.js [--keys 100000,300000]
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ACCESS_KEY, SECRET_KEY } from '../test/gateway/harness.js';
import { REPO_ROOT, tempDir } from '../test/helpers/local-process.js';
import { printTable, type Row, row, saveResults } from './report.js';

async function procKb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(text);
  return m ? Number(m[1]) : 0;
}

/** `strata local`'s worker with the S3 gateway on it, in a child process (what is measured). */
async function startServer(dataDir: string, mount: string) {
  const script = `
    import { loadServerConfig } from '${REPO_ROOT}/dist/src/core/config.js';
    import { startLocal } from '${REPO_ROOT}/dist/src/server/local.js';
    import { startS3GatewayServer } from '${REPO_ROOT}/dist/src/gateway/s3/index.js';
    const [dataDir, mount] = process.argv.slice(1);
    const config = await loadServerConfig({ dataDir, port: '0', memoryCapacity: '256MiB', mounts: [mount] });
    const local = await startLocal(config);
    const gw = await startS3GatewayServer(local.node.fs, {
      credentials: new Map([[process.env.STRATA_S3_ACCESS_KEY_ID, process.env.STRATA_S3_SECRET_ACCESS_KEY]]),
      port: 0,
    });
    process.stdout.write(JSON.stringify({ ready: true, s3: gw.url }) + '\\n');
    process.once('SIGTERM', async () => { await gw.close(); await local.stop(); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', dataDir, mount], {
    env: {
      ...process.env,
      STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY,
      STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY,
      STRATA_LOG: 'error',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const line = await new Promise<string>((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`server exited (${code}) before it was ready`)));
    lines.on('line', (l) => {
      if (l.includes('"ready":true')) ok(l);
    });
  });
  return {
    pid: child.pid!,
    url: (JSON.parse(line) as { s3: string }).s3,
    async stop() {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * The server's anonymous and file-backed RSS (kB), sampled every 100 ms: VmHWM has no such split,
 * and LevelDB reads its tables through mmap, so every table page a walk touches is resident
 * page cache counted in RSS (clean, shared, dropped by the kernel under pressure), not memory the
 * process allocated.
 */
function sampleRss(pid: number): { stop(): Promise<{ anonKb: number; fileKb: number }> } {
  let anonKb = 0;
  let fileKb = 0;
  let busy: Promise<void> = Promise.resolve();
  const read = () => {
    busy = readFile(`/proc/${pid}/status`, 'utf8').then(
      (text) => {
        anonKb = Math.max(anonKb, Number(/RssAnon:\s+(\d+) kB/.exec(text)?.[1] ?? 0));
        fileKb = Math.max(fileKb, Number(/RssFile:\s+(\d+) kB/.exec(text)?.[1] ?? 0));
      },
      () => undefined,
    );
  };
  read();
  const timer = setInterval(read, 100);
  return {
    async stop() {
      clearInterval(timer);
      await busy;
      read();
      await busy;
      return { anonKb, fileKb };
    },
  };
}

async function procRss(pid: number): Promise<{ anonKb: number; fileKb: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return {
    anonKb: Number(/RssAnon:\s+(\d+) kB/.exec(text)?.[1] ?? 0),
    fileKb: Number(/RssFile:\s+(\d+) kB/.exec(text)?.[1] ?? 0),
  };
}

interface Walked {
  readonly keys: number;
  readonly ms: number;
  /** Peak extra RSS (VmHWM above VmRSS at the start): the row's figure. */
  readonly extraMiB: number;
  /** Its split, from 100 ms samples: anonymous memory, and file-backed pages (LevelDB's mmaps). */
  readonly extraAnonMiB: number;
  readonly extraFileMiB: number;
}

/** One walk of the prefix, 1,000 keys a page; the server's peak extra RSS while it ran. */
async function walk(s3: S3Client, pid: number): Promise<Walked> {
  const before = await procKb(pid, 'VmRSS');
  const split = await procRss(pid);
  await writeFile(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
  const sampler = sampleRss(pid);
  const t0 = performance.now();
  let keys = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: 'bkt',
        Prefix: 'p/',
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    keys += page.KeyCount ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const ms = performance.now() - t0;
  const peak = await procKb(pid, 'VmHWM');
  const sampled = await sampler.stop();
  return {
    keys,
    ms,
    extraMiB: Math.max(0, peak - before) / 1024,
    extraAnonMiB: Math.max(0, sampled.anonKb - split.anonKb) / 1024,
    extraFileMiB: Math.max(0, sampled.fileKb - split.fileKb) / 1024,
  };
}

export async function runListingBench(argv: string[] = process.argv.slice(2)): Promise<Row[]> {
  const { values } = parseArgs({ args: argv, options: { keys: { type: 'string' } }, strict: false });
  const sizes = String(values.keys ?? '100000,300000')
    .split(',')
    .map(Number);
  const rows: Row[] = [];
  const table: string[] = [];
  for (const n of sizes) {
    const tmp = await tempDir('listing-bench');
    try {
      const dir = join(tmp.dir, 'origin', 'p');
      await mkdir(dir, { recursive: true });
      for (let i = 0; i < n; i += 1000)
        await Promise.all(
          Array.from({ length: Math.min(1000, n - i) }, (_, j) =>
            writeFile(join(dir, `k-${String(i + j).padStart(8, '0')}`), ''),
          ),
        );
      const server = await startServer(join(tmp.dir, 'data'), `/bkt=file://${join(tmp.dir, 'origin')}`);
      const s3 = new S3Client({
        endpoint: server.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
      });
      try {
        const cold = await walk(s3, server.pid);
        const warm = await walk(s3, server.pid);
        if (cold.keys !== n || warm.keys !== n)
          throw new Error(`listed ${cold.keys}/${warm.keys} of ${n} keys`);
        const split = (w: Walked) => `(anon ${w.extraAnonMiB.toFixed(1)}, file ${w.extraFileMiB.toFixed(1)})`;
        table.push(
          `${String(n).padStart(9)}  cold ${cold.extraMiB.toFixed(1).padStart(6)} MiB ${split(cold)} ${(cold.ms / 1000).toFixed(1).padStart(6)} s   warm ${warm.extraMiB.toFixed(1).padStart(6)} MiB ${split(warm)} ${(warm.ms / 1000).toFixed(1).padStart(6)} s`,
        );
        rows.push(
          row(
            `ListObjectsV2 walk of ${n} keys, warm: peak extra RSS (MiB)`,
            warm.extraMiB.toFixed(1),
            '100',
            warm.extraMiB / 100,
            {
              max: 1,
            },
          ),
          row(
            `ListObjectsV2 walk of ${n} keys, cold: peak extra RSS (MiB)`,
            cold.extraMiB.toFixed(1),
            '100',
            cold.extraMiB / 100,
          ),
          row(
            `ListObjectsV2 walk of ${n} keys, cold: peak extra anonymous RSS, 100 ms samples (MiB; the rest is LevelDB's mmapped tables)`,
            cold.extraAnonMiB.toFixed(1),
            '100',
            cold.extraAnonMiB / 100,
          ),
        );
      } finally {
        s3.destroy();
        await server.stop();
      }
    } finally {
      await tmp.cleanup();
    }
  }
  process.stdout.write(
    `\nkeys       server peak extra RSS and walk time (1,000 keys a page)\n${table.join('\n')}\n`,
  );
  printTable('listing: ListObjectsV2 walk of one large prefix', rows);
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runListingBench();
  process.stdout.write(`results: ${await saveResults('listing', rows)}\n`);
}
