/**
 * Core benchmark (issue: single-process Strata). Every figure is a ratio against a baseline run
 * in this same script, because absolute times on shared machines mean little.
 *
 *   warm read   : Strata (page cache) throughput ÷ plain local-file read of the same bytes
 *   cold read   : Strata first read of an S3 object, time ÷ a direct GetObject of it
 *   cached stat : Strata status() rate ÷ the S3 store's HeadObject rate
 *
 * Usage: node dist/bench/core.js [--size-mib N] [--rounds N]
 */
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { RemoteFileSystem } from '../src/client/remote-file-system.js';
import type { StrataFileSystem } from '../src/client/types.js';
import { DEFAULT_CONFIG } from '../src/core/config.js';
import { setQuiet } from '../src/core/log.js';
import { startLocal } from '../src/server/local.js';
import { tempDir } from '../test/helpers/local-process.js';
import { createBucket, startSwiftS3, testS3Client } from '../test/helpers/swift.js';
import { printTable, type Row, row, saveResults } from './report.js';
import { drain, median, rate } from './util.js';

const MiB = 1024 * 1024;

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

export async function runCoreBench(argv: string[] = process.argv.slice(2)): Promise<Row[]> {
  const { values } = parseArgs({
    args: argv,
    options: { 'size-mib': { type: 'string' }, rounds: { type: 'string' } },
    strict: false,
  });
  const sizeMiB = Number(values['size-mib'] ?? 128);
  const rounds = Number(values.rounds ?? 3);
  const size = sizeMiB * MiB;
  setQuiet(true);
  const tmp = await tempDir('bench-core');
  const swift = await startSwiftS3();
  const s3 = testS3Client(swift);
  const rows: Row[] = [];
  let local: Awaited<ReturnType<typeof startLocal>> | undefined;
  let remote: RemoteFileSystem | undefined;
  try {
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) payload.writeUInt32LE((i ^ 0x9e3779b9) >>> 0, i);
    const localFile = join(tmp.dir, 'local.bin');
    await writeFile(localFile, payload);
    await createBucket(swift, 'bench');
    await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: 'data/big.bin', Body: payload }));
    for (let i = 0; i < 50; i++)
      await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: `meta/f${i}`, Body: 'x' }));

    local = await startLocal({
      ...DEFAULT_CONFIG,
      dataDir: join(tmp.dir, 'strata'),
      port: 0,
      memoryCapacity: 2 * size,
      diskCapacity: 4 * size,
      mounts: [],
    });
    const fs: StrataFileSystem = local.node.fs;
    await mkdir(join(tmp.dir, 'ufs'), { recursive: true });
    await fs.mount('/s3', 's3://bench', {
      options: {
        endpoint: swift.endpoint,
        region: swift.region,
        accessKeyId: swift.accessKeyId,
        secretAccessKey: swift.secretAccessKey,
      },
    });
    remote = new RemoteFileSystem(local.ready.addresses.worker!);

    // Cold: direct GetObject vs Strata's first read (cache freed between rounds).
    const direct: number[] = [];
    const cold: number[] = [];
    for (let r = 0; r < rounds; r++) {
      direct.push(
        await timeIt(async () =>
          drain(
            (await s3.send(new GetObjectCommand({ Bucket: 'bench', Key: 'data/big.bin' }))).Body as Readable,
          ),
        ),
      );
      await fs.free('/s3/data/big.bin');
      cold.push(await timeIt(async () => drain(await fs.read('/s3/data/big.bin'))));
    }
    const coldRatio = median(cold) / median(direct);
    rows.push(
      row(
        'cold read, time ÷ direct S3 GET',
        `${median(cold).toFixed(3)} s`,
        `${median(direct).toFixed(3)} s`,
        coldRatio,
        { max: 1.2 },
      ),
    );

    // Warm: local file read (the ceiling) vs Strata from its cache, in-process and over the RPC.
    await drain(await fs.read('/s3/data/big.bin'));
    const ceiling: number[] = [];
    const warm: number[] = [];
    const warmRpc: number[] = [];
    for (let r = 0; r < rounds; r++) {
      ceiling.push(
        size / MiB / (await timeIt(() => drain(createReadStream(localFile, { highWaterMark: MiB })))),
      );
      warm.push(size / MiB / (await timeIt(async () => drain(await fs.read('/s3/data/big.bin')))));
      warmRpc.push(size / MiB / (await timeIt(async () => drain(await remote!.read('/s3/data/big.bin')))));
    }
    const warmRatio = median(warm) / median(ceiling);
    rows.push(
      row(
        'warm read, throughput ÷ local file',
        `${median(warm).toFixed(0)} MiB/s`,
        `${median(ceiling).toFixed(0)} MiB/s`,
        warmRatio,
        { min: 0.5 },
      ),
    );
    const warmRpcRatio = median(warmRpc) / median(ceiling);
    rows.push(
      row(
        'warm read over RPC ÷ local file',
        `${median(warmRpc).toFixed(0)} MiB/s`,
        `${median(ceiling).toFixed(0)} MiB/s`,
        warmRpcRatio,
      ),
    );

    // Stat: the store's HeadObject rate vs Strata's cached status, same concurrency.
    const keys = Array.from({ length: 50 }, (_, i) => `meta/f${i}`);
    for (const k of keys) await fs.status(`/s3/${k}`);
    const storeRate = await rate(500, 8, (i) =>
      s3.send(new HeadObjectCommand({ Bucket: 'bench', Key: keys[i % keys.length]! })),
    );
    const cachedRate = await rate(50_000, 8, (i) => fs.status(`/s3/${keys[i % keys.length]}`));
    const rpcRate = await rate(10_000, 8, (i) => remote!.status(`/s3/${keys[i % keys.length]}`));
    rows.push(
      row(
        'cached stat rate ÷ store HEAD rate',
        `${cachedRate.toFixed(0)}/s`,
        `${storeRate.toFixed(0)}/s`,
        cachedRate / storeRate,
        { min: 20 },
      ),
    );
    rows.push(
      row(
        'cached stat over RPC ÷ store HEAD rate',
        `${rpcRate.toFixed(0)}/s`,
        `${storeRate.toFixed(0)}/s`,
        rpcRate / storeRate,
      ),
    );
  } finally {
    await remote?.close?.();
    await local?.stop();
    s3.destroy();
    await swift.stop();
    await tmp.cleanup();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runCoreBench();
  printTable(`Strata core benchmark (${new Date().toISOString()})`, rows);
  await saveResults('core', rows);
}
