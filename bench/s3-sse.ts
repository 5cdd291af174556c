/**
 * Server-side encryption's cost through the S3 gateway of a real `strata local` (file:// store,
 * default tiers): a 256 MiB object PUT and read back warm (from the cache) with curl, plain and
 * SSE-S3 (AES256), runs interleaved. Ratios = encrypted ÷ plain throughput. The encrypted GET
 * decrypts every 64 KiB chunk in the gateway; the plain one hands cached pages over as they are.
 *
 * Usage: node dist/bench/s3-sse.js [--size-mib 256]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { localS3Args, startLocal, tempDir } from '../test/helpers/local-process.js';
import { printTable, type Row, row } from './report.js';
import { median } from './util.js';

const KEY = 'AKIASSEBENCH';
const SECRET = 'sse-bench-secret';
const MiB = 1024 * 1024;

/** curl signed with SigV4; resolves with time_total in seconds (non-2xx: rejected). */
function curl(args: string[]): Promise<number> {
  return new Promise((ok, fail) => {
    const c = spawn('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{time_total}',
      '--aws-sigv4',
      'aws:amz:us-east-1:s3',
      '--user',
      `${KEY}:${SECRET}`,
      '-H',
      'x-amz-content-sha256: UNSIGNED-PAYLOAD',
      ...args,
    ]);
    let out = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    c.on('error', fail);
    c.on('close', () => {
      const [status, seconds] = out.trim().split(' ');
      if (!status?.startsWith('2')) fail(new Error(`curl ${args.join(' ')}: HTTP ${status}`));
      else ok(Number(seconds));
    });
  });
}

export async function runS3SseBench(argv: string[] = []): Promise<Row[]> {
  const { values } = parseArgs({ args: argv, options: { 'size-mib': { type: 'string' } } });
  const sizeMiB = Number(values['size-mib'] ?? 256);
  const tmp = await tempDir('bench-sse');
  await mkdir(join(tmp.dir, 'store'));
  const local = await startLocal(
    [
      ...localS3Args(tmp.dir),
      '--memory-capacity',
      `${2 * sizeMiB + 64}MiB`,
      '--disk-capacity',
      `${4 * sizeMiB}MiB`,
    ],
    { STRATA_S3_ACCESS_KEY_ID: KEY, STRATA_S3_SECRET_ACCESS_KEY: SECRET },
  );
  try {
    const url = local.ready.addresses.s3!;
    const file = join(tmp.dir, 'object.bin');
    const fh = await open(file, 'w');
    for (let i = 0; i < sizeMiB; i++) await fh.write(randomBytes(MiB));
    await fh.close();
    await curl(['-X', 'PUT', `${url}/bench`]);
    const puts = { plain: [] as number[], sse: [] as number[] };
    const gets = { plain: [] as number[], sse: [] as number[] };
    const sse = ['-H', 'x-amz-server-side-encryption: AES256'];
    for (let r = 0; r < 3; r++) {
      puts.plain.push(sizeMiB / (await curl(['-T', file, `${url}/bench/plain`])));
      puts.sse.push(sizeMiB / (await curl(['-T', file, ...sse, `${url}/bench/sse`])));
    }
    for (let r = 0; r < 6; r++) {
      const p = sizeMiB / (await curl([`${url}/bench/plain`]));
      const s = sizeMiB / (await curl([`${url}/bench/sse`]));
      if (r > 0) {
        // The first round warms the cache.
        gets.plain.push(p);
        gets.sse.push(s);
      }
    }
    return [
      row(
        `PUT ${sizeMiB} MiB, SSE-S3 ÷ plain`,
        `${median(puts.sse).toFixed(0)} MiB/s`,
        `${median(puts.plain).toFixed(0)} MiB/s`,
        median(puts.sse) / median(puts.plain),
      ),
      row(
        `warm GET ${sizeMiB} MiB, SSE-S3 ÷ plain`,
        `${median(gets.sse).toFixed(0)} MiB/s`,
        `${median(gets.plain).toFixed(0)} MiB/s`,
        median(gets.sse) / median(gets.plain),
      ),
    ];
  } finally {
    await local.stop();
    await tmp.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  printTable('s3-sse', await runS3SseBench(process.argv.slice(2)));
