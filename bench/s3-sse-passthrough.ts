/**
 * SSE passed on to an s3:// store: what it costs to read such objects. Two real `strata local`:
 * the origin (file:// store, its S3 gateway) and the front, whose bucket is an s3:// mount of the
 * origin's. An object PUT through the front with SSE-S3 is encrypted by the origin and read by the
 * front with NO_CACHE (no plaintext page kept), so every GET goes to the origin; a plain object
 * is served warm from the front's cache. Rows: front GET of the SSE-S3 object ÷ front warm GET of
 * the plain one (what not caching costs), and ÷ a GET straight from the origin (what the front
 * adds on the way), plus PUT SSE-S3 ÷ plain through the front. curl, runs interleaved.
 *
 * Usage: node dist/bench/s3-sse-passthrough.js [--size-mib 64]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCli, startLocal, tempDir } from '../test/helpers/local-process.js';
import { printTable, type Row, row } from './report.js';
import { median } from './util.js';

const KEY = 'AKIASSEPASSBENCH';
const SECRET = 'sse-pass-bench-secret';
const MiB = 1024 * 1024;

/** curl signed with SigV4; resolves with time_total in seconds (non-2xx: rejected). */
function curl(args: string[]): Promise<number> {
  return new Promise((ok, fail) => {
    const c = spawn('curl', [
      ...['-sS', '-o', '/dev/null', '-w', '%{http_code} %{time_total}'],
      ...['--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', `${KEY}:${SECRET}`],
      ...['-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', ...args],
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

export async function runS3SsePassthroughBench(argv: string[] = []): Promise<Row[]> {
  const { values } = parseArgs({ args: argv, options: { 'size-mib': { type: 'string' } } });
  const sizeMiB = Number(values['size-mib'] ?? 64);
  const tmp = await tempDir('bench-ssepass');
  const env = { STRATA_S3_ACCESS_KEY_ID: KEY, STRATA_S3_SECRET_ACCESS_KEY: SECRET };
  for (const d of ['origin-store', 'front-root']) await mkdir(join(tmp.dir, d));
  const origin = await startLocal(
    [
      ...['--data-dir', join(tmp.dir, 'origin-data'), '--mount', `/=file://${join(tmp.dir, 'origin-store')}`],
      ...['--s3-port', '0'],
    ],
    env,
  );
  const front = await startLocal(
    [
      ...['--data-dir', join(tmp.dir, 'front-data'), '--mount', `/=file://${join(tmp.dir, 'front-root')}`],
      ...['--s3-port', '0', '--memory-capacity', `${2 * sizeMiB + 64}MiB`],
    ],
    env,
  );
  try {
    const o = origin.ready.addresses.s3!;
    const f = front.ready.addresses.s3!;
    await curl(['-X', 'PUT', `${o}/lake`]);
    const mounted = await runCli(
      [
        ...['fs', 'mount', '/lake', 's3://lake/front', '--option', `endpoint=${o}`],
        ...['--option', `accessKeyId=${KEY}`, '--option', `secretAccessKey=${SECRET}`],
      ],
      { registry: front.registry },
    );
    if (mounted.code !== 0) throw new Error(`mount: ${mounted.stderr}`);
    const file = join(tmp.dir, 'object.bin');
    const fh = await open(file, 'w');
    for (let i = 0; i < sizeMiB; i++) await fh.write(randomBytes(MiB));
    await fh.close();
    const sse = ['-H', 'x-amz-server-side-encryption: AES256'];
    const puts = { plain: [] as number[], sse: [] as number[] };
    for (let r = 0; r < 3; r++) {
      puts.plain.push(sizeMiB / (await curl(['-T', file, `${f}/lake/plain`])));
      puts.sse.push(sizeMiB / (await curl(['-T', file, ...sse, `${f}/lake/sse`])));
    }
    const gets = { plain: [] as number[], sse: [] as number[], origin: [] as number[] };
    for (let r = 0; r < 6; r++) {
      const p = sizeMiB / (await curl([`${f}/lake/plain`]));
      const s = sizeMiB / (await curl([`${f}/lake/sse`]));
      const d = sizeMiB / (await curl([`${o}/lake/front/sse`]));
      if (r > 0) {
        // The first round warms the front's cache (the plain object) and the origin's.
        gets.plain.push(p);
        gets.sse.push(s);
        gets.origin.push(d);
      }
    }
    const mbs = (xs: number[]) => `${median(xs).toFixed(0)} MiB/s`;
    return [
      row(
        `PUT ${sizeMiB} MiB via the front, SSE-S3 passed on ÷ plain`,
        mbs(puts.sse),
        mbs(puts.plain),
        median(puts.sse) / median(puts.plain),
      ),
      row(
        `GET ${sizeMiB} MiB via the front, SSE-S3 (NO_CACHE, from the origin) ÷ plain (warm cache)`,
        mbs(gets.sse),
        mbs(gets.plain),
        median(gets.sse) / median(gets.plain),
      ),
      row(
        `GET ${sizeMiB} MiB SSE-S3, via the front ÷ straight from the origin`,
        mbs(gets.sse),
        mbs(gets.origin),
        median(gets.sse) / median(gets.origin),
      ),
    ];
  } finally {
    await front.stop();
    await origin.stop();
    await tmp.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  printTable('s3-sse-passthrough', await runS3SsePassthroughBench(process.argv.slice(2)));
