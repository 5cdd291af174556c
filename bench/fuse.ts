/**
 * FUSE benchmarks (issue 6), ratios from one run:
 *  - warm sequential read of a large file through the Strata mount ÷ the same through
 *    `rclone mount --vfs-cache-mode full`, both over one Swift S3 bucket (O_DIRECT reads, so the
 *    daemons are measured, plus a buffered second read as information);
 *  - fio random 256 KiB reads, 4 jobs, warm, through the mount ÷ the same file on local disk;
 *  - the per-file rows of bench/fuse-files.ts (warm small files ÷ local folder, `find` over
 *    100,000 files ÷ origin), run after these with the same --files/--small/--readers flags.
 * Run: node dist/bench/fuse.js [--size-mib 1024] [--files 100000] [--small 2000] [--readers 4]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { connect } from '../src/client/connect.js';
import { forceUnmount, mounted, sh, startFuse } from '../test/fuse/fuse-helpers.js';
import { startLocal, tempDir } from '../test/helpers/local-process.js';
import { createBucket, startSwiftS3, testS3Client } from '../test/helpers/swift.js';
import { runFuseFilesBench } from './fuse-files.js';
import { printTable, type Row, saveResults } from './report.js';

const MiB = 1 << 20;

async function seconds(cmd: string): Promise<number> {
  const r = await sh(cmd, 600_000);
  if (r.code !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.ms / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function fioMiBps(file: string, size: number, extra = ''): Promise<number> {
  const r = await sh(
    `fio --name=rr --filename=${file} --size=${size} --readonly --rw=randread --bs=256k --numjobs=4 --group_reporting --ioengine=psync --invalidate=0 --time_based --runtime=5 --output-format=json ${extra}`,
    120_000,
  );
  if (r.code !== 0) throw new Error(`fio: ${r.stderr}`);
  const job = (JSON.parse(r.stdout) as { jobs: { read: { bw_bytes: number } }[] }).jobs[0];
  return (job?.read.bw_bytes ?? 0) / MiB;
}

export async function runFuseBench(argv: string[] = []): Promise<Row[]> {
  const big = await runBigFileRows(argv);
  // Their own strata local and mount, so the big file's cache does not sit beside the small files.
  return [...big, ...(await runFuseFilesBench(argv))];
}

async function runBigFileRows(argv: string[]): Promise<Row[]> {
  const { values } = parseArgs({
    args: argv,
    options: { 'size-mib': { type: 'string' }, rounds: { type: 'string' } },
    strict: false,
  });
  const sizeMiB = Number(values['size-mib'] ?? 1024);
  const rounds = Number(values.rounds ?? 3);
  const size = sizeMiB * MiB;
  const rows: Row[] = [];
  const tmp = await tempDir('bench-fuse');
  const swift = await startSwiftS3();
  const mntS = join(tmp.dir, 'strata-mnt');
  const mntR = join(tmp.dir, 'rclone-mnt');
  let rclone: ChildProcess | undefined;
  let local: Awaited<ReturnType<typeof startLocal>> | undefined;
  let fuse: Awaited<ReturnType<typeof startFuse>> | undefined;
  try {
    await mkdir(mntS);
    await mkdir(mntR);
    // Origin: one large object in Swift S3.
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) payload.writeUInt32LE((i ^ 0x9e3779b9) >>> 0, i);
    const localFile = join(tmp.dir, 'local.bin');
    await writeFile(localFile, payload);
    await createBucket(swift, 'fusebench');
    const s3 = testS3Client(swift);
    await s3.send(new PutObjectCommand({ Bucket: 'fusebench', Key: 'big.bin', Body: payload }));
    s3.destroy();
    local = await startLocal([
      '--data-dir',
      join(tmp.dir, 'strata'),
      '--memory-capacity',
      `${Math.max(256, sizeMiB + 256)}MiB`,
      '--disk-capacity',
      `${4 * sizeMiB}MiB`,
    ]);
    const fs = await connect(local.registry);
    await fs.mount('/s3', 's3://fusebench', {
      options: {
        endpoint: swift.endpoint,
        region: swift.region,
        accessKeyId: swift.accessKeyId,
        secretAccessKey: swift.secretAccessKey,
      },
    });
    await fs.close();
    fuse = await startFuse(local.registry, mntS);

    rclone = spawn(
      'rclone',
      [
        'mount',
        'swifts3:fusebench',
        mntR,
        '--vfs-cache-mode',
        'full',
        '--cache-dir',
        join(tmp.dir, 'rclone-cache'),
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          // The endpoint is plain http; a CA bundle in the environment makes rclone's S3 client fail.
          ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'AWS_CA_BUNDLE')),
          RCLONE_CONFIG_SWIFTS3_TYPE: 's3',
          RCLONE_CONFIG_SWIFTS3_PROVIDER: 'Other',
          RCLONE_CONFIG_SWIFTS3_ENDPOINT: swift.endpoint,
          RCLONE_CONFIG_SWIFTS3_ACCESS_KEY_ID: swift.accessKeyId,
          RCLONE_CONFIG_SWIFTS3_SECRET_ACCESS_KEY: swift.secretAccessKey,
          RCLONE_CONFIG_SWIFTS3_REGION: swift.region,
          RCLONE_CONFIG_SWIFTS3_FORCE_PATH_STYLE: 'true',
        },
      },
    );
    let rcloneLog = '';
    rclone.stderr?.setEncoding('utf8').on('data', (d: string) => {
      rcloneLog += d;
    });
    for (let i = 0; i < 300 && !(await mounted(mntR)); i++) await new Promise((r) => setTimeout(r, 100));
    if (!(await mounted(mntR))) throw new Error(`rclone mount did not come up: ${rcloneLog}`);

    // Sequential: one cold read each fills both caches, then warm rounds.
    const fileS = `${mntS}/s3/big.bin`;
    const fileR = `${mntR}/big.bin`;
    await seconds(`cat ${fileS} > /dev/null`);
    await seconds(`cat ${fileR} > /dev/null`);
    const mbps = (t: number) => `${(sizeMiB / t).toFixed(0)} MiB/s`;
    // What a reader does (cat, a data loader): buffered reads. Strata keeps the kernel page
    // cache across opens while the file is unchanged (keep_cache per open, docs/fuse.md); rclone re-reads its cache.
    const bs: number[] = [];
    const br: number[] = [];
    for (let r = 0; r < rounds; r++) {
      bs.push(await seconds(`cat ${fileS} > /dev/null`));
      br.push(await seconds(`cat ${fileR} > /dev/null`));
    }
    const buffered = median(br) / median(bs);
    rows.push({
      metric: `warm seq read ${sizeMiB} MiB (cat), speed ÷ rclone vfs full`,
      strata: mbps(median(bs)),
      baseline: mbps(median(br)),
      ratio: buffered,
      target: '≥ 1.0',
      ok: buffered >= 1.0,
    });
    // The same bypassing every kernel cache: what the FUSE bridge itself delivers.
    const direct = (f: string) => `dd if=${f} of=/dev/null bs=1M iflag=direct status=none`;
    const ts: number[] = [];
    const tr: number[] = [];
    for (let r = 0; r < rounds; r++) {
      ts.push(await seconds(direct(fileS)));
      tr.push(await seconds(direct(fileR)));
    }
    rows.push({
      metric: `warm seq read ${sizeMiB} MiB (O_DIRECT), speed ÷ rclone vfs full`,
      strata: mbps(median(ts)),
      baseline: mbps(median(tr)),
      ratio: median(tr) / median(ts),
      target: '(info)',
      ok: true,
    });

    // fio random 256 KiB reads, 4 jobs, warm (second run), through the mount vs the local file.
    await fioMiBps(fileS, size);
    await fioMiBps(localFile, size);
    const fs1 = await fioMiBps(fileS, size);
    const fl1 = await fioMiBps(localFile, size);
    rows.push({
      metric: 'fio randread 256 KiB ×4 jobs warm, MiB/s ÷ local disk',
      strata: `${fs1.toFixed(0)} MiB/s`,
      baseline: `${fl1.toFixed(0)} MiB/s`,
      ratio: fs1 / fl1,
      target: '(ceiling 1.0)',
      ok: fs1 / fl1 > 0,
    });
    const fs2 = await fioMiBps(fileS, size, '--direct=1');
    const fl2 = await fioMiBps(localFile, size, '--direct=1');
    rows.push({
      metric: 'fio randread 256 KiB ×4 jobs O_DIRECT, MiB/s ÷ local disk',
      strata: `${fs2.toFixed(0)} MiB/s`,
      baseline: `${fl2.toFixed(0)} MiB/s`,
      ratio: fs2 / fl2,
      target: '(info)',
      ok: true,
    });

    return rows;
  } finally {
    await fuse?.stop().catch(() => undefined);
    await forceUnmount(mntS);
    if (rclone && rclone.exitCode === null) {
      await sh(`fusermount3 -u ${mntR}`, 20_000);
      rclone.kill('SIGTERM');
    }
    await forceUnmount(mntR);
    await local?.stop();
    await swift.stop();
    await tmp.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runFuseBench(process.argv.slice(2));
  printTable(`Strata FUSE benchmarks (${new Date().toISOString()})`, rows);
  process.stdout.write(`\nresults: ${await saveResults('fuse', rows)}\n`);
}
